"""The edge that puts a rendered BuildContext on disk, with everything it names.

`stage_context(context, plan, lock_text, project_root, dest)`:
- writes the rendered files (Containerfile, .dockerignore, kernel spec, requirements);
- fetches uv's pinned wheel and every conda artifact of the lock (file:// or
  http(s)://), checking each sha256 against the lock, cached by hash;
- installs the conda part for the image's prefix with py-rattler (files are
  patched for `plan.prefix`, written under conda-env/), so the build needs no
  channel: the context is self-contained (kaniko, GitLab CI);
- checks out each git dependency at its locked commit (git reads credentials
  from the environment or netrc, never from the lock);
- copies the project's source, filtered like .dockerignore says;
- sets every mtime to one fixed date, so the same inputs make the same
  context and the engine's layer cache hits.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import shutil
import ssl
import tempfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from .. import aio, lifecycle
from ..audit.secrets import refuse_secrets
from ..caches import mark_used
from ..errors import BuildError
from ..plan.model import BuildPlan, CondaArtifact, SourcePin, ToolPin, WheelPin
from ..redact import redact
from ..runner import SubprocessRunner, which
from . import (
    CONDA_ENV_FORMAT,
    CONTEXT_APP,
    CONTEXT_BUILD_CONSTRAINTS,
    CONTEXT_CONDA_ENV,
    CONTEXT_LOCK,
    CONTEXT_PROJECT,
    CONTEXT_SOURCES,
    CONTEXT_UV,
    CONTEXT_WHEELS,
    BuildContext,
)

log = logging.getLogger(__name__)
FIXED_MTIME = 315532800  # 1980-01-01, as in wheels: the context is content-addressed
Progress = Callable[[str], None]

_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".mypy_cache",
              ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", ".tox", ".nox",
              "node_modules", ".dockyard"}
_SKIP_TOP = {"build", "dist", "dockyard.lock"}
_CREDENTIAL_FILES = {".env", ".netrc", ".pypirc"}
_SKIP_FILES = {*_CREDENTIAL_FILES, ".DS_Store"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".pyd", ".pem", ".key")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    path = Path(base) / "dockyard"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _ssl_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca = os.environ.get("SSL_CERT_FILE")
    if ca and os.path.exists(ca):
        ctx.load_verify_locations(ca)
    return ctx


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size} {st.st_mtime_ns} {st.st_ino}\n"


def fetch(url: str, sha256: str, what: str,
          on_bytes: Callable[[int], None] | None = None) -> Path:
    """The file at `url`, checked against `sha256`, from the cache when already there.

    A cached file is hashed once when it arrives; a `.verified` stamp beside it (size,
    mtime, inode) then spares reading gigabytes again on every build. `on_bytes` hears
    how many bytes each read brought (progress)."""
    name = urllib.parse.unquote(urllib.parse.urlparse(url).path.rsplit("/", 1)[-1]) or "file"
    dest = cache_dir() / "artifacts" / sha256 / name  # keeps the name: formats go by suffix
    stamp = dest.parent / f".{name}.verified"
    if dest.exists():
        mark_used(dest.parent)
        try:
            if stamp.read_text() == _stamp(dest):
                return dest
        except OSError:
            pass
        if _sha256(dest) == sha256:
            stamp.write_text(_stamp(dest))
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            parsed = urllib.parse.urlparse(url)
            if parsed.scheme == "file":
                src = open(urllib.parse.unquote(parsed.path), "rb")  # noqa: SIM115
            else:
                src = urllib.request.urlopen(url, timeout=120, context=_ssl_context())
            with src:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
                    h.update(chunk)
                    if on_bytes:
                        on_bytes(len(chunk))
        got = h.hexdigest()
        if got != sha256:
            raise BuildError(
                f"{what}: sha256 mismatch for {redact(url)}: the lock says {sha256}, got {got}",
                hint="the artifact changed since the lock was made: run `dockyard lock` again "
                "and check where it comes from",
            )
        os.replace(tmp, dest)
        stamp.write_text(_stamp(dest))
    except OSError as exc:
        raise BuildError(f"{what}: cannot fetch {redact(url)}: {exc}",
                         hint="check that the channel or index is reachable") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def fetch_pypi(wheels: tuple[WheelPin, ...], dest: Path, progress: Progress | None = None,
               jobs: int = 4, every: float = 0.5) -> int:
    """Fetch the chosen artifact of every PyPI pin (in parallel, sha256-checked, cached) and
    link it into `dest`; returns the bytes fetched from the network. `progress` gets a
    line with packages and bytes, at most every `every` seconds and once at the end."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    dest.mkdir(parents=True, exist_ok=True)
    todo = [w for w in wheels if w.url and w.sha256]
    state = {"done": 0, "bytes": 0, "shown": 0.0, "linked": 0}
    lock = threading.Lock()

    def tell(force: bool = False) -> None:
        now = time.monotonic()
        if progress and (force or now - state["shown"] >= every):
            state["shown"] = now
            progress(f"PyPI artifacts: {state['done']}/{len(todo)} packages, "
                     f"{state['bytes'] / 1e9:.2f} GB downloaded, "
                     f"{state['linked'] / 1e9:.2f} GB in the context")

    def on_bytes(n: int) -> None:
        with lock:
            state["bytes"] += n
            tell()

    def one(w: WheelPin) -> None:
        path = fetch(w.url, w.sha256, f"PyPI package {w.name} {w.version}", on_bytes)
        target = dest / w.filename
        if not target.exists():
            try:
                os.link(path, target)  # same filesystem: no copy
            except OSError:
                shutil.copyfile(path, target)
        with lock:
            state["done"] += 1
            state["linked"] += target.stat().st_size
            tell()

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        for _ in pool.map(one, todo):
            pass
    tell(force=True)
    return state["bytes"]


