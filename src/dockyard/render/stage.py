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
from ..errors import BuildError
from ..plan.model import BuildPlan, CondaArtifact, SourcePin, ToolPin
from ..redact import redact
from ..runner import SubprocessRunner, which
from . import (
    CONTEXT_BUILD_CONSTRAINTS,
    CONTEXT_CONDA_ENV,
    CONTEXT_LOCK,
    CONTEXT_PROJECT,
    CONTEXT_SOURCES,
    CONTEXT_UV,
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


def fetch(url: str, sha256: str, what: str) -> Path:
    """The file at `url`, checked against `sha256`, from the cache when already there."""
    name = urllib.parse.unquote(urllib.parse.urlparse(url).path.rsplit("/", 1)[-1]) or "file"
    dest = cache_dir() / "artifacts" / sha256 / name  # keeps the name: formats go by suffix
    if dest.exists() and _sha256(dest) == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out:
            parsed = urllib.parse.urlparse(url)
            if parsed.scheme == "file":
                with open(urllib.parse.unquote(parsed.path), "rb") as src:
                    shutil.copyfileobj(src, out)
            else:
                with urllib.request.urlopen(url, timeout=120, context=_ssl_context()) as r:
                    shutil.copyfileobj(r, out)
        got = _sha256(Path(tmp))
        if got != sha256:
            raise BuildError(
                f"{what}: sha256 mismatch for {redact(url)}: the lock says {sha256}, got {got}",
                hint="the artifact changed since the lock was made: run `dockyard lock` again "
                "and check where it comes from",
            )
        os.replace(tmp, dest)
    except OSError as exc:
        raise BuildError(f"{what}: cannot fetch {redact(url)}: {exc}",
                         hint="check that the channel or index is reachable") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def stage_uv(pin: ToolPin, dest: Path) -> None:
    wheel = fetch(pin.url, pin.sha256, f"uv {pin.version}")
    with zipfile.ZipFile(wheel) as z:
        member = next(n for n in z.namelist() if n.endswith(".data/scripts/uv"))
        target = dest / CONTEXT_UV
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(z.read(member))
        target.chmod(0o755)


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
        for name in filenames + dirnames:
            os.utime(Path(dirpath, name), (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
    os.utime(root, (FIXED_MTIME, FIXED_MTIME))


def stage_context(context: BuildContext, plan: BuildPlan, lock_text: str,
                  project_root: str | Path, dest: str | Path,
                  progress: Progress | None = None) -> Path:
    """Write the whole build context into `dest` (created; must be empty or absent).

    Nothing is left half-written: when staging fails (a credential found, a fetch that
    fails, Ctrl-C), what it wrote in `dest` is removed."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
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
    if context.needs_conda_env:
        install_conda(plan.conda, plan.prefix, dest / CONTEXT_CONDA_ENV, progress)
    for pin in plan.sources:
        if progress:
            progress(f"{pin.kind} {pin.name} {pin.commit[:12]}")
        stage_source(pin, Path(project_root), dest)
    groups = {"sources.txt": [dest / CONTEXT_SOURCES / pin.name for pin in plan.sources]}
    if context.needs_project:
        root = Path(project_root)
        copy_tree(root, dest / CONTEXT_PROJECT, exclude=dest, rules=ignore_rules(root))
        groups["project.txt"] = [dest / CONTEXT_PROJECT]
    refuse_secrets({"": dest / CONTEXT_PROJECT,   # the one hook: nothing ships a credential
                    **{pin.name: dest / CONTEXT_SOURCES / pin.name for pin in plan.sources}},
                   plan.allow_secrets)
    for name, trees in groups.items():
        if trees:
            if progress:
                progress(f"pinning the build backends ({name})")
            path = dest / CONTEXT_BUILD_CONSTRAINTS / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(build_constraints(trees, plan.interpreter.version))
    _fix_mtimes(dest)
    return dest
