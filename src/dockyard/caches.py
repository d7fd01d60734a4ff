"""What dockyard keeps on this machine between commands, and how it is cleaned.

    found = survey(engine)                                   # every cache, measured
    chosen = select(found, keep_downloads=True, older_than=30 * 86400, now=time.time())
    freed = remove(chosen, engine, progress)                 # what it really freed

    with in_use(on_wait):          # every dockyard command (cli/__init__.py): shared
    with exclusive(on_wait):       # `dockyard cache clean`: nobody else inside

The caches: the folders under `$XDG_CACHE_HOME/dockyard` (default `~/.cache/dockyard`)
named in CACHES, the builder images a Podman/Docker build keeps (label
`io.dockyard.builder`, tagged under `localhost/dockyard-builder/`, or left untagged by
an interrupted build), and the uv cache mount an older dockyard left where Podman keeps
cache mounts. Nothing else is ever removed: not a folder under the cache root that
CACHES does not name, not an image without the label, not a builder image the user
tagged under another name (only dockyard's tag is removed; the image stays while it has
another).

Safe against a command running at the same time: every dockyard command holds a shared
lock on `<cache root>/.lock` (flock) while it runs, and `clean` takes it exclusively, so
it waits until the running commands are done (saying which), and a command started
meanwhile waits for the clean. A lock taken by a process is released by the kernel when
it ends, however it ends.

"Last used": each entry's newest mtime or atime (the file system's relatime updates
atime at least daily on a read), and the caches that are reused without being read
(a conda environment hard-linked into a build context, a layer found in the cache)
are touched when reused (`mark_used`). Sizes are disk usage, each hard-linked file
counted once; `remove` counts a file as freed only when its last link goes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import stat
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CacheError
from .redact import redact

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
LOCK_NAME = ".lock"
KEPT = {LOCK_NAME, ".example.lock"}   # lock files: never removed, never listed
BUILDER_LABEL = "io.dockyard.builder"
BUILDER_REPO = "localhost/dockyard-builder"
UV_MOUNT = "dockyard-uv"


@dataclass(frozen=True, slots=True)
class Kind:
    """A folder under the cache root: what it holds, whether its entries were fetched
    (costly to fetch again: `--keep-downloads` keeps them), and how deep its entries lie
    (blobs/sha256/HEX: 2)."""

    folder: str
    what: str
    download: bool = False
    depth: int = 1


CACHES = (
    Kind("artifacts", "conda packages and wheels fetched for builds and packs", True),
    Kind("pkgs", "conda packages fetched by `dockyard lock`", True, 2),
    Kind("sources", "git dependencies checked out at their locked commit", True),
    Kind("blobs", "base image layers fetched from registries", True, 2),
    Kind("layers", "image layers assembled by --engine none"),
    Kind("bases", "base images exported from an engine or an archive"),
    Kind("conda-envs", "conda environments installed for an image's prefix"),
    Kind("rattler", "py-rattler's package cache (unpacked conda packages)", depth=2),
    Kind("build-envs", "build backends' environments (project and git wheels)"),
    Kind("tools", "uv binaries put into images"),
    Kind("build-constraints", "pinned build backends"),
    Kind("probes", "facts read from base images"),
    Kind("sbom", "SBOMs made from locks"),
    Kind("pycache", "bytecode of `dockyard cluster check` clients"),
    Kind("tmp", "scratch of assemblies (left by an interrupted one)"),
    Kind("example", "the bundled example (scripts/demo, tests)", depth=0),
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing removed as a whole: files and folders, or an engine's image."""

    name: str
    paths: tuple[Path, ...] = ()
    image: str = ""          # an image id (then `tags`: dockyard's tags of it)
    tags: tuple[str, ...] = ()
    size: int = 0            # bytes on disk (an image: what it adds to its base)
    last_used: float = 0.0


