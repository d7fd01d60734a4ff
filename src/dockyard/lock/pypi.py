"""The PyPI side of the lock: `uv pip compile` for the TARGET interpreter and platform.

One call writes a pylock.toml (every artifact with URL and sha256, git
dependencies pinned to a commit); a second, offline call on the warm cache
gives uv's `# via` annotations, which are the dependency edges pylock lacks
(H4's CUDA analysis explains "torchvision 0.21 forces torch 2.6.0" with them).

uv reads the requirements from a throwaway pyproject.toml so that git, path
and URL sources and explicit index routing go through `[tool.uv.sources]` and
`[[tool.uv.index]]`, the way uv documents them. Credentials never pass
through here: URLs arrive stripped, and uv reads them from the environment
(`UV_INDEX_<NAME>_USERNAME`/`_PASSWORD`) or netrc, git from its helpers.
"""

from __future__ import annotations

import logging
import os
import re
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import tomli_w
from packaging.utils import canonicalize_name

from .. import lifecycle
from ..errors import LockError
from ..redact import redact, strip_credentials
from ..runner import Runner, SubprocessRunner, which
from ..spec import DependencyMetadata, Index, PypiRequirement
from .model import Artifact, LockedPackage

log = logging.getLogger(__name__)

PYPI_SIMPLE = "https://pypi.org/simple"
PYPI_FILES = "https://files.pythonhosted.org"  # where the default index keeps its files
_ARCH = {"linux-64": "x86_64", "linux-aarch64": "aarch64", "linux-ppc64le": "ppc64le"}
_PROJECT = "dockyard-resolve"


@dataclass(frozen=True, slots=True)
class Target:
    """The interpreter and platform uv resolves for (never the host's)."""

    python: str  # "3.12.11" or "3.12"
    platform: str = "linux-64"
    glibc: str = "2.28"

    def uv_platform(self) -> str:
        arch = _ARCH.get(self.platform)
        if arch is None:
            raise LockError(
                f"target platform {self.platform!r} is not supported for PyPI resolution",
                where="dockyard.toml (target.platform)",
                hint=f"use one of: {', '.join(sorted(_ARCH))}",
            )
        return f"{arch}-manylinux_{self.glibc.replace('.', '_')}"


@dataclass(frozen=True, slots=True)
class Request:
    """Everything one PyPI resolution needs, as plain data."""

    requirements: tuple[PypiRequirement, ...]
    target: Target
    constraints: tuple[str, ...] = ()  # PEP 508 lines for `-c`
    indexes: tuple[Index, ...] = ()
    routes: tuple[tuple[str, str], ...] = ()  # (package, index name)
    root: str = "."  # the project root, for path dependencies
    env: Mapping[str, str] = field(default_factory=dict)
    find_links: tuple[str, ...] = ()  # pip --find-links pages (URLs) or folders (relative)
    dependency_metadata: tuple[DependencyMetadata, ...] = ()  # the project's, for uv


def pyproject_for(request: Request) -> dict:
    """The throwaway pyproject.toml that carries requirements, sources and indexes to uv."""
    sources: dict[str, dict[str, str]] = {}
    deps: list[str] = []
    for req in request.requirements:
        plain = PypiRequirement(req.name, req.specifier, req.extras, req.marker)
        deps.append(plain.pep508())
        if req.git is not None:
            src = {"git": req.git.url}
            if req.git.ref and req.git.kind != "default":
                src[req.git.kind] = req.git.ref
            elif req.git.ref:
                src["rev"] = req.git.ref
            if req.git.subdirectory:
                src["subdirectory"] = req.git.subdirectory
            sources[req.name] = src
        elif req.url is not None:
            sources[req.name] = {"url": req.url}
        elif req.path is not None:
            sources[req.name] = {"path": str(Path(request.root, req.path).resolve())}
        elif req.index is not None:
            sources[req.name] = {"index": req.index}
    for name, index in request.routes:
        if name in {r.name for r in request.requirements}:
            sources.setdefault(canonicalize_name(name), {"index": index})
    doc: dict = {"project": {"name": _PROJECT, "version": "0", "dependencies": deps}}
    uv: dict = {}
    if sources:
        uv["sources"] = dict(sorted(sources.items()))
    if request.indexes:
        uv["index"] = [
            {k: v for k, v in (("name", i.name), ("url", i.url), ("explicit", i.explicit),
                               ("default", i.default)) if v}
            for i in request.indexes
        ]
    if uv:
        doc["tool"] = {"uv": uv}
    return doc


