"""Inventory -> Findings (pure). Each check is a function of the inventory and the policy.

Severities: "error" breaks the platform contract or leaks a credential,
"warning" costs bytes or risks a wrong runtime, "info" is worth knowing.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Callable, Iterable

from .inventory import env_of
from .model import SEVERITIES, Distribution, Finding, Inventory, Policy, SecretHit
from .units import human

MIN_DUPLICATE = 256 * 1024
ROOT_USERS = ("", "0", "root")
JUPYTER = {"jupyterlab", "notebook", "jupyter-server", "jupyter-core", "ipykernel"}


def run_checks(inv: Inventory, policy: Policy) -> tuple[Finding, ...]:
    found: list[Finding] = []
    for check in CHECKS:
        found.extend(check(inv, policy))
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return tuple(sorted(found, key=lambda f: (-rank[f.severity], -f.size, f.code, f.title)))


def _app_envs(inv: Inventory) -> set[str]:
    return {e.prefix for e in inv.environments if not e.from_base}


def duplicate_distributions(inv: Inventory, policy: Policy) -> Iterable[Finding]:
    groups: dict[str, list[Distribution]] = defaultdict(list)
    for d in inv.distributions:
        groups[d.name].append(d)
    app = _app_envs(inv)
    shared: list[tuple[str, list[Distribution]]] = []   # in the base's env and one app env
    for name, copies in sorted(groups.items()):
        if len(copies) < 2:
            continue
        copies.sort(key=lambda d: (-d.size, d.env, d.where))
        per_env: dict[str, list[Distribution]] = defaultdict(list)
        for d in copies:
            per_env[d.env].append(d)
        details = tuple(_copy(d) for d in copies)
        twice = [env for env, ds in per_env.items() if len(ds) > 1]
        extra = sum(d.size for d in copies[1:])
        if twice:
            yield Finding(
                "duplicate-distribution", "error",
                f"{name} is installed twice in {', '.join(twice)} "
                f"({' and '.join(sorted({d.installer for d in per_env[twice[0]]}))})",
                extra, tuple(d.where for d in copies),
                "give each package one owner: install it with conda or with pip, not both "
                "(dockyard lock keeps one owner per package)", details)
        elif sum(1 for env in per_env if env in app) > 1:
            yield Finding(
                "duplicate-distribution", "warning",
                f"{name} is installed in {len(per_env)} environments",
                extra, tuple(d.where for d in copies),
                "install the app's packages into one environment, not system Python "
                "+ conda + venv", details)
        else:
            shared.append((name, copies))
    if shared:
        size = sum(sum(d.size for d in copies[1:]) for _, copies in shared)
        yield Finding(
            "duplicate-distribution", "info",
            f"{len(shared)} packages of the base's environments are also in the app's",
            size, tuple(d.where for _, copies in shared for d in copies),
            "expected when the app needs its own interpreter (a kernel needs ipykernel and "
            "its dependencies); otherwise install into the base's environment",
            tuple(f"{name}: " + "; ".join(f"{d.version} in {d.env} ({human(d.size)})"
                                          for d in copies) for name, copies in shared))


def _copy(d: Distribution) -> str:
    return (f"{d.name} {d.version} in {d.env or '/'} ({d.installer}, {human(d.size)}, "
            f"layer {d.layer}): {d.where}")


def duplicate_files(inv: Inventory, policy: Policy) -> Iterable[Finding]:
    groups: dict[str, list[str]] = defaultdict(list)
    for path, (size, _, sha) in inv.files.items():
        if sha and size >= MIN_DUPLICATE and (".so" in posixpath.basename(path)
                                              or size >= (1 << 20)):
            groups[sha].append(path)
    for paths in groups.values():
        if len(paths) < 2:
            continue
        owners = {inv.owners.get(p) for p in paths}
        if len(owners) == 1 and None not in owners:
            continue   # one package installed several times: duplicate-distribution says it
        paths.sort()
        size = inv.files[paths[0]][0]
        who = [f"{p} ({_owner(inv, p)}, layer {inv.files[p][1]})" for p in paths]
        yield Finding(
            "duplicate-file", "warning",
            f"{posixpath.basename(paths[0])} ({human(size)}) is in the image {len(paths)} times",
            size * (len(paths) - 1), tuple(paths),
            "keep one copy: use the base's CUDA toolkit or the nvidia-* wheels, not both "
            "(or link the copies)", tuple(who))


def _owner(inv: Inventory, path: str) -> str:
    if path in inv.owners:
        return inv.owners[path]
    if path.startswith("/usr/local/cuda"):
        return "CUDA toolkit"
    return "no package record"


_CACHES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("pip cache", re.compile(r"/\.cache/pip/"),
     "pip install --no-cache-dir, or RUN --mount=type=cache,target=/root/.cache/pip"),
    ("uv cache", re.compile(r"/\.cache/uv/"),
     "UV_NO_CACHE=1, or RUN --mount=type=cache,target=/root/.cache/uv"),
    ("poetry cache", re.compile(r"/\.cache/pypoetry/"), "poetry config cache-dir to a cache mount"),
    ("conda package cache", re.compile(r"(^|/)pkgs/[^/]+(\.conda|\.tar\.bz2|/info/index\.json)$"
                                       r"|/\.cache/rattler/"),
     "conda clean -afy (or micromamba clean -afy) in the same RUN step"),
    ("apt lists", re.compile(r"^/var/lib/apt/lists/[^/]+_"),
     "rm -rf /var/lib/apt/lists/* in the same RUN as apt-get install"),
    ("apt cache", re.compile(r"^/var/cache/apt/(archives/.*\.deb|.*\.bin)$"),
     "apt-get clean in the same RUN as apt-get install"),
)


def _by_pattern(inv: Inventory, pattern: re.Pattern[str]) -> tuple[int, list[str], set[int]]:
    size, paths, layers = 0, [], set()
    for path, (s, layer, _) in inv.files.items():
        if pattern.search(path):
            size += s
            paths.append(path)
            layers.add(layer)
    return size, paths, layers


def _top_dirs(paths: list[str], n: int = 5) -> tuple[str, ...]:
    dirs: dict[str, int] = defaultdict(int)
    for p in paths:
        parts = p.split("/")
        dirs["/".join(parts[: min(len(parts) - 1, 6)])] += 1
    return tuple(sorted(dirs, key=lambda d: -dirs[d])[:n])


def caches(inv: Inventory, policy: Policy) -> Iterable[Finding]:
    for what, pattern, hint in _CACHES:
        size, paths, layers = _by_pattern(inv, pattern)
        if not paths:
            continue
        app = any(layer >= inv.base_layers for layer in layers)
        yield Finding("cache", "warning" if app else "info",
                      f"{what} left in the image ({len(paths)} files"
                      + ("" if app else ", from the base") + ")",
                      size, _top_dirs(paths), hint)


_BUILD = re.compile(r"^(/usr(/local)?/include/|/usr/lib/gcc/|/usr/libexec/gcc/"
                    r"|/usr(/local)?/bin/(gcc|g\+\+|cc|c\+\+|cpp|make|cmake|ld|as)(-[\d.]+)?$"
                    r"|/usr/share/doc/[^/]+-dev/)")


def build_tools(inv: Inventory, policy: Policy) -> Iterable[Finding]:
    size, paths, layers = _by_pattern(inv, _BUILD)
    if not paths:
        return
    app = any(layer >= inv.base_layers for layer in layers)
    dev = sorted({p.split("/")[4] for p in paths if p.startswith("/usr/share/doc/")})
    yield Finding("build-tools", "warning" if app else "info",
                  "build tools and headers in the final image"
                  + ("" if app else " (from the base)"), size, _top_dirs(paths),
                  "build in a first stage and copy only the environment into the final image",
                  tuple(f"-dev package: {d}" for d in dev[:20]))


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def cuda(inv: Inventory, policy: Policy) -> Iterable[Finding]:
    runtimes = [(c.path, _major_minor(c.version), c.owner) for c in inv.cuda if c.lib == "cudart"]
    runtimes += [(path, v, "torch build") for path, v in inv.torch_cuda]
    target = policy.cuda
    if target:
        for path, version, owner in runtimes:
            if version and version.count(".") and version != target:
                yield Finding(
                    "cuda-mismatch", "error",
                    f"CUDA {version} runtime ({owner}) but the target is CUDA {target}", 0,
                    (path,), f"pick builds for CUDA {target} (e.g. torch wheels for "
                             f"cu{target.replace('.', '')}, cuda-version={target} in conda)")
        for item in inv.config.env:
            key, _, value = item.partition("=")
            m = re.search(r"cuda>=(\d+\.\d+)", value)
            if key == "NVIDIA_REQUIRE_CUDA" and m and _newer(m[1], target):
                yield Finding("cuda-mismatch", "error",
                              f"NVIDIA_REQUIRE_CUDA asks for CUDA {m[1]}, newer than the target "
                              f"{target}", 0, (f"ENV {key}",),
                              "the nodes will refuse to start this image: build for the target")
    versions = sorted({v for _, v, _ in runtimes if v.count(".")})
    if len(versions) > 1:
        yield Finding("cuda-inconsistent", "warning",
                      f"the image holds CUDA runtimes {', '.join(versions)}", 0,
                      tuple(p for p, v, _ in runtimes if v), "keep one CUDA version everywhere",
                      tuple(f"{v or '?'}: {p} ({o})" for p, v, o in runtimes))


def _newer(a: str, b: str) -> bool:
    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split(".") if x.isdigit())
    return key(a) > key(b)


def _is_root(user: str) -> bool:
    return user.split(":")[0] in ROOT_USERS


def _passwd(inv: Inventory) -> dict[str, str]:
    """name -> uid and uid -> name, from the image's /etc/passwd."""
    out: dict[str, str] = {}
    for line in inv.accounts.get("/etc/passwd", b"").decode("utf-8", "replace").splitlines():
        f = line.split(":")
        if len(f) >= 3 and f[2].isdigit():
            out.setdefault(f[0], f[2])
            out.setdefault(f[2], f[0])
    return out


