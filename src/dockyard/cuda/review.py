"""Lock-time CUDA review: do the GPU packages agree with the platform's CUDA?

`review_lock(lock, spec, metadata=...)` is pure over its injected metadata
fetcher. For every GPU package that disagrees with the target it gives the
chain of reasons (which constraint forced which version, which wheel brings
which runtime) and the fixes, each as lines to paste into dockyard.toml or
the one line of a project file to change. `check_lock` is what `dockyard lock`
calls: it raises `CudaMismatchError` unless the mismatch is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ..errors import CudaMismatchError
from ..lock.model import Lock, LockedPackage, Note
from ..spec import ProjectSpec
from . import facts
from .metadata import MetadataFetcher, applies_to, parse_metadata
from .needs import Need, needs_from_lock


@dataclass(frozen=True, slots=True)
class Fix:
    summary: str  # what it does, in one sentence
    file: str  # where the lines go: "dockyard.toml", or "pyproject.toml:42"
    text: str  # the lines to paste (or the replacement line)


@dataclass(frozen=True, slots=True)
class Finding:
    package: str
    version: str
    cuda: str  # what the package needs or brings
    target: str
    severity: Literal["error", "warning"]
    problem: str  # one line
    chain: tuple[str, ...] = ()  # why, from the project's constraint down to the runtime
    fixes: tuple[Fix, ...] = ()


@dataclass(frozen=True, slots=True)
class CudaReview:
    target: str | None  # "12.6", or None when neither dockyard.toml nor the base says
    target_origin: str  # "dockyard.toml ([target] cuda)", "base image (CUDA_VERSION)"
    needs: tuple[Need, ...] = ()
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def ok(self) -> bool:
        return not self.errors

    def report(self, *, header: bool = True) -> str:
        """The human report: what disagrees, why, and what to paste where."""
        lines: list[str] = []
        if self.target and header:
            lines.append(f"target CUDA {self.target} (from {self.target_origin})")
        lines.extend(f"note: {n}" for n in self.notes)
        for f in self.findings:
            lines.append(f"{f.severity}: {f.problem}" if header else f"- {f.problem}")
            lines.extend(f"  why: {step}" for step in f.chain)
            for i, fix in enumerate(f.fixes, 1):
                lines.append(f"  fix {i}: {fix.summary}")
                lines.append(f"    in {fix.file}:")
                lines.extend(f"      {t}" for t in fix.text.splitlines())
        return "\n".join(lines)


# -- target ---------------------------------------------------------------------------------


def cuda_target(settings_cuda: str | None, base_cuda: str | None,
                settings_origin: str = "dockyard.toml") -> tuple[str | None, str, tuple[str, ...]]:
    """(target, where it comes from, notes). dockyard.toml wins; a disagreement is a note."""
    base = facts.major_minor(base_cuda) if base_cuda else None
    if settings_cuda:
        notes: tuple[str, ...] = ()
        if base and base != facts.major_minor(settings_cuda):
            notes = (f"{settings_origin} says cuda = {settings_cuda!r} but the base image "
                     f"has CUDA {base}; the image will declare CUDA {settings_cuda}",)
        return facts.major_minor(settings_cuda), f"{settings_origin} ([target] cuda)", notes
    if base:
        return base, "the base image", ()
    return None, "", ()


def base_cuda_of(cuda_facts: object) -> str | None:
    """The base image's CUDA from the probe: CUDA_VERSION / version.json, else libcudart's name.

    `libcudart.so.12.6.77` says 12.6; a bare `libcudart.so.12` says only the major: None.
    """
    version = getattr(cuda_facts, "version", "") or ""
    if version:
        return facts.major_minor(version)
    for path in getattr(cuda_facts, "cudart", ()) or ():
        m = re.search(r"libcudart\.so\.(\d+)\.(\d+)", path)
        if m:
            return f"{m[1]}.{m[2]}"
    return None


def _agrees(need: str, target: str) -> bool:
    if "." not in need:  # only the major is known (cupy-cuda12x)
        return need == target.split(".", 1)[0]
    return need == target


# -- the review -----------------------------------------------------------------------------


def review_lock(lock: Lock, spec: ProjectSpec, *, metadata: MetadataFetcher | None = None,
                base_cuda: str | None = None) -> CudaReview:
    settings = spec.settings
    target, origin, notes = cuda_target(settings.cuda, base_cuda, str(settings.origin.file))
    needs = needs_from_lock(lock, metadata)
    if target is None:
        cudas = sorted({n.cuda for n in needs if n.root})
        if len(cudas) > 1:
            notes += (f"no target CUDA set and the GPU packages disagree: {', '.join(cudas)}",)
        elif cudas:
            notes += (f"no target CUDA set; the GPU packages need CUDA {cudas[0]}",)
        return CudaReview(None, "", needs, (), notes)
    ctx = _Context(lock, spec, metadata, target)
    findings: list[Finding] = []
    bad_roots = [n for n in needs if n.root and not _agrees(n.cuda, target)]
    explained = {n.cuda for n in bad_roots if n.exact}
    handled_torch = False
    for need in bad_roots:
        if need.package in facts.TORCH_FAMILY:
            if handled_torch:
                continue
            handled_torch = True
            findings.append(ctx.torch_finding(need, needs))
        elif facts.CUPY_NAME.match(need.package) or facts.JAX_NAME.match(need.package):
            findings.append(ctx.renamed_finding(need))
        else:
            findings.append(ctx.conda_finding(need))
    for need in needs:
        if need.root or _agrees(need.cuda, target):
            continue
        if need.cuda in explained or (not need.exact and any(
                c.split(".")[0] == need.cuda for c in explained)):
            continue  # the runtime of a package already reported
        findings.append(ctx.library_finding(need))
    return CudaReview(target, origin, needs, tuple(findings), notes)


def check_lock(lock: Lock, spec: ProjectSpec, *, metadata: MetadataFetcher | None = None,
               base_cuda: str | None = None, accept: bool = False) -> tuple[Lock, CudaReview]:
    """Review, then raise `CudaMismatchError` or return the lock with its target and notes."""
    review = review_lock(lock, spec, metadata=metadata, base_cuda=base_cuda)
    accept = accept or spec.settings.accept_cuda_mismatch
    if review.errors and not accept:
        first = review.errors[0]
        raise CudaMismatchError(
            f"the locked GPU packages disagree with the target CUDA {review.target} "
            f"(from {review.target_origin}):\n" + review.report(header=False),
            where=str(spec.settings.origin.file) + " ([target] cuda)",
            hint=(first.fixes[0].summary if first.fixes else "change the GPU requirements")
            + "; or lock anyway with `[cuda] accept-mismatch = true` / --accept-cuda-mismatch",
        )
    return lock_with_review(lock, review), review


def lock_with_review(lock: Lock, review: CudaReview) -> Lock:
    notes = [Note("*", f"CUDA: {n}") for n in review.notes]
    for f in review.findings:
        text = f"{f.problem} (accepted)" if f.severity == "error" else f.problem
        notes.append(Note(f.package, "CUDA: " + "; ".join((text, *f.chain))))
    target = lock.target
    if review.target:
        target = replace(target, cuda=review.target)
    return replace(lock, target=target, notes=lock.notes + tuple(notes))


# -- reasons and fixes ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Constraint:
    on: str  # the package constrained
    specifier: str
    by: str  # "pyproject.toml:42 (project.dependencies)", "torchvision 0.21.0", "poetry.lock"
    kind: Literal["project", "settings", "pin", "package", "table"]
    text: str  # as written: "torchvision>=0.21.0,<0.22.0"


@dataclass
class _Context:
    lock: Lock
    spec: ProjectSpec
    metadata: MetadataFetcher | None
    target: str
    _meta: dict[tuple[str, str], object] = field(default_factory=dict)

    # constraints ------------------------------------------------------------------------

    def constraints_on(self, name: str) -> list[_Constraint]:
        out: list[_Constraint] = []
        settings = self.spec.settings
        for pr in (*self.spec.pypi, *self.spec.conda_pip, *self.spec.constraints):
            if pr.name == name and self._active(pr.group):
                out.append(_Constraint(name, pr.specifier, str(pr.origin), "project",
                                       _show(pr.name, pr.specifier)))
        for text in settings.constraints:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if _canon(req.name) == name:
                out.append(_Constraint(name, str(req.specifier),
                                       f"{settings.origin.file} ([install] constraints)",
                                       "settings", text))
        if settings.honour_project_lock:
            for pin in self.spec.pins:
                if pin.name == name:
                    out.append(_Constraint(name, f"=={pin.version}", pin.source, "pin",
                                           f"{name}=={pin.version}"))
        for pkg in self._dependents(name):
            edge = self._requirement(pkg, name)
            if edge is not None:
                out.append(_Constraint(name, str(edge.specifier), f"{pkg.name} {pkg.version}",
                                       "package", f"{name}{edge.specifier}"))
                continue
            row = facts.torch_release_of(pkg.name, pkg.version) \
                if name == "torch" and pkg.name in facts.TORCH_FAMILY else None
            if row is not None:  # no metadata at hand: the table knows the pairing
                out.append(_Constraint(name, f"=={row.torch}.*", f"{pkg.name} {pkg.version}",
                                       "table", f"torch {row.torch}.x"))
        return out

    def _active(self, group: str) -> bool:
        settings = self.spec.settings
        if group == "main":
            return True
        if group.startswith("extra:"):
            return group[len("extra:"):] in settings.extras
        return group in settings.groups or group not in self.spec.optional_groups

    def _dependents(self, name: str) -> Iterable[LockedPackage]:
        for pkg in self.lock.packages:
            if pkg.owner != "pypi" or pkg.name == name:
                continue
            if name in {_canon(d.split(" ", 1)[0]) for d in pkg.depends} or (
                    not pkg.depends and pkg.name in facts.TORCH_FAMILY):
                yield pkg

    def _requirement(self, pkg: LockedPackage, name: str) -> Requirement | None:
        if self.metadata is None:
            return None
        key = (pkg.name, pkg.version)
        if key not in self._meta:
            text = self.metadata(pkg)
            self._meta[key] = parse_metadata(text) if text else None
        meta = self._meta[key]
        if meta is None:
            return None
        for req in meta.requires:  # type: ignore[attr-defined]
            if _canon(req.name) == name and applies_to(req, self.lock.target) \
                    and "extra" not in str(req.marker or ""):
                return req
        return None

    # torch ------------------------------------------------------------------------------

    def torch_finding(self, need: Need, needs: tuple[Need, ...]) -> Finding:
        target = self.target
        family = {n.package: n for n in needs if n.package in facts.TORCH_FAMILY}
        torch = self.lock.get("torch")
        wanted = facts.torch_for_cuda(target)
        names = ", ".join(f"{n.package} {n.version}" for n in family.values())
        cudas = sorted({n.cuda for n in family.values()})
        problem = (f"{names} bring{'s' if len(family) == 1 else ''} CUDA {' and '.join(cudas)}; "
                   f"the target is CUDA {target}")
        if need.cuda.split(".")[0] != target.split(".")[0]:
            problem += " (another major version: it cannot run as the platform expects)"
        chain: list[str] = []
        binding: list[_Constraint] = []
        if torch is not None and torch.owner == "pypi":
            chain, binding = self._why("torch", torch.version, [r.torch for r in wanted])
        torch_need = family.get("torch")
        for n in family.values():
            if _agrees(n.cuda, target):
                continue
            if n is torch_need or torch_need is None or n.cuda != torch_need.cuda:
                chain.append(n.evidence)
        chain.append(f"the target is CUDA {target}")
        fixes = self._torch_fixes(family, binding, wanted)
        return Finding(need.package, need.version, need.cuda, target, "error", problem,
                       tuple(_dedupe(chain)), tuple(fixes))

    def _why(self, name: str, version: str, wanted_lines: list[str],
             depth: int = 0) -> tuple[list[str], list[_Constraint]]:
        """Which constraints on `name` exclude every wanted release line, recursively."""
        if not wanted_lines or depth > 3:
            return [], []
        chain: list[str] = []
        binding: list[_Constraint] = []
        what = " / ".join(f"{name} {line}" for line in wanted_lines)
        for c in self.constraints_on(name):
            if not _excludes(c.specifier, wanted_lines):
                continue
            binding.append(c)
            if c.kind in ("package", "table"):
                dep_name, dep_version = c.by.rsplit(" ", 1)
                dep_wanted = _companion_lines(dep_name, name, wanted_lines)
                sub_chain, sub_binding = self._why(dep_name, dep_version, dep_wanted, depth + 1)
                chain.extend(sub_chain)
                binding.extend(sub_binding)
                chain.append(f"{c.by} requires {c.text}" if c.kind == "package" else
                             f"{c.by} is built for {c.text} (dockyard's table)")
            elif c.kind == "pin":
                chain.append(f"{c.by} pins {c.text} and [install] honour-project-lock is on, "
                             f"which excludes {what}")
            else:
                chain.append(f"{c.by} `{c.text}` excludes {what}{self._context(name, wanted_lines)}"
                             f", so {name} {version} is locked")
        if not binding:
            locked = Version(version.split("+", 1)[0]) if _is_version(version) else None
            newer = locked is not None and all(
                locked > Version(f"{line}.99") for line in wanted_lines)
            if newer:
                chain.append(f"nothing caps {name}, so the newest allowed, {name} {version}, "
                             "was locked")
            else:
                chain.append(f"no constraint of the project excludes {what}; the resolver chose "
                             f"{name} {version}")
        return chain, binding

    def _context(self, name: str, lines: list[str]) -> str:
        if name == "torchvision":
            rows = [r for r in facts.TORCH_RELEASES if r.torchvision in lines]
        elif name in ("torch", "torchaudio"):
            rows = [r for r in facts.TORCH_RELEASES if r.torch in lines]
        else:
            return ""
        rows = [r for r in rows if r.cuda == self.target]
        if not rows:
            return ""
        return f" (the release for torch {rows[-1].torch}, whose PyPI wheel brings CUDA " \
               f"{self.target})" if name == "torchvision" else \
               f" (whose PyPI wheel brings CUDA {self.target})"

    def _torch_fixes(self, family: dict[str, Need], binding: list[_Constraint],
                     wanted: tuple[facts.TorchRelease, ...]) -> list[Fix]:
        target = self.target
        fixes: list[Fix] = []
        torch = family.get("torch")
        torch_version = torch.version.split("+", 1)[0] if torch else ""
        row = facts.torch_release(torch_version) if torch_version else None
        routed = [name for name in family if name in facts.TORCH_FAMILY]
        index_name, index_url = facts.pytorch_index(target)
        if row is not None and (target in row.pytorch_index or not row.pytorch_index):
            caveat = "" if row.pytorch_index else (
                f" (dockyard does not know whether torch {row.torch} has a cu"
                f"{target.replace('.', '')} build there: check {index_url}/torch/)")
            fixes.append(Fix(
                f"keep {', '.join(f'{n} {family[n].version}' for n in routed)} and take their "
                f"CUDA {target} builds (+cu{target.replace('.', '')}) from the PyTorch index"
                + caveat + _replaces(self.spec.settings.routes, "[routes]"),
                "dockyard.toml",
                _route_toml(index_name, index_url, routed, self.spec),
            ))
        if wanted:
            line = wanted[0]
            relax_project = [c for c in binding if c.kind == "project"]
            relax_settings = [c for c in binding if c.kind == "settings"]
            pins = [c for c in binding if c.kind == "pin"]
            narrow = [f"torch>={line.torch},<{_next_line(line.torch)}"]
            if "torchvision" in family:
                narrow.append(f"torchvision>={line.torchvision},<{_next_line(line.torchvision)}")
            if "torchaudio" in family:
                narrow.append(f"torchaudio>={line.torch},<{_next_line(line.torch)}")
            for c in relax_project:
                new_line = (line.torch if c.on in ("torch", "torchaudio") else line.torchvision)
                fixes.append(Fix(
                    f"allow {c.on} {new_line} (torch {line.torch}, whose PyPI wheel brings CUDA "
                    f"{line.cuda}): dockyard.toml [install] constraints can only narrow a "
                    "project's requirement, never widen it, so the project's file must change "
                    "(or use the route above)",
                    c.by.split(" ", 1)[0],
                    f"{c.text}  ->  {c.on}>={new_line},<{_next_line(new_line)}",
                ))
            for c in relax_settings:
                fixes.append(Fix(
                    f"drop or widen the constraint `{c.text}` that excludes torch {line.torch}",
                    c.by.split(" ", 1)[0], f"{c.text}  ->  (remove)"))
            if pins:
                names = sorted({c.on for c in pins} | set(self.spec.settings.unpin))
                fixes.append(Fix(
                    "let the resolver move off "
                    + ", ".join(f"{c.by}'s {c.text}" for c in pins)
                    + " (the other pins of the project's lock still bind)",
                    "dockyard.toml", "[install]\nunpin = [" + ", ".join(
                        f'"{n}"' for n in names) + "]"))
            relaxed = bool(relax_project or relax_settings or pins)
            # narrowing alone fixes it when nothing of the project binds
            fixes.append(Fix(
                ("then keep torch on the CUDA " if relaxed else "keep torch on the CUDA ")
                + f"{line.cuda} release line from PyPI (narrowing is what [install] "
                "constraints can do)" + _replaces(self.spec.settings.constraints, "[install]"),
                "dockyard.toml",
                "[install]\nconstraints = [" + ", ".join(
                    f'"{t}"' for t in (*self.spec.settings.constraints, *narrow)) + "]",
            ))
        # one fix per distinct change: two constraints on one line give one fix, not two
        return list({(f.file, f.text): f for f in fixes}.values())

    # cupy, jax --------------------------------------------------------------------------

    def renamed_finding(self, need: Need) -> Finding:
        major = self.target.split(".", 1)[0]
        if facts.CUPY_NAME.match(need.package):
            good = f"cupy-cuda{major}x"
        else:
            good = need.package.replace(f"cuda{need.cuda.split('.')[0]}", f"cuda{major}")
        chain = [need.evidence, *self._asked_by(need.package), f"the target is CUDA {self.target}"]
        fixes = []
        for req in self._project_requirements(need.package):
            fixes.append(Fix(f"ask for {good} instead (dockyard.toml cannot rename a "
                             "project's requirement: the project's file must change)",
                             str(req.origin).split(" ", 1)[0],
                             f"{req.pep508()}  ->  {req.pep508().replace(need.package, good, 1)}"))
        if not fixes:
            fixes.append(Fix(f"require {good} instead of {need.package} where it is asked for",
                             "the project's dependencies", good))
        return Finding(need.package, need.version, need.cuda, self.target, "error",
                       f"{need.package} {need.version} is built for CUDA {need.cuda}.x; the "
                       f"target is CUDA {self.target}: use {good}",
                       tuple(_dedupe(chain)), tuple(fixes))

    def _project_requirements(self, name: str):
        return [r for r in (*self.spec.pypi, *self.spec.conda_pip)
                if r.name == name and self._active(r.group)]

    def _asked_by(self, name: str) -> list[str]:
        out = [f"{r.origin} asks for `{r.pep508()}`" for r in self._project_requirements(name)]
        for pkg in self.lock.packages:
            if name in {_canon(d.split(" ", 1)[0]) for d in pkg.depends}:
                out.append(f"{pkg.name} {pkg.version} depends on {name}")
        locked = self.lock.get(name)
        if not out and locked is not None and locked.reason:
            out.append(f"locked because: {locked.reason}")
        return out

    # conda and stray libraries ----------------------------------------------------------

    def conda_finding(self, need: Need) -> Finding:
        target = self.target
        chain = [need.evidence, *self._asked_by(need.package), f"the target is CUDA {target}"]
        from .conda import conda_specs

        pins = "\n".join(f"- {s}" for s in conda_specs(target))
        if need.package == "cudatoolkit":
            problem = (f"conda cudatoolkit {need.version} is the legacy CUDA {need.cuda} toolkit "
                       f"(it stops at {facts.CONDA_LEGACY_TOOLKIT_MAX}); the target is CUDA "
                       f"{target}")
            fixes = (Fix("drop cudatoolkit; CUDA 12+ comes split (cuda-cudart, libcublas, ...) "
                         "and is pinned by cuda-version", "environment.yml (dependencies)",
                         pins),)
        else:
            problem = f"conda {need.package} {need.version} needs CUDA {need.cuda}; " \
                      f"the target is CUDA {target}"
            build = f"={need.package}=*=cuda{target.replace('.', '')}*" \
                if need.package not in ("cuda-version",) else ""
            fixes = (Fix(f"pin the conda side to CUDA {target}"
                         + (f" and ask for a cuda{target.replace('.', '')} build" if build else ""),
                         "environment.yml (dependencies)",
                         pins + (f"\n- {need.package}=*=cuda{target.replace('.', '')}*"
                                 if build else "")),)
        return Finding(need.package, need.version, need.cuda, target, "error", problem,
                       tuple(_dedupe(chain)), fixes)

    def library_finding(self, need: Need) -> Finding:
        chain = [need.evidence, *self._asked_by(need.package), f"the target is CUDA {self.target}"]
        fixes = []
        major = self.target.split(".")[0]
        same_family = (need.package.endswith(f"-cu{major}") or need.package == "cuda-toolkit"
                       or (need.package == "nvidia-cuda-runtime" and int(major) >= 13))
        if need.owner == "pypi" and need.package in facts.CUDA_VERSIONED and same_family:
            pin = f"{need.package}>={self.target},<{_next_line(self.target)}"
            fixes.append(Fix(
                f"keep {need.package} on the CUDA {self.target} line, if the packages that "
                "depend on it allow it (narrowing is what [install] constraints can do)"
                + _replaces(self.spec.settings.constraints, "[install]"),
                "dockyard.toml",
                "[install]\nconstraints = [" + ", ".join(
                    f'"{t}"' for t in (*self.spec.settings.constraints, pin)) + "]"))
        return Finding(need.package, need.version, need.cuda, self.target, "error",
                       f"{need.package} {need.version} is a CUDA {need.cuda} library; the target "
                       f"is CUDA {self.target}", tuple(_dedupe(chain)), tuple(fixes))


# -- helpers --------------------------------------------------------------------------------


def _replaces(existing: tuple, table: str) -> str:
    """Pasted lines must not open a TOML table twice: say when they replace the user's."""
    return f" (these lines replace that part of your {table} table)" if existing else ""