def build_python(version: str) -> str | None:
    """An interpreter of the target's minor version, only to build sdists and git deps.

    The resolution itself is for `--python-version`; without this, uv builds
    with whatever Python it finds (and a package requiring the target's Python
    fails to build). pyenv's shims are skipped: they refuse inactive versions.
    """
    minor = ".".join(version.split(".")[:2])
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv", "versions")
    found = sorted(root.glob(f"{minor}.*/bin/python{minor}"),
                   key=lambda p: [int(x) for x in re.findall(r"\d+", p.parts[-3])])
    if found:
        return str(found[-1])
    beside = which(f"python{minor}")
    return beside if beside and "/shims/" not in beside else None


def _base_args(uv: str, pyproject: Path, request: Request) -> list[str]:
    args = [uv, "pip", "compile", str(pyproject), "--python-version", request.target.python,
            "--python-platform", request.target.uv_platform(), "--quiet", "--no-header"]
    builder = build_python(request.target.python)
    if builder:
        args += ["--python", builder]
    if request.constraints:
        args += ["-c", str(pyproject.parent / "constraints.txt")]
    # `uv pip compile` takes [[tool.uv.index]] from the pyproject for routing only:
    # the indexes that serve every package go on the command line.
    for index in request.indexes:
        if index.default:
            args += ["--default-index", index.url]
        elif not index.explicit:
            args += ["--index", f"{index.name}={index.url}"]
    for link in request.find_links:
        args += ["--find-links", link if "://" in link else str(Path(request.root, link))]
    return args


def compile(
    request: Request,
    *,
    runner: Runner | None = None,
    on_line: Callable[[str], None] | None = None,
) -> tuple[LockedPackage, ...]:
    """Resolve `request` with uv; every package with its artifacts, commit and direct deps."""
    uv = which("uv")
    if uv is None:
        raise LockError("uv is not installed", hint="reinstall dockyard (uv is a dependency)")
    run = runner or SubprocessRunner()
    env = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1", **request.env}
    with lifecycle.temp_dir(prefix="dockyard-uv-") as work:
        # uv's own temporary files (sdist builds) go inside ours, so they leave with it
        (work / "tmp").mkdir()
        env["TMPDIR"] = str(work / "tmp")
        args = prepare(request, work, uv)
        start = time.perf_counter()
        done = run([*args, "--format", "pylock.toml", "-o", str(work / "pylock.toml")],
                   cwd=work, env=env, on_line=on_line)
        log.info("uv pip compile (pylock): %.2f s", time.perf_counter() - start)
        if not done.ok:
            raise _uv_error(_scrub(done.stderr or done.stdout, work), request)
        pylock = tomllib.loads((work / "pylock.toml").read_text())
        # The edges and index of each package: cheap, the cache is warm now.
        start = time.perf_counter()
        edges = [*args, "--annotation-style", "line", "--emit-index-annotation"]
        notes = run([*edges, "--offline"], cwd=work, env=env)
        if not notes.ok:  # something was not cached after all: ask the index again
            notes = run(edges, cwd=work, env=env)
        log.info("uv pip compile (edges, offline): %.2f s", time.perf_counter() - start)
        if not notes.ok:
            raise _uv_error(_scrub(notes.stderr or notes.stdout, work), request)
    return _relative_paths(packages_from(pylock, notes.stdout), request.root)


def _relative_paths(pkgs: tuple[LockedPackage, ...], root: str) -> tuple[LockedPackage, ...]:
    """Path dependencies as the lock keeps them: relative to the project, never this
    machine's absolute path (the lock travels)."""
    out = []
    for p in pkgs:
        if p.source.startswith("path:") and os.path.isabs(p.source[5:]):
            p = replace(p, source="path:" + Path(os.path.relpath(p.source[5:], root)).as_posix())
        out.append(p)
    return tuple(out)


_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*(?:==|@)\s*\S.*?"
                   r"(?:\s+#\s*via\s+(?P<via>.*))?$")