def link_tree(src: Path, dst: Path) -> None:
    """`cp -al`: `src` reproduced at `dst` with hard links (a copy across filesystems)."""
    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, symlinks=True, copy_function=link, dirs_exist_ok=True)


def _cached(kind: str, key: str, make: Callable[[Path], None]) -> Path:
    """`cache_dir()/kind/key`, made once by `make(folder)` (aside, then moved in place:
    a concurrent build never sees half of it)."""
    final = cache_dir() / kind / key
    if final.is_dir():
        mark_used(final)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=final.parent))
    try:
        make(tmp / "tree")
        try:
            os.rename(tmp / "tree", final)
        except OSError:  # another build made it meanwhile
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def stage_uv(pin: ToolPin, dest: Path) -> None:
    def unpack(folder: Path) -> None:
        wheel = fetch(pin.url, pin.sha256, f"uv {pin.version}")
        with zipfile.ZipFile(wheel) as z:
            member = next(n for n in z.namelist() if n.endswith(".data/scripts/uv"))
            folder.mkdir(parents=True)
            (folder / "uv").write_bytes(z.read(member))
            (folder / "uv").chmod(0o755)

    tool = _cached("tools", f"uv-{pin.version}-{pin.sha256[:16]}", unpack) / "uv"
    target = dest / CONTEXT_UV
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(tool, target)
    except OSError:
        shutil.copy2(tool, target)


def install_conda(artifacts: tuple[CondaArtifact, ...], prefix: str, dest: Path,
                  progress: Progress | None = None) -> None:
    """Install the lock's conda packages under `dest`, their files patched for `prefix`."""
    import rattler
    from rattler.package_streaming import extract

    records = []
    with lifecycle.temp_dir(prefix="dockyard-conda-") as tmp:
        for a in artifacts:
            if progress:
                progress(f"conda {a.name} {a.version}")
            path = fetch(a.url, a.sha256, f"conda package {a.name}")
            unpacked = Path(tmp) / a.sha256
            extract(path, unpacked)
            record = rattler.PackageRecord.from_index_json(
                unpacked / "info" / "index.json", size=path.stat().st_size,
                sha256=a.sha256,
            )
            channel = a.url.rsplit("/", 2)[0]
            records.append(rattler.RepoDataRecord(record, a.filename, path.as_uri(), channel))
        if progress:
            progress(f"installing {len(records)} conda packages for {prefix}")
        try:
            aio.run(rattler.install(
                records, target_prefix=str(dest), alternative_target_prefix=prefix,
                cache_dir=cache_dir() / "rattler", show_progress=False,
                execute_link_scripts=False,
            ))
        except Exception as exc:  # py-rattler raises its own exception types
            raise BuildError(f"installing the conda packages failed: {exc}",
                             hint="run `dockyard lock` again; check the channel") from None
    _locked_urls(dest / "conda-meta", {a.filename: a.url for a in artifacts})


def _locked_urls(meta: Path, urls: dict[str, str]) -> None:
    """conda-meta records name this machine's cache (url, extracted_package_dir, link):
    name the locked URL instead, so the environment says where packages came from and
    the same lock gives the same files wherever it is installed."""
    import json

    for path in sorted(meta.glob("*.json")):
        doc = json.loads(path.read_text())
        doc.pop("extracted_package_dir", None)
        doc.pop("link", None)
        doc["url"] = urls.get(doc.get("fn", ""), doc.get("url", ""))
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False))


