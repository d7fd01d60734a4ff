"""What a build leaves behind, and what dockyard cleans up after it.

A multi-stage build leaves its builder stage as an untagged image (gigabytes: the
whole environment before it is copied into the final stage). It is what makes the next
build fast (its layers are the cache), so dockyard keeps exactly one per project and
base, tagged `localhost/dockyard-builder/<project>:<base>` (a short hash of the base's
pinned reference), and removes the one it replaces,
any untagged builder of the same project an interrupted build left, and the previous
image of the tag it built when nothing else names it. It never touches an image it did
not make: builder images carry the label `io.dockyard.builder=<project>`, final images
the `io.dockyard.base` label.

`BuildWatch` reads the engine's output as it streams (steps run and cached, the
builder stage's image id); `cache_mount` says where the uv cache mount lives and how
much it holds.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import CliEngine

BUILDER_REPO = "localhost/dockyard-builder"
CACHE_ID = "dockyard-uv"


@dataclass
class BuildWatch:
    """Follows `podman build` output: steps run or cached, and the builder stage's image."""

    run: int = 0
    cached: int = 0
    stage: int = 0
    builder_id: str = ""
    lines: list[str] = field(default_factory=list)

    def __call__(self, line: str) -> None:
        m = re.match(r"\[(\d+)/\d+\] STEP \d+/\d+: (.*)", line.strip())
        if m:
            self.stage = int(m[1])
            if not m[2].startswith("FROM"):
                self.run += 1
        elif re.search(r"STEP \d+/\d+: (?!FROM)", line):  # single-stage output
            self.run += 1
        if "Using cache" in line or line.strip().startswith("CACHED"):
            self.cached += 1
        found = re.match(r"--> (?:Using cache )?([0-9a-f]{11,64})\s*$", line.strip())
        if found and self.stage == 1:
            self.builder_id = found[1]


@dataclass(frozen=True)
class Tidied:
    builder: str = ""  # the tag the builder stage is kept under
    builder_size: int = 0
    removed: tuple[str, ...] = ()  # image ids removed


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.") or "app"


def _label(engine: CliEngine, ref: str, key: str) -> str | None:
    labels = (engine.inspect(ref).get("Config") or {}).get("Labels") or {}
    return labels.get(key)


def builder_tag(project: str, base_from: str) -> str:
    import hashlib

    return f"{BUILDER_REPO}/{_slug(project)}:{hashlib.sha256(base_from.encode()).hexdigest()[:12]}"


def tidy_after_build(engine: CliEngine, watch: BuildWatch, project: str, tag: str,
                     previous: str | None, base_from: str = "") -> Tidied:
    """Keep this build's builder image under one tag per project, remove what it replaces.

    `previous`: the id `tag` named before the build (its image is removed when the build
    moved the tag away and no other name or container holds it)."""
    if engine.name != "podman":
        return Tidied()
    removed: list[str] = []

    def remove(image_id: str) -> None:
        if engine.cli("rmi", image_id, timeout=300).ok:  # fails while a container uses it
            removed.append(image_id)

    keep = ""
    if watch.builder_id and engine.exists(watch.builder_id) and \
            _label(engine, watch.builder_id, "io.dockyard.builder") == project:
        keep = builder_tag(project, base_from)
        old = engine.inspect(keep)["Id"] if engine.exists(keep) else None
        engine.check("tag", watch.builder_id, keep, what="tag")
        new = engine.inspect(keep)["Id"]
        if old and old != new:
            remove(old)
        dangling = engine.cli("images", "-q", "--no-trunc", "--filter", "dangling=true",
                              "--filter", f"label=io.dockyard.builder={project}").stdout
        for image_id in dangling.split():
            if image_id.removeprefix("sha256:") != new.removeprefix("sha256:"):
                remove(image_id)
    now = engine.inspect(tag)["Id"] if engine.exists(tag) else None
    if previous and previous != now and engine.exists(previous):
        info = engine.inspect(previous)
        labels = (info.get("Config") or {}).get("Labels") or {}
        if not info.get("RepoTags") and "io.dockyard.base" in labels:
            remove(previous)
    size = int(engine.inspect(keep).get("Size") or 0) if keep else 0
    return Tidied(keep, size, tuple(removed))


def cache_mount(engine: CliEngine) -> tuple[Path | None, int]:
    """A uv cache mount (`--mount=type=cache,id=dockyard-uv`) left where Podman keeps them by
    default, and the bytes it holds; (None, 0) when there is none. dockyard's builds give
    Podman a temporary folder of their own (engines.CliEngine.build), so the cache mount
    goes with each build; one found here is an earlier build's, kept by Podman."""
    if engine.name != "podman":
        return None, 0
    tmp = Path(os.environ.get("TMPDIR") or "/var/tmp")
    uid = os.getuid()
    for base in (tmp / "buildah-cache", tmp / f"buildah-cache-{uid}"):
        path = base / CACHE_ID
        if path.is_dir():
            return path, _du(path)
    return None, 0


def _du(path: Path) -> int:
    total = 0
    seen: set[int] = set()
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_blocks * 512
    return total


__all__ = ["BUILDER_REPO", "BuildWatch", "Tidied", "builder_tag", "cache_mount",
           "tidy_after_build"]