def _same_user(a: str, b: str, passwd: dict[str, str]) -> bool:
    """USER values naming the same account ("1000" and "jovyan", "1000:100" and "1000")."""
    a, b = a.split(":")[0], b.split(":")[0]
    return a == b or passwd.get(a) == b or passwd.get(b) == a


def _platform_users(inv: Inventory) -> list[tuple[str, str]]:
    env = dict(item.partition("=")[::2] for item in inv.config.env)
    return [(k, env[k]) for k in ("USERNAME", "NB_USER") if env.get(k)]


def users(inv: Inventory, policy: Policy) -> Iterable[Finding]:
    """The image's USER against its base's and the users the platform's variables name."""
    conf, base = inv.config, inv.base
    passwd = _passwd(inv)
    named = _platform_users(inv)
    says = " and ".join(f"{k} is {v}" for k, v in named)
    shown = conf.user or "unset"
    if _is_root(conf.user):
        if base is not None and not _is_root(base.user):
            yield Finding("runs-as-root", "error",
                          f"the image runs as root (User={shown}); its base runs as "
                          f"{base.user}", 0, (),
                          f"end the Containerfile with the base's own `USER {base.user}`")
        elif named:
            yield Finding("runs-as-root", "warning",
                          f"the image runs as root (User={shown})"
                          + (", as its base does" if base is not None else "")
                          + f"; the platform's {says}", 0, (),
                          f"end with `USER {named[0][1]}` unless the platform's start script "
                          "switches to that user itself")
        else:
            yield Finding("runs-as-root", "warning",
                          f"the image runs as root (User={shown})"
                          + (", as its base does" if base is not None else ""), 0, (),
                          "platforms usually run images as a user: end with a non-root "
                          "USER (e.g. `USER 1000`)")
        return
    if base is not None and not _is_root(base.user) and not _same_user(conf.user, base.user,
                                                                        passwd):
        yield Finding("user-changed", "error",
                      f"the image runs as {conf.user}, its base as {base.user}", 0, (),
                      f"end the Containerfile with the base's own `USER {base.user}`: the "
                      "platform owns the user")
        return
    others = [v for _, v in named if not _same_user(conf.user, v, passwd)]
    if named and len(others) == len(named):
        yield Finding("user-changed", "warning",
                      f"the image runs as {conf.user}, but the platform's {says}", 0, (),
                      f"end with `USER {named[0][1]}`, the user the platform expects")