def parse_annotations(text: str) -> tuple[dict[str, set[str]], dict[str, str]]:
    """uv's `# via` and `# from` annotations -> (direct deps per package, index per package)."""
    depends: dict[str, set[str]] = {}
    index: dict[str, str] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("# from "):
            if current:
                index[current] = strip_credentials(line[len("# from "):].strip())
            continue
        if line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        current = canonicalize_name(m["name"])
        depends.setdefault(current, set())
        for parent in (m["via"] or "").split(","):
            parent = parent.strip()
            if not parent or parent.startswith("-") or parent.startswith(_PROJECT):
                continue
            depends.setdefault(canonicalize_name(parent.split()[0]), set()).add(current)
    return depends, index


def packages_from(pylock: dict, annotations: str = "") -> tuple[LockedPackage, ...]:
    """LockedPackages (owner pypi, no reason yet) from a pylock.toml document."""
    depends, index = parse_annotations(annotations)
    out = []
    for p in pylock.get("packages", []):
        name = canonicalize_name(p["name"])
        artifacts = [_artifact(w) for w in p.get("wheels", [])]
        if "sdist" in p:
            artifacts.append(_artifact(p["sdist"]))
        if "archive" in p:
            artifacts.append(_artifact(p["archive"]))
        commit, source = "", index.get(name, PYPI_SIMPLE)
        if "vcs" in p:
            commit = p["vcs"].get("commit-id", "")
            source = "git+" + strip_credentials(p["vcs"]["url"])
            if commit and p["vcs"].get("subdirectory"):
                source += f"#subdirectory={p['vcs']['subdirectory']}"
        elif "directory" in p:
            source = "path:" + p["directory"]["path"]
        elif "archive" in p:
            source = strip_credentials(p["archive"]["url"])
        out.append(LockedPackage(
            name=name, version=str(p.get("version", "")), owner="pypi", source=source,
            reason="", artifacts=tuple(artifacts), commit=commit,
            depends=tuple(sorted(depends.get(name, ()))),
        ))
    return tuple(sorted(out, key=lambda p: p.name))


def _artifact(entry: dict) -> Artifact:
    url = strip_credentials(entry["url"])
    return Artifact(url=url, sha256=entry.get("hashes", {}).get("sha256", ""),
                    filename=url.rsplit("/", 1)[-1].split("#", 1)[0])


_UNREACHABLE = ("Failed to fetch", "tcp connect error", "Connection refused", "dns error",
                "error sending request", "failed to lookup address", "Could not resolve host",
                "Name or service not known", "Temporary failure in name resolution",
                "Network is unreachable", "Connection timed out", "unable to access")
_SHOWN = 20
_BUILD_FAILED = re.compile(r"Failed to (?:download and )?build `([^`@ ]+) @ ([^`]+)`")
_LOCAL_BUILD = re.compile(r"\b([A-Za-z0-9_.-]+)(?:==|\s)v?([0-9][0-9.]*)"
                          r"\+(cu\d+|cpu|rocm[0-9.]+)\b")


def _scrub(text: str, work: Path) -> str:
    """uv names the throwaway files dockyard wrote for it; the user never saw them."""
    text = text.replace(str(work / "pyproject.toml"), "dockyard's request to uv")
    return text.replace(str(work), "dockyard's uv work folder")