def stage_conda(plan: BuildPlan, dest: Path, progress: Progress | None = None) -> None:
    """The plan's conda part installed for its prefix, at `dest` (hard links into a cache
    keyed by the artifacts and the prefix: the same lock installs once per machine).
    Without rattler's CACHEDIR.TAG; without conda's python when the plan reuses the base's.
    Files keep the dates their archives give them (the bytecode they ship stays valid);
    files made here get FIXED_MTIME."""
    import time

    from rattler import __version__ as rattler_version

    drop = plan.interpreter.replaces_conda_python
    key = hashlib.sha256("\n".join([
        CONDA_ENV_FORMAT, plan.prefix, rattler_version, str(drop),
        *sorted(a.sha256 for a in plan.conda)]).encode()).hexdigest()[:32]

    def make(folder: Path) -> None:
        since = time.time() - 1
        install_conda(plan.conda, plan.prefix, folder, progress)
        # rattler marks the prefix as a cache: backup tools and `tar --exclude-caches`
        # would skip the whole environment
        (folder / "CACHEDIR.TAG").unlink(missing_ok=True)
        if drop:
            freed = drop_conda_package(folder, "python")
            log.info("conda's python left out (%.0f MB): the base's interpreter runs the "
                     "environment", freed / 1e6)
        for dirpath, dirnames, filenames in os.walk(folder):
            for name in filenames + dirnames:
                path = os.path.join(dirpath, name)
                if name in dirnames and not os.path.islink(path) or \
                        os.lstat(path).st_mtime >= since:
                    os.utime(path, (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
        os.utime(folder, (FIXED_MTIME, FIXED_MTIME))

    link_tree(_cached("conda-envs", key, make), dest)


def conda_installed_size(artifact: CondaArtifact) -> int:
    """Bytes a conda package installs (its info/paths.json), fetching it when not cached."""
    from rattler.package import PathsJson

    path = fetch(artifact.url, artifact.sha256, f"conda package {artifact.name}")
    try:
        return sum(e.size_in_bytes or 0 for e in PathsJson.from_package_archive(path).paths)
    except Exception:  # py-rattler raises its own exception types; the size is only told
        log.info("could not read the file list of %s", artifact.filename)
        return 0


def drop_conda_package(env_dir: Path, name: str) -> int:
    """Remove an installed conda package's files and record from `env_dir`; its bytes.

    When the plan reuses the base's interpreter for the lock's conda python (the very
    same version), the conda packages stay and conda's python goes: the venv made of the
    base's Python takes its place."""
    import json

    freed = 0
    for record in sorted((env_dir / "conda-meta").glob(f"{name}-*.json")):
        doc = json.loads(record.read_text())
        if doc.get("name") != name:
            continue
        files = doc.get("files") or [p.get("_path", "") for p in
                                     (doc.get("paths_data") or {}).get("paths", [])]
        dirs = set()
        for rel in files:
            path = env_dir / rel
            if path.is_symlink() or path.is_file():
                freed += path.lstat().st_size
                path.unlink()
                dirs.add(path.parent)
        for d in sorted(dirs, key=lambda p: -len(p.parts)):  # the emptied folders, deepest first
            while d != env_dir and d.is_dir() and not any(d.iterdir()):
                d.rmdir()
                d = d.parent
        record.unlink()
    return freed


def stage_source(pin: SourcePin, project_root: Path, dest: Path) -> None:
    """A path dependency's tree, or a git dependency's tree at its locked commit."""
    target = dest / CONTEXT_SOURCES / pin.name
    if pin.kind == "path":
        src = (project_root / pin.url).resolve()
        if not src.is_dir():
            raise BuildError(f"path dependency {pin.name}: {src} is not a directory",
                             where="dockyard.lock", hint="run `dockyard lock` again")
        copy_tree(src, target, exclude=dest)
        return
    key = f"{pin.name}-{hashlib.sha256(pin.url.encode()).hexdigest()[:12]}-{pin.commit}"
    link_tree(_cached("sources", key, lambda folder: _checkout(pin, folder)), target)


def _checkout(pin: SourcePin, target: Path) -> None:
    """A git dependency's tree at its locked commit, without .git."""
    name, url, commit, subdirectory = pin.name, pin.url, pin.commit, pin.subdirectory
    with lifecycle.temp_dir(prefix="dockyard-git-") as tmp:
        for args in (["clone", "--quiet", "--no-checkout", url, str(tmp)],
                     ["-C", str(tmp), "checkout", "--quiet", commit]):
            done = SubprocessRunner()(["git", *args], env={"GIT_TERMINAL_PROMPT": "0"})
            if done.returncode != 0:
                raise BuildError(
                    f"git dependency {name}: `git {args[0]}` failed: "
                    f"{redact(done.stderr.strip())}",
                    hint="check that the repository is reachable (credentials come from the "
                    "environment or ~/.netrc) and that the locked commit exists",
                )
        src = Path(tmp, subdirectory) if subdirectory else Path(tmp)
        copy_tree(src, target, top_skip=set())


def ignore_rules(root: Path) -> list[tuple[bool, str]]:
    """The project's own .dockerignore, as (negated, pattern) in file order."""
    path = root / ".dockerignore"
    rules = []
    if path.is_file():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                neg = line.startswith("!")
                rules.append((neg, line.lstrip("!").strip("/").removeprefix("./")))
    return rules


def ignored(rel: str, rules: list[tuple[bool, str]]) -> bool:
    """Docker's semantics, simplified: the last matching rule wins; a dir covers its files."""
    out = False
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for neg, pattern in rules:
        pat = pattern.replace("**/", "*/") if pattern.startswith("**/") else pattern
        if any(fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(p, pattern.removeprefix("**/"))
               for p in prefixes):
            out = not neg
    return out


def copy_tree(src: Path, dst: Path, *, top_skip: set[str] = _SKIP_TOP,
              exclude: Path | None = None, rules: list[tuple[bool, str]] | None = None) -> None:
    """Copy a source tree without VCS dirs, caches, secrets-looking files, `exclude`, or
    what `rules` (a .dockerignore) leave out."""
    rules = rules or []
    dst.mkdir(parents=True, exist_ok=True)
    for root, dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        top = rel == Path(".")
        keep = []
        for d in sorted(dirs):
            full = Path(root, d)
            if d in _SKIP_DIRS or d.endswith(".egg-info") or (top and d in top_skip):
                continue
            if exclude is not None and full.resolve() == exclude.resolve():
                continue
            if rules and ignored((rel / d).as_posix(), rules) and not any(
                    neg for neg, _ in rules):  # with a "!" rule, decide per file
                continue
            keep.append(d)
        dirs[:] = keep
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for f in sorted(files):
            if rules and ignored((rel / f).as_posix(), rules):
                continue
            if f in _SKIP_FILES or f.endswith(_SKIP_SUFFIXES) or (top and f in top_skip):
                if f in _CREDENTIAL_FILES or f.endswith((".pem", ".key")):
                    log.warning("left out of the build context (looks like a credential): %s",
                                Path(root, f).relative_to(src))
                continue
            s = Path(root, f)
            if s.is_symlink() or s.is_file():
                shutil.copy2(s, dst / rel / f, follow_symlinks=False)


PEP517_DEFAULT = ("setuptools>=40.8.0",)  # what a source tree without [build-system] gets


def build_requires(tree: Path) -> tuple[str, ...]:
    """`[build-system] requires` of a source tree (PEP 517's default when it has none)."""
    import tomllib

    path = tree / "pyproject.toml"
    if not path.is_file():
        return PEP517_DEFAULT
    try:
        system = tomllib.loads(path.read_text()).get("build-system", {})
    except tomllib.TOMLDecodeError as exc:
        raise BuildError(f"not valid TOML: {exc}", where=str(path)) from None
    return tuple(system.get("requires", PEP517_DEFAULT))


def build_constraints(trees: list[Path], python: str) -> str:
    """The build backends of `trees`, resolved by uv for `python`, pinned with hashes."""

    requires = sorted({r for tree in trees for r in build_requires(tree)})
    uv = which("uv")
    if uv is None:
        raise BuildError("uv is not installed", hint="reinstall dockyard (it depends on uv)")
    done = SubprocessRunner()(
        [uv, "pip", "compile", "-q", "--generate-hashes", "--no-header", "--python-version",
         ".".join(python.split(".")[:2]), "--python-platform", "x86_64-unknown-linux-gnu", "-"],
        input="\n".join(requires) + "\n", env={"UV_PYTHON_DOWNLOADS": "never"},
    )
    if done.returncode != 0:
        raise BuildError(
            "resolving the build backends failed (" + ", ".join(requires) + "):\n"
            + redact(done.stderr.strip())[-1500:],
            hint="check the [build-system] requires of the project and its git/path "
            "dependencies, and that the index is reachable",
        )
    return "# build backends, pinned by `dockyard build`\n" + done.stdout


def _fix_mtimes(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            # wheels: bind-mounted, never COPYed (no cache key reads their dates), hard
            # links to the artifact cache, whose dates say they were verified; conda-env:
            # its dates are set where it is cached (those its archives give its files)
            dirnames[:] = [d for d in dirnames if d not in (CONTEXT_WHEELS, CONTEXT_CONDA_ENV)]
        for name in filenames + dirnames:
            os.utime(Path(dirpath, name), (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
    os.utime(root, (FIXED_MTIME, FIXED_MTIME))


def stage_app(plan: BuildPlan, project_root: str | Path, dest: str | Path,
              progress: Progress | None = None) -> bool:
    """The project's package built as a wheel on the host and installed as it will be in
    the image, at `dest/app` (`materialize_app`: the tree the engine-less assembly makes
    too). False, and nothing left, when the wheel is platform-specific: it must then be
    built against the base, in the builder stage."""
    from ..materialize import materialize_app

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)  # `--containerfile-only new/ctx`
    with tempfile.TemporaryDirectory(prefix="dockyard-app-", dir=dest.parent) as tmp:
        if progress:
            progress(f"building {plan.project_name} as a wheel")
        built = materialize_app(plan, project_root, tmp, progress=progress)
        wheel = "".join(p.read_text() for p in built.glob("*.dist-info/WHEEL"))
        tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines()
                if line.startswith("Tag:")]
        if "Root-Is-Purelib: true" not in wheel or not tags or \
                not all(t.endswith("-none-any") for t in tags):
            log.info("the project's wheel is platform-specific (%s): built in the image",
                     ", ".join(tags) or "no tag")
            return False
        dest.mkdir(parents=True, exist_ok=True)
        os.replace(built, dest / CONTEXT_APP)
    return True


def stage_context(context: BuildContext, plan: BuildPlan, lock_text: str,
                  project_root: str | Path, dest: str | Path,
                  progress: Progress | None = None) -> Path:
    """Write the whole build context into `dest` (created; empty, absent, or holding only
    the `app/` that `stage_app` made).

    Nothing is left half-written: when staging fails (a credential found, a fetch that
    fails, Ctrl-C), what it wrote in `dest` is removed."""
    dest = Path(dest)
    if dest.exists() and any(p.name != CONTEXT_APP for p in dest.iterdir()):
        raise BuildError(f"{dest} is not empty", hint="give an empty or new directory")
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        return _stage(context, plan, lock_text, project_root, dest, progress)
    except BaseException:
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for child in list(dest.iterdir()):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise


def _stage(context: BuildContext, plan: BuildPlan, lock_text: str, project_root: str | Path,
           dest: Path, progress: Progress | None) -> Path:
    for f in context.files:
        path = dest / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)
        path.chmod(f.mode)
    (dest / CONTEXT_LOCK).write_text(lock_text)
    if progress:
        progress(f"uv {plan.uv.version}")
    stage_uv(plan.uv, dest)
    fetch_pypi(plan.wheels, dest / CONTEXT_WHEELS, progress)
    if context.needs_conda_env:
        stage_conda(plan, dest / CONTEXT_CONDA_ENV, progress)
    for pin in plan.sources:
        if progress:
            progress(f"{pin.kind} {pin.name} {pin.commit[:12]}")
        stage_source(pin, Path(project_root), dest)
    groups = {"sources.txt": [dest / CONTEXT_SOURCES / pin.name for pin in plan.sources]}
    if context.needs_project and plan.app_build == "image":
        root = Path(project_root)
        copy_tree(root, dest / CONTEXT_PROJECT, exclude=dest, rules=ignore_rules(root))
        groups["project.txt"] = [dest / CONTEXT_PROJECT]
    elif context.needs_project and not (dest / CONTEXT_APP).is_dir():
        if not stage_app(plan, project_root, dest, progress):
            raise BuildError("the project's wheel is platform-specific: it cannot be built on "
                             "this machine for the image",
                             hint="render the plan with app_build='image' "
                             "(dockyard.pipeline.stage does)")
    # the one hook: nothing ships a credential (the project's source, or its package as
    # built on the host, and every source dependency)
    refuse_secrets({"": dest / (CONTEXT_PROJECT if plan.app_build == "image" else CONTEXT_APP),
                    **{pin.name: dest / CONTEXT_SOURCES / pin.name for pin in plan.sources}},
                   plan.allow_secrets)
    for name, trees in groups.items():
        if trees:
            if progress:
                progress(f"pinning the build backends ({name})")
            path = dest / CONTEXT_BUILD_CONSTRAINTS / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(pinned_backends(trees, plan.interpreter.version))
    _fix_mtimes(dest)
    return dest


def pinned_backends(trees: list[Path], python: str) -> str:
    """`build_constraints`, cached by what the trees ask for (materialize shares the cache)."""
    from ..materialize import _constraints

    return _constraints(trees, python)