def contract(inv: Inventory, policy: Policy) -> Iterable[Finding]:
    conf, base = inv.config, inv.base
    yield from users(inv, policy)
    if base is None:
        return
    if inv.base_layers == 0:
        yield Finding("not-on-base", "error", f"the image is not built FROM {policy.base_ref}",
                      0, (), f"start the Containerfile with FROM {policy.base_ref}")
    for field, mine, theirs in (("CMD", conf.cmd, base.cmd),
                                ("ENTRYPOINT", conf.entrypoint, base.entrypoint)):
        if mine != theirs:
            yield Finding(f"{field.lower()}-changed", "error",
                          f"{field} differs from the base's", 0, (),
                          f"remove {field} from the Containerfile: the platform owns it",
                          (f"image: {list(mine) if mine is not None else None}",
                           f"base:  {list(theirs) if theirs is not None else None}"))
    yield from _kernel(inv)


def world_writable(inv: Inventory, policy: Policy) -> Iterable[Finding]:
    """Files and folders any user may write: another user of the node, or code the app
    runs, could change what the app imports."""
    for mine in (True, False):
        found = [(p, layer) for p, layer in inv.world_writable
                 if (layer >= inv.base_layers) == mine]
        if not found:
            continue
        size = sum(inv.files.get(p, (0,))[0] for p, _ in found)
        yield Finding(
            "world-writable", "warning" if mine else "info",
            f"{len(found)} files or folders "
            + ("the image adds are" if mine else "of the base are") + " writable by every user",
            size, tuple(p for p, _ in found[:20]),
            "remove write permission for others (`chmod o-w`) in the step that creates "
            "them; uv leaves a mode-666 `.lock` in each environment it writes",
            tuple(f"{p} (layer {layer})" for p, layer in found[:20])
            + ((f"... and {len(found) - 20} more",) if len(found) > 20 else ()))