def _uv_error(text: str, request: Request) -> LockError:
    """uv's explanation trimmed to its useful lines, with where and what to do.

    The whole of uv's message goes to the log (`dockyard -v lock` shows it)."""
    log.info("uv's message:\n%s", redact(text))
    lines = [redact(x.rstrip()) for x in text.splitlines() if x.strip()]
    lines = [x for x in lines if not x.lstrip().startswith(("warning:", "Updating", "Updated",
                                                           "Resolved", "Building", "Built"))]
    body = "\n".join(lines[:_SHOWN]) or "uv failed without a message"
    body = body.replace(f"{_PROJECT}", "the project")
    more = (f" ({len(lines) - _SHOWN} more lines of uv's message: `dockyard lock -v` logs "
            "them)") if len(lines) > _SHOWN else ""
    where = None
    for req in request.requirements:
        if re.search(rf"\b{re.escape(req.name)}\b", body, re.IGNORECASE):
            where = str(req.origin)
            break
    built = _BUILD_FAILED.search(text)
    if "Git operation failed" in text or "git fetch" in text:
        what = f" {built[1]} ({redact(built[2])})" if built else ""
        git_says = [x.strip() for x in lines if x.strip().startswith(("fatal:", "remote:"))]
        reason = ("unreachable" if any(m in text for m in _UNREACHABLE)
                  else f"git failed: {git_says[-1]}" if git_says else "git failed")
        return LockError(
            f"uv could not fetch{what} from git ({reason}):\n{body}", where=where,
            hint="check the repository URL, that the commit exists there, and the network; "
                 f"git reads credentials from its credential helpers or ~/.netrc{more}")
    if any(marker in body for marker in _UNREACHABLE):
        return LockError(
            f"a package index is unreachable:\n{body}",
            where=where,
            hint="check the index URLs in pyproject.toml / dockyard.toml and the network; "
                 f"credentials come from UV_INDEX_<NAME>_USERNAME/_PASSWORD or ~/.netrc{more}",
        )
    if built:
        name, where_from = built[1], redact(built[2])
        tail = "\n".join(lines[-8:]) if len(lines) > 14 else ""
        head = "\n".join(lines[:6] if tail else lines[:_SHOWN])
        shown = f"{head}\n  ...\n{tail}" if tail else head
        kind = ("a path dependency" if where_from.startswith("file:") else
                "a git dependency" if where_from.startswith("git+") else "an sdist")
        return LockError(
            f"uv could not build {name} ({kind}, {where_from}) to read its metadata:\n"
            f"{shown}", where=where,
            hint="the build backend failed: check that the folder or repository holds the "
                 "package's sources (a version read from a file that is not there, or a "
                 "build requirement missing, are the usual causes)"
                 + ("; `dockyard lock -v` logs uv's whole message" if tail else ""))
    local = _LOCAL_BUILD.search(body)
    if local and not request.indexes:
        build = local[3]
        return LockError(
            f"{local[1]} {local[2]}+{build} is a PyTorch build that only the PyTorch index "
            f"has, and no index is declared:\n{body}", where=where,
            hint=f"add `--extra-index-url https://download.pytorch.org/whl/{build}` to the "
                 "requirements file, or declare it in dockyard.toml ([[index]] name = "
                 f'"pytorch-{build}", url = "https://download.pytorch.org/whl/{build}", '
                 f'explicit = true; [routes] {local[1]} = "pytorch-{build}"){more}')
    if "not found in the package registry" in body or "was not found in" in body:
        return LockError(
            f"a package is not on the PyPI indexes:\n{body}",
            where=where,
            hint="check the package name, or route it to the index that has it "
                 f"([routes] in dockyard.toml){more}",
        )
    if "No solution found" in body or "unsatisfiable" in body:
        return LockError(
            f"the PyPI requirements cannot be satisfied together:\n{body}",
            where=where,
            hint="relax the conflicting constraints (pyproject.toml, or [install] constraints "
                 "in dockyard.toml); a pin from the project's lock can be lifted with "
                 f"[install] unpin = [\"NAME\"]{more}",
        )
    return LockError(f"uv pip compile failed:\n{body}", where=where,
                     hint=f"see uv's message above{more}" if more else
                     "see uv's message above")


def uv_settings(request: Request) -> dict:
    """Settings uv reads from a config file, not from the requirements' pyproject: the
    project's `[[tool.uv.dependency-metadata]]` (what cannot be built to be read)."""
    if not request.dependency_metadata:
        return {}
    return {"dependency-metadata": [
        {k: v for k, v in (("name", m.name), ("version", m.version),
                           ("requires-dist", list(m.requires_dist)),
                           ("requires-python", m.requires_python)) if v}
        for m in request.dependency_metadata]}


def prepare(request: Request, work: Path, uv: str | None = None) -> list[str]:
    """Write uv's inputs into `work`; the `uv pip compile` command line that reads them.

    Public for the benchmark, and for anyone who wants to rerun what dockyard asked uv.
    """
    (work / "pyproject.toml").write_text(tomli_w.dumps(pyproject_for(request)))
    if request.constraints:
        (work / "constraints.txt").write_text("\n".join(request.constraints) + "\n")
    args = _base_args(uv or which("uv") or "uv", work / "pyproject.toml", request)
    settings = uv_settings(request)
    if settings:  # an explicit --config-file is read even with UV_NO_CONFIG
        (work / "uv.toml").write_text(tomli_w.dumps(settings))
        args += ["--config-file", str(work / "uv.toml")]
    return args


__all__ = ["PYPI_FILES", "PYPI_SIMPLE", "Request", "Target", "compile", "packages_from",
           "parse_annotations", "prepare", "pyproject_for"]