@dataclass(frozen=True, slots=True)
class Cache:
    name: str
    where: str               # a folder, or "podman images"
    what: str
    download: bool
    entries: tuple[Entry, ...]
    size: int                # hard links inside counted once

    @property
    def last_used(self) -> float:
        return max((e.last_used for e in self.entries), default=0.0)


@dataclass(frozen=True, slots=True)
class Survey:
    root: Path
    caches: tuple[Cache, ...]
    total: int                # every cache, hard links across them counted once
    others: tuple[str, ...] = ()   # names under the root that dockyard did not make
    users: tuple[str, ...] = ()    # the processes holding the lock ("pid 12: dockyard build")


@dataclass(frozen=True, slots=True)
class Freed:
    bytes: int = 0
    entries: int = 0
    by_cache: dict[str, int] = field(default_factory=dict)
    kept: tuple[str, ...] = ()     # what could not be removed, and why


# -- where -------------------------------------------------------------------------------


def cache_root() -> Path:
    """`$XDG_CACHE_HOME/dockyard` (default `~/.cache/dockyard`), not created."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "dockyard"


def uv_mounts() -> list[Path]:
    """Where Podman keeps the uv cache mount (`--mount=type=cache,id=dockyard-uv`) of a
    build run without a temporary folder of its own (an older dockyard's)."""
    tmp = Path(os.environ.get("TMPDIR") or "/var/tmp")
    return [p for p in (tmp / "buildah-cache" / UV_MOUNT,
                        tmp / f"buildah-cache-{os.getuid()}" / UV_MOUNT) if p.is_dir()]


def mark_used(path: str | os.PathLike[str]) -> None:
    """Record that a cached entry was reused now (its mtime; nothing else changes)."""
    with contextlib.suppress(OSError):
        os.utime(path)


# -- measuring ---------------------------------------------------------------------------


def _walk(path: Path) -> Iterator[os.stat_result]:
    """lstat of `path` and of everything under it (symlinks not followed)."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    yield st
    if not stat.S_ISDIR(st.st_mode):
        return
    stack = [str(path)]
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                for item in it:
                    try:
                        st = item.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    yield st
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(item.path)
        except OSError:
            continue


def _measure(paths: Iterable[Path], seen: dict[tuple[int, int], int]) -> tuple[int, float]:
    """(bytes on disk of what `paths` hold, newest mtime/atime); `seen` gathers inodes."""
    size, newest, mine = 0, 0.0, set()
    for path in paths:
        for st in _walk(path):
            key = (st.st_dev, st.st_ino)
            if key not in mine:
                mine.add(key)
                size += st.st_blocks * 512
                seen[key] = st.st_blocks * 512
            newest = max(newest, st.st_mtime,
                         st.st_atime if stat.S_ISREG(st.st_mode) else 0.0)
    return size, newest


def _children(folder: Path, depth: int) -> list[Path]:
    if depth == 0:
        return [folder] if folder.exists() else []
    try:
        items = sorted(folder.iterdir())
    except OSError:
        return []
    if depth == 1:
        return items
    return [x for item in items for x in
            (_children(item, depth - 1) if item.is_dir() and not item.is_symlink() else [item])]


def _read_quietly(path: Path) -> bytes:
    """The file's bytes, its atime untouched where the system allows (reading is not
    using: the survey must not make an entry look used)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0))
    except PermissionError:   # O_NOATIME: only the file's owner
        fd = os.open(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _layer_blobs(root: Path) -> dict[str, list[Path]]:
    """blob hex digest -> the layers/*.json that name it (layers dockyard assembled)."""
    out: dict[str, list[Path]] = {}
    for meta in sorted((root / "layers").glob("*.json")):
        try:
            digest = json.loads(_read_quietly(meta))["digest"]
        except (OSError, ValueError, KeyError, TypeError):
            out.setdefault(meta.name, []).append(meta)   # unreadable: removed on its own
            continue
        out.setdefault(str(digest).split(":", 1)[-1], []).append(meta)
    return out


def _file_caches(root: Path, seen: dict, progress: Progress | None) -> list[Cache]:
    ours = _layer_blobs(root)
    caches = []
    for kind in CACHES:
        folder = root / kind.folder
        if not folder.exists():
            continue
        if progress:
            progress(f"{kind.folder}/")
        groups: list[tuple[str, tuple[Path, ...]]]
        if kind.folder == "blobs":   # a layer of ours goes with its layers/*.json
            groups = [(p.name, (p,)) for p in _children(folder, kind.depth)
                      if p.name not in ours]
        elif kind.folder == "layers":
            blobs = root / "blobs" / "sha256"
            groups = [(name[:12], (*metas, blobs / name)) for name, metas in sorted(ours.items())]
            leftovers = [p for p in _children(folder, 1) if p.suffix != ".json"]
            groups += [(p.name, (p,)) for p in leftovers]
        else:
            groups = [(p.name, (p,)) for p in _children(folder, kind.depth)]
        entries, mine = [], {}
        for name, paths in groups:
            size, newest = _measure(paths, mine)
            entries.append(Entry(name, paths, size=size, last_used=newest))
        seen.update(mine)
        caches.append(Cache(kind.folder, str(folder), kind.what, kind.download, tuple(entries),
                            sum(mine.values())))
    return caches


def _mount_cache(seen: dict) -> list[Cache]:
    caches = []
    for path in uv_mounts():
        mine: dict = {}
        size, newest = _measure([path], mine)
        seen.update(mine)
        caches.append(Cache("uv-mount", str(path), "uv cache mount a Podman build left in "
                            "Podman's default place (dockyard's builds use their own)", False,
                            (Entry(path.name, (path,), size=size, last_used=newest),), size))
    return caches


def builder_images(engine, timeout: float | None = None) -> Cache | None:
    """The builder images dockyard keeps (or an interrupted build left), each with what it
    adds to the image it was built on (podman: its nearest named ancestor)."""
    if engine is None:
        return None
    if engine.name == "podman":
        done = engine.cli("images", "-a", "--format", "json", timeout=timeout)
        if not done.ok:
            log.info("podman images failed: %s", done.stderr.strip()[-300:])
            return None
        try:
            images = json.loads(done.stdout or "[]") or []
        except ValueError:
            return None
        return _podman_builders(images, engine.name)
    done = engine.cli("images", "-q", "--no-trunc", "--filter", f"label={BUILDER_LABEL}",
                      timeout=timeout)
    ids = sorted(set(done.stdout.split())) if done.ok else []
    if not ids:
        return None
    info = engine.cli("image", "inspect", *ids, timeout=timeout)
    try:
        docs = json.loads(info.stdout) if info.ok else []
    except ValueError:
        docs = []
    images = [{"Id": d.get("Id", ""), "Names": d.get("RepoTags") or [],
               "Size": d.get("Size", 0), "Labels": (d.get("Config") or {}).get("Labels") or {},
               "Created": _epoch(d.get("Created", "")), "ParentId": "",
               "Dangling": not d.get("RepoTags")} for d in docs]
    return _podman_builders(images, engine.name)


def _epoch(text: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text)
                                      .replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _podman_builders(images: list[dict[str, Any]], engine_name: str) -> Cache:
    """Pure: which of `images` (podman's `images -a --format json` records) are dockyard's
    builders, and their sizes over their base."""
    by_id = {str(i.get("Id", "")).removeprefix("sha256:"): i for i in images}
    parents = {str(i.get("ParentId") or "").removeprefix("sha256:") for i in images}
    entries = []
    for image_id, image in sorted(by_id.items()):
        labels = image.get("Labels") or {}
        if BUILDER_LABEL not in labels:
            continue
        names = [n for n in (image.get("Names") or image.get("RepoTags") or []) if n]
        ours = tuple(n for n in names if n.startswith(BUILDER_REPO + "/"))
        if names and not ours:
            continue      # the user named it: theirs
        if not names and image_id in parents:
            continue      # an intermediate layer of a builder: goes with it
        size = added = int(image.get("Size") or 0)
        step = image   # the image it was built on: its first ancestor with a name
        for _ in by_id:    # (at most as many steps as images: no endless walk)
            step = by_id.get(str(step.get("ParentId") or "").removeprefix("sha256:"))
            if step is None:
                break
            if step.get("Names") or step.get("RepoTags") or step.get("RepoDigests"):
                added = size - int(step.get("Size") or 0)
                break
        name = ours[0].removeprefix(BUILDER_REPO + "/") if ours else \
            f"{image_id[:12]} (untagged, {labels[BUILDER_LABEL]})"
        entries.append(Entry(name, image=image_id, tags=ours, size=max(added, 0),
                             last_used=float(image.get("Created") or 0)))
    return Cache("builders", f"{engine_name}: {BUILDER_REPO}/*", "builder images: the next "
                 "build's layer cache (size: what each adds to its base)", False,
                 tuple(entries), sum(e.size for e in entries))


def survey(engine=None, *, progress: Progress | None = None,
           timeout: float | None = None) -> Survey:
    """Every cache of dockyard's on this machine, measured (reads only). `timeout`: at most
    that long for the engine's answer (its storage may be locked by a build)."""
    root = cache_root()
    seen: dict[tuple[int, int], int] = {}
    caches = _file_caches(root, seen, progress) + _mount_cache(seen)
    total = sum(seen.values())
    if progress and engine is not None:
        progress(f"{engine.name} images")
    try:
        builders = builder_images(engine, timeout)
    except subprocess.TimeoutExpired:   # the engine's storage is busy: no images this time
        log.info("%s did not list its images within %s s", engine.name, timeout)
        builders = None
    if builders is not None and builders.entries:
        caches.append(builders)
        total += builders.size
    known = {k.folder for k in CACHES} | KEPT
    try:
        others = tuple(sorted(p.name for p in root.iterdir() if p.name not in known))
    except OSError:
        others = ()
    return Survey(root, tuple(caches), total, others, tuple(users(root)))


# -- choosing (pure) ---------------------------------------------------------------------


def parse_age(text: str) -> float:
    """'30d' -> seconds (s, m, h, d, w)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not m:
        raise CacheError(f"--older-than {text!r}: expected a number and a unit",
                         hint="e.g. --older-than 30d (s, m, h, d or w)")
    return float(m[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m[2]]


def select(found: Survey, *, keep_downloads: bool = False, older_than: float | None = None,
           now: float) -> tuple[tuple[Cache, tuple[Entry, ...]], ...]:
    """The entries `clean` removes, cache by cache."""
    out = []
    for cache in found.caches:
        if keep_downloads and cache.download:
            continue
        chosen = tuple(e for e in cache.entries
                       if older_than is None or now - e.last_used >= older_than)
        if chosen:
            out.append((cache, chosen))
    return tuple(out)


# -- removing ----------------------------------------------------------------------------


def _unlink_tree(path: Path) -> int:
    """Remove `path` and what it holds; the bytes freed (a file whose other hard links
    live on frees nothing). Read-only folders are made writable first."""
    freed = 0
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0
    if stat.S_ISDIR(st.st_mode):
        if not os.access(path, os.W_OK | os.X_OK):
            os.chmod(path, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
        with os.scandir(path) as it:
            children = [Path(item.path) for item in it]
        for child in children:
            freed += _unlink_tree(child)
        os.rmdir(path)
        return freed + st.st_blocks * 512
    try:
        os.unlink(path)
    except FileNotFoundError:
        return freed
    return st.st_blocks * 512 if st.st_nlink <= 1 else 0


def remove(chosen: Iterable[tuple[Cache, tuple[Entry, ...]]], engine=None,
           progress: Progress | None = None) -> Freed:
    """Remove the chosen entries (call it inside `exclusive()`); what was freed."""
    total, count, by_cache, kept = 0, 0, {}, []
    for cache, entries in chosen:
        if progress:
            progress(f"{cache.name}: {len(entries)} entries")
        freed = 0
        for entry in entries:
            if entry.image:
                gone = _remove_image(engine, entry)
                if gone:
                    freed += entry.size
                    count += 1
                else:
                    kept.append(f"{entry.name} (an image a container or another name uses)")
                continue
            for path in entry.paths:
                try:
                    freed += _unlink_tree(path)
                except OSError as exc:
                    kept.append(f"{path} ({exc.strerror or exc})")
                    break
            else:
                count += 1
        by_cache[cache.name] = freed
        total += freed
    return Freed(total, count, by_cache, tuple(kept))


def _remove_image(engine, entry: Entry) -> bool:
    if engine is None:
        return False
    for tag in entry.tags:      # dockyard's names only: an image named otherwise stays
        engine.cli("rmi", tag, timeout=300)
    if not entry.tags:
        engine.cli("rmi", entry.image, timeout=300)
    return not engine.cli("image", "inspect", entry.image).ok


# -- the lock ----------------------------------------------------------------------------

_held: dict[str, int] = {}   # lock path -> shared holds by this process


def _open_lock(root: Path) -> int | None:
    try:
        root.mkdir(parents=True, exist_ok=True)
        return os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        log.debug("no cache lock at %s: %s", root, exc)
        return None


def users(root: Path | None = None) -> list[str]:
    """The processes holding the cache lock, as 'pid N: command line' (from /proc/locks)."""
    path = (root or cache_root()) / LOCK_NAME
    try:
        ino = os.stat(path).st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if "->" in parts or len(parts) < 6 or parts[1] != "FLOCK":
            continue
        pid, where = parts[4], parts[5]
        if where.rsplit(":", 1)[-1] != str(ino) or pid == str(os.getpid()):
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv if a]
        at = next((i for i, w in enumerate(words) if "dockyard" in os.path.basename(w)), None)
        shown = ["dockyard", *words[at + 1:]] if at is not None else words
        out.append(redact(f"pid {pid}: " + " ".join(shown))[:160])
    return sorted(set(out))


def _wait(fd: int, mode: int, on_wait: Callable[[list[str]], None] | None,
          root: Path) -> None:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    while True:
        if on_wait:
            on_wait(users(root))
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(0.5)


@contextlib.contextmanager
def in_use(on_wait: Callable[[list[str]], None] | None = None) -> Iterator[None]:
    """Hold the caches for reading and adding while the block runs (waits for a clean).
    Best effort: a cache root that cannot be written goes without a lock."""
    root = cache_root()
    fd = _open_lock(root)
    if fd is None:
        yield
        return
    key = str(root / LOCK_NAME)
    try:
        _wait(fd, fcntl.LOCK_SH, on_wait, root)
        _held[key] = _held.get(key, 0) + 1
        try:
            yield
        finally:
            _held[key] -= 1
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive(on_wait: Callable[[list[str]], None] | None = None) -> Iterator[None]:
    """The caches to this process alone: waits until no dockyard command uses them."""
    root = cache_root()
    if _held.get(str(root / LOCK_NAME)):
        raise CacheError("this process itself uses the caches",
                         hint="clean them from another process (`dockyard cache clean`)")
    fd = _open_lock(root)
    if fd is None:
        raise CacheError(f"{root} cannot be locked (not writable)",
                         hint="check its owner and permissions")
    try:
        _wait(fd, fcntl.LOCK_EX, on_wait, root)
        yield
    finally:
        os.close(fd)


__all__ = ["CACHES", "Cache", "Entry", "Freed", "Kind", "Survey", "builder_images",
           "cache_root", "exclusive", "in_use", "mark_used", "parse_age", "remove",
           "select", "survey", "users", "uv_mounts"]