def _kernel_dirs(inv: Inventory) -> set[str]:
    """Where the base's Jupyter looks for kernelspecs (jupyter --paths, data part)."""
    env = dict(item.partition("=")[::2] for item in inv.config.env)
    dirs = {"/usr/local/share/jupyter/kernels", "/usr/share/jupyter/kernels",
            posixpath.join(env.get("HOME") or "/root", ".local/share/jupyter/kernels")}
    dirs |= {e.prefix.rstrip("/") + "/share/jupyter/kernels"
             for e in inv.environments if e.from_base and e.python}
    dirs |= {p.rstrip("/") + "/kernels" for p in env.get("JUPYTER_PATH", "").split(":") if p}
    if env.get("JUPYTER_DATA_DIR"):
        dirs.add(env["JUPYTER_DATA_DIR"].rstrip("/") + "/kernels")
    return dirs


def _kernel(inv: Inventory) -> Iterable[Finding]:
    base_jupyter = any(k.layer < inv.base_layers for k in inv.kernels) or any(
        d.name in JUPYTER and d.layer < inv.base_layers for d in inv.distributions)
    app = [e for e in inv.environments if not e.from_base and e.python]
    if not base_jupyter or not app:
        return
    visible = _kernel_dirs(inv)
    served = {env_of(k.argv0, inv.environments) for k in inv.kernels
              if posixpath.dirname(posixpath.dirname(k.path)) in visible}
    missing = [e.prefix for e in app if e.prefix not in served]
    if missing:
        yield Finding("kernel-missing", "error",
                      "no Jupyter kernel of the base's Jupyter runs the app's environment", 0,
                      tuple(missing),
                      "register it: <env>/bin/python -m ipykernel install --prefix "
                      "<base python prefix> --name app", tuple(
                          f"kernel {k.name}: {k.argv0} ({k.path}"
                          + (")" if posixpath.dirname(posixpath.dirname(k.path)) in visible
                             else ", not where the base's Jupyter looks)")
                          for k in inv.kernels))


