"""The image from a plan without an engine: the base's blobs plus three layers of ours.

    image = assemble(prepared, base, progress=print)

Layers, in the Containerfile's order (so both paths give the same tree):
1. the environment at the plan's prefix (`materialize_env`), owned by the plan's uid:gid;
2. the kernel spec in the kernel directory the base's Jupyter searches, the lock
   at /opt/dockyard/dockyard.lock and the SBOM at /opt/dockyard/sbom.cdx.json (root);
3. the project's package at /opt/dockyard/app (`materialize_app`), uid:gid.

Each layer of ours is cached by what it is made from (`~/.cache/dockyard/layers`):
the environment by the lock's artifacts, the prefix, owners and dates; the
project by its filtered source. A code-only change rebuilds layer 3 only, in
about the time its wheel takes to build. Every date is SOURCE_DATE_EPOCH (else
1980-01-01), so the same lock, base and source give the same image digest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..caches import mark_used
from ..materialize import materialize_app, materialize_env, source_date_epoch
from ..render import kernel_json
from ..render.stage import cache_dir, copy_tree, ignore_rules
from .base import BaseImage, cached_blob
from .image import (
    CONFIG,
    MANIFEST,
    Descriptor,
    NewLayer,
    canonical,
    digest_of,
    image_config,
    manifest,
)
from .layer import GZIP_LEVEL, dir_entry, file_entry, tree_entries, write_layer

if TYPE_CHECKING:
    from ..pipeline import Prepared

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
FORMAT = 3  # bump when the layers' bytes change for the same inputs
SBOM_IN_IMAGE = "/opt/dockyard/sbom.cdx.json"


@dataclass
class Image:
    """An assembled image: its documents and where each blob is on this machine."""

    config: bytes
    manifest: bytes
    layers: list[Descriptor]  # base first
    files: dict[str, Path]
    base: BaseImage
    built: list[str] = field(default_factory=list)  # our layers made this time (not cached)
    sbom: bytes = b""

    @property
    def config_descriptor(self) -> Descriptor:
        return Descriptor(CONFIG, digest_of(self.config), len(self.config))

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(MANIFEST, digest_of(self.manifest), len(self.manifest))

    @property
    def digest(self) -> str:
        return self.descriptor.digest

    def blob(self, digest: str) -> Path:
        return self.files[digest] if digest in self.files else self.base.blob(digest)


def _key(doc: Any) -> str:
    return hashlib.sha256(canonical(doc)).hexdigest()


def _tree_hash(top: Path) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            rel = path.relative_to(top).as_posix()
            h.update(f"{rel}\0{path.lstat().st_mode & 0o777}\0".encode())
            h.update(os.readlink(path).encode() if path.is_symlink() else path.read_bytes())
    return h.hexdigest()


def _env_key(p: Prepared, glibc: str, epoch: int, level: int, folders: dict) -> str:
    plan = p.plan
    paths = {s.name: _tree_hash((p.root / s.url).resolve()) for s in plan.sources
             if s.kind == "path" and (p.root / s.url).is_dir()}
    return _key({
        "format": FORMAT, "prefix": plan.prefix, "uid": plan.uid, "gid": plan.gid,
        "app": plan.app_dir if plan.install_project else "",
        "interpreter": asdict(plan.interpreter), "uv": asdict(plan.uv),
        "conda": [asdict(a) for a in plan.conda], "wheels": [asdict(w) for w in plan.wheels],
        "sources": [asdict(s) for s in plan.sources], "paths": paths,
        "glibc": glibc, "epoch": epoch, "level": level,
        "above": [folders[x["path"]] for x in map(asdict, parents(plan.prefix, folders, 0))],
    })


def _cached(kind: str, key: str) -> dict[str, Any] | None:
    path = cache_dir() / "layers" / f"{kind}-{key}.json"
    if not path.is_file():
        return None
    meta = json.loads(path.read_text())
    mark_used(path)
    return meta if cached_blob(meta["digest"]).is_file() else None


def _store(kind: str, key: str, blob_path: Path, blob, extra: dict[str, Any]) -> dict:
    final = cached_blob(blob.digest)
    if not final.exists():
        os.replace(blob_path, final)
    meta = {"digest": blob.digest, "diff_id": blob.diff_id, "size": blob.size, **extra}
    path = cache_dir() / "layers" / f"{kind}-{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(meta, sort_keys=True))
    os.replace(tmp, path)
    return meta


def _layer(meta: dict[str, Any], created_by: str, comment: str) -> NewLayer:
    return NewLayer(Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", meta["digest"],
                               meta["size"]), meta["diff_id"], created_by, comment)


def _say(progress: Progress | None, line: str) -> None:
    log.info("%s", line)
    if progress:
        progress(line)


def _kernel_spec(p: Prepared, activation: dict[str, str]) -> bytes:
    spec = json.loads(kernel_json(p.plan))
    if p.plan.conda:
        spec["env"] = dict(sorted(activation.items()))
    return (json.dumps(spec, indent=1, sort_keys=True) + "\n").encode()


def folders_above(base_folders: dict[str, tuple[int, int, int]], plan,
                  ) -> dict[str, tuple[int, int, int]]:
    """The folders above what dockyard adds, as they are once its layers are applied:
    the base's where it has them; those the environment's copy creates are owned like it
    (an engine's `COPY --chown` does the same), the others 0755 root."""
    out = dict(base_folders)
    for path, owner in ((plan.prefix, (plan.uid, plan.gid)), (plan.app_dir, (plan.uid, plan.gid)),
                        (plan.kernel.directory, (0, 0)), (plan.lock_in_image, (0, 0))):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            out.setdefault("/".join(parts[:i]), (0o755, *owner))
    return out


def parents(path: str, folders: dict[str, tuple[int, int, int]], epoch: int) -> list:
    """Entries for the folders above `path`: a layer that omits them makes the runtime
    create them as root in its upper dir, hiding the owner the folder really has."""
    parts = path.strip("/").split("/")
    out = []
    for i in range(1, len(parts)):
        name = "/".join(parts[:i])
        mode, uid, gid = folders[name]
        out.append(dir_entry(name, epoch, mode=mode, uid=uid, gid=gid))
    return out


def environment_layer(p: Prepared, glibc: str, epoch: int, level: int, work: Path,
                      progress: Progress | None, built: list[str],
                      folders: dict[str, tuple[int, int, int]]) -> tuple[dict, bool]:
    key = _env_key(p, glibc, epoch, level, folders)
    meta = _cached("env", key)
    if meta:
        _say(progress, f"environment layer: cached ({meta['digest'][7:19]})")
        return meta, False
    real = next((x.real for x in p.facts.pythons
                 if x.path == p.plan.interpreter.base_python and x.real), None)
    env = materialize_env(p.plan, p.lock, p.root, work / "env-root", glibc=glibc, epoch=epoch,
                          progress=progress, base_interpreter=real)
    _say(progress, f"writing the environment layer ({p.plan.prefix})")
    blob = write_layer([*parents(env.prefix, folders, epoch),
                        *tree_entries(env.root, env.prefix, p.plan.uid, p.plan.gid)],
                       work / "env.tar.gz", level)
    activation = json.loads(env.kernel_json).get("env", {})
    built.append("environment")
    return _store("env", key, work / "env.tar.gz", blob, {"activation": activation}), True


def project_layer(p: Prepared, epoch: int, level: int, work: Path,
                  progress: Progress | None, built: list[str],
                  folders: dict[str, tuple[int, int, int]]) -> dict | None:
    plan = p.plan
    if not plan.install_project:
        return None
    source = work / "project-source"
    copy_tree(p.root, source, rules=ignore_rules(p.root))
    above = [asdict(x) for x in parents(plan.app_dir, folders, epoch)]
    key = _key({"format": FORMAT, "source": _tree_hash(source), "app": plan.app_dir,
                "above": above,
                "prefix": plan.prefix, "python": plan.interpreter.version, "uid": plan.uid,
                "gid": plan.gid, "epoch": epoch, "level": level, "name": plan.project_name})
    meta = _cached("app", key)
    if meta:
        _say(progress, f"project layer: cached ({meta['digest'][7:19]})")
        return meta
    root = work / "app-root"
    materialize_app(plan, source, root, epoch=epoch, progress=progress)
    blob = write_layer([*parents(plan.app_dir, folders, epoch),
                        *tree_entries(root, plan.app_dir, plan.uid, plan.gid)],
                       work / "app.tar.gz", level)
    built.append("project")
    return _store("app", key, work / "app.tar.gz", blob, {})


def assemble(p: Prepared, base: BaseImage, *, glibc: str | None = None,
             level: int = GZIP_LEVEL, sbom: bytes | None = None,
             progress: Progress | None = None) -> Image:
    """The image of `p` on `base` (see the module docstring); nothing is written but
    dockyard's caches."""
    plan = p.plan
    epoch = source_date_epoch()
    glibc = glibc or p.facts.glibc or p.lock.target.glibc
    built: list[str] = []
    from .probe import base_folders

    folders = folders_above(base_folders(base), plan)
    with tempfile.TemporaryDirectory(prefix="dockyard-assemble-", dir=_work_dir()) as tmp:
        work = Path(tmp)
        env_meta, _ = environment_layer(p, glibc, epoch, level, work, progress, built, folders)
        kernel = _kernel_spec(p, env_meta.get("activation", {}))
        entries = [*parents(plan.kernel.directory, folders, epoch),
                   dir_entry(plan.kernel.directory, epoch),
                   file_entry(f"{plan.kernel.directory}/kernel.json", kernel, epoch),
                   *parents(plan.lock_in_image, folders, epoch),
                   file_entry(plan.lock_in_image, p.lock_text.encode(), epoch)]
        if sbom is not None:
            entries.append(file_entry(SBOM_IN_IMAGE, sbom, epoch))
        entries = sorted({e.path: e for e in entries}.values(), key=lambda e: e.path)
        meta_blob = write_layer(entries, work / "meta.tar.gz", level)
        meta = _store("meta", meta_blob.digest[7:], work / "meta.tar.gz", meta_blob, {})
        app_meta = project_layer(p, epoch, level, work, progress, built, folders)
    ours = [_layer(env_meta, f"dockyard: the environment at {plan.prefix}",
                   f"{len(plan.conda)} conda, {len(plan.wheels)} PyPI, "
                   f"{len(plan.sources)} source packages, owned by {plan.owner}"),
            _layer(meta, f"dockyard: kernel {plan.kernel.name!r} in {plan.kernel.directory}, "
                   f"the lock at {plan.lock_in_image}", "")]
    if app_meta:
        ours.append(_layer(app_meta, f"dockyard: the project's package at {plan.app_dir}", ""))
    config = canonical(image_config(base.config, plan, ours, epoch))
    config_desc = Descriptor(CONFIG, digest_of(config), len(config))
    layers = list(base.layers) + [x.descriptor for x in ours]
    doc = canonical(manifest(config_desc, layers))
    files = {x.descriptor.digest: cached_blob(x.descriptor.digest) for x in ours}
    return Image(config, doc, layers, files, base, built, sbom or b"")


def _work_dir() -> str:
    """Scratch beside the cache (same disk: layers move into it without a copy)."""
    path = cache_dir() / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


__all__ = ["FORMAT", "Image", "SBOM_IN_IMAGE", "assemble"]