def _route_toml(index_name: str, index_url: str, names: list[str], spec: ProjectSpec) -> str:
    lines = []
    if not any(i.name == index_name for i in spec.settings.indexes):
        lines += ["[[index]]", f'name = "{index_name}"', f'url = "{index_url}"',
                  "explicit = true", ""]
    routes = dict(spec.settings.routes)
    routes.update({n: index_name for n in names})
    lines.append("[routes]")
    lines += [f'{n} = "{i}"' for n, i in sorted(routes.items())]
    return "\n".join(lines)


def _companion_lines(dep: str, name: str, lines: list[str]) -> list[str]:
    """Release lines of `dep` that go with the wanted lines of `name` (torch family only)."""
    if name != "torch":
        return []
    out = []
    for line in lines:
        row = facts.torch_release(line)
        if row is None:
            continue
        if dep == "torchvision":
            out.append(row.torchvision)
        elif dep == "torchaudio":
            out.append(row.torch)
    return out


def _excludes(specifier: str, lines: list[str]) -> bool:
    try:
        spec = SpecifierSet(specifier)
    except InvalidSpecifier:
        return False
    if not str(spec):
        return False
    candidates = [f"{line}.{patch}" for line in lines for patch in range(0, 10)]
    return not any(spec.contains(c, prereleases=False) for c in candidates)


def _show(name: str, specifier: str) -> str:
    """`torchvision>=0.21.0,<0.22.0`: lower bounds first, as people write them."""
    order = {">": 0, ">=": 0, "~=": 1, "==": 1, "===": 1, "!=": 2, "<": 3, "<=": 3}
    try:
        parts = sorted(SpecifierSet(specifier), key=lambda s: (order.get(s.operator, 4), s.version))
    except InvalidSpecifier:
        return name + specifier
    return name + ",".join(str(p) for p in parts)


def _next_line(line: str) -> str:
    major, minor = line.split(".")[:2]
    return f"{major}.{int(minor) + 1}"


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


__all__ = ["CudaReview", "Finding", "Fix", "base_cuda_of", "check_lock", "cuda_target",
           "lock_with_review", "review_lock"]