def secrets(inv: Inventory, policy: Policy) -> Iterable[Finding]:
    """Live credentials are errors, one each; a package's own keys (tornado's test.key),
    copies inside package caches and keys under test folders are told apart, grouped."""
    from .secrets import classify

    grouped: dict[str, list[tuple[SecretHit, str]]] = {"package": [], "cache": [], "test": []}
    for hit in inv.secrets:
        if hit.layer is not None:
            path = hit.where.rsplit(":", 1)[0]
            verdict, why = classify(path, inv.owners.get(path))
            if verdict != "live":
                grouped[verdict].append((hit, why))
                continue
            gone = ", deleted by a later layer but still in its bytes" if hit.deleted else ""
            title = f"credential in layer {hit.layer}{gone}"
        else:
            title = f"credential in {hit.where.split('[')[0].split(' ')[0]}"
        yield Finding("secret", "error", f"{title} ({hit.kind})", 0, (hit.where,),
                      "rotate it now; pass credentials with RUN --mount=type=secret so they "
                      "never enter a layer (deleting them later does not remove them)",
                      (f"{hit.where}: {hit.preview}",))
    for verdict, severity, title, hint in (
            ("package", "info", "shipped inside installed packages (their own test keys)",
             "nothing to do unless you put them there"),
            ("cache", "info", "inside package caches (copies of packages' files)",
             "nothing to rotate; the cache itself should not be in the image (see `cache`)"),
            ("test", "warning", "under test or example folders (probably fixtures)",
             "check that none is real; if one is, rotate it and keep it out of the image")):
        hits = grouped[verdict]
        if hits:
            yield Finding("secret", severity, f"{len(hits)} credential-like strings {title}", 0,
                          tuple(sorted({h.where.rsplit(":", 1)[0] for h, _ in hits}))[:20], hint,
                          tuple(f"{h.where}: {h.kind} {why}" for h, why in hits[:20]))


def budget(inv: Inventory, policy: Policy) -> Iterable[Finding]:
    if policy.budget is None or inv.total <= policy.budget:
        return
    layers = sorted(inv.layers, key=lambda x: -x.size)[:5]
    dists = inv.distributions[:10]
    yield Finding(
        "over-budget", "error",
        f"the image weighs {human(inv.total)}, over the budget of {human(policy.budget)}",
        inv.total - policy.budget, (),
        "remove the duplicates and caches above first; then a multi-stage build",
        tuple(f"layer {x.index}: {human(x.size)} {x.created_by[:80]}" for x in layers)
        + tuple(f"{d.name} {d.version} in {d.env}: {human(d.size)}" for d in dists))


def wasted(inv: Inventory, policy: Policy) -> Iterable[Finding]:
    mine = [r for r in inv.removed if r.by >= inv.base_layers]
    theirs = [r for r in inv.removed if r.by < inv.base_layers]
    for removed, where in ((mine, ""), (theirs, " (in the base)")):
        if not removed:
            continue
        total = sum(r.size for r in removed)
        top = sorted(removed, key=lambda r: -r.size)[:10]
        severity = "warning" if total >= (1 << 20) and not where else "info"
        yield Finding(
            "wasted-bytes", severity,
            f"{human(total)} in {len(removed)} files overwritten or deleted by later layers"
            + where, total, tuple(r.path for r in top),
            "delete files in the same RUN step that creates them, or use a multi-stage build",
            tuple(f"{r.path}: {human(r.size)} in layer {r.layer}, {r.how} by layer {r.by}"
                  for r in top))


def sbom_drift(inv: Inventory, policy: Policy) -> Iterable[Finding]:
    from .sbom_drift import sbom_drift as check

    return check(inv, policy)


CHECKS: tuple[Callable[[Inventory, Policy], Iterable[Finding]], ...] = (
    duplicate_distributions, duplicate_files, caches, build_tools, cuda, contract, secrets,
    budget, wasted, sbom_drift, world_writable,
)
