"""Where an assembled image goes: an OCI layout, an OCI archive, a registry, an engine.

    write_layout(image, "out/", "myapp:1")      # oci:DIR (blobs hard-linked from the cache)
    write_archive(image, "myapp.tar", "myapp:1") # oci-archive:FILE, the same bytes every time
    push(image, "registry.example/myapp:1")      # mounts base layers from their repository
    load(image, engine, "myapp:1")               # into podman/docker storage

Nothing is left half-written: files are written aside and renamed; a blob
already present (in the layout, in the registry) is not sent again.
"""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from .assemble import Image
from .image import EMPTY, INDEX, MANIFEST, Descriptor, canonical, digest_of, manifest
from .registry import Repository, copy_file

Progress = Callable[[str], None]
REF_NAME = "org.opencontainers.image.ref.name"
SBOM_TYPE = "application/vnd.cyclonedx+json"


def _blob_path(root: Path, digest: str) -> Path:
    return root / "blobs" / digest.replace(":", "/", 1)


def _write_small(root: Path, data: bytes) -> None:
    path = _blob_path(root, digest_of(data))
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)


def write_layout(image: Image, dest: str | Path, tag: str = "",
                 progress: Progress | None = None) -> Path:
    """Add the image to the OCI layout `dest` (made if absent), named `tag` when given."""
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    layout = root / "oci-layout"
    if not layout.exists():
        layout.write_text('{"imageLayoutVersion":"1.0.0"}')
    for d in image.layers:
        target = _blob_path(root, d.digest)
        if not target.exists():
            if progress:
                progress(f"blob {d.digest[7:19]} ({d.size / 1e6:.0f} MB)")
            copy_file(image.blob(d.digest), target)
    _write_small(root, image.config)
    _write_small(root, image.manifest)
    if image.sbom:
        _write_small(root, image.sbom)
    index_path = root / "index.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else \
        {"schemaVersion": 2, "mediaType": INDEX, "manifests": []}
    entry = image.descriptor.as_json()
    if tag:
        entry["annotations"] = {REF_NAME: tag}
    kept = [m for m in index.get("manifests", [])
            if not (tag and (m.get("annotations") or {}).get(REF_NAME) == tag)
            and m.get("digest") != image.digest]
    index["manifests"] = sorted(kept + [entry], key=lambda m: (
        (m.get("annotations") or {}).get(REF_NAME, ""), m["digest"]))
    tmp = index_path.with_suffix(".part")
    tmp.write_bytes(canonical(index))
    os.replace(tmp, index_path)
    return root


def write_archive(image: Image, dest: str | Path, tag: str = "",
                  progress: Progress | None = None) -> Path:
    """The image as an OCI archive (a tar of a layout): sorted, dated 0, owned by 0:0."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".dockyard-layout-", dir=dest.parent) as tmp:
        root = write_layout(image, Path(tmp) / "layout", tag, progress)
        part = dest.with_name(f".{dest.name}.part")
        with tarfile.open(part, "w", format=tarfile.PAX_FORMAT) as tar:
            paths = sorted(p for p in root.rglob("*"))
            for path in paths:
                info = tar.gettarinfo(str(path), path.relative_to(root).as_posix())
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                info.mode = 0o755 if path.is_dir() else 0o644
                if path.is_file():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
        os.replace(part, dest)
    return dest


def _sbom_artifact(image: Image) -> tuple[dict, bytes]:
    empty = b"{}"
    doc = manifest(Descriptor(EMPTY, digest_of(empty), len(empty)),
                   [Descriptor(SBOM_TYPE, digest_of(image.sbom), len(image.sbom),
                               annotations=(("org.opencontainers.image.title",
                                             "sbom.cdx.json"),))],
                   subject=image.descriptor, artifact_type=SBOM_TYPE)
    return doc, empty


def push(image: Image, dest: str, progress: Progress | None = None) -> dict[str, object]:
    """Push to `dest` (HOST/NAME:TAG); the base's layers are mounted from their repository
    when the base comes from the same registry. What was sent, mounted or already there."""
    repo, tag = Repository.open(dest, push=True)
    origin = image.base.origin
    report: dict[str, object] = {"sent": [], "mounted": [], "present": [], "referrer": ""}
    for d in image.layers:
        if repo.has_blob(d.digest):
            report["present"].append(d.digest)  # type: ignore[union-attr]
            continue
        if origin and origin[0] == repo.registry.host and origin[1] != repo.name \
                and repo.mount(d.digest, origin[1]):
            report["mounted"].append(d.digest)  # type: ignore[union-attr]
            continue
        if progress:
            progress(f"sending {d.digest[7:19]} ({d.size / 1e6:.0f} MB)")
        repo.push_blob(d.digest, d.size, path=image.blob(d.digest))
        report["sent"].append(d.digest)  # type: ignore[union-attr]
    if not repo.has_blob(image.config_descriptor.digest):
        repo.push_blob(image.config_descriptor.digest, len(image.config), data=image.config)
    repo.put_manifest(tag, image.manifest, MANIFEST)
    if image.sbom:
        artifact, empty = _sbom_artifact(image)
        for data in (empty, image.sbom):
            if not repo.has_blob(digest_of(data)):
                repo.push_blob(digest_of(data), len(data), data=data)
        report["referrer"] = repo.attach(image.descriptor, artifact)
    return report


def load(image: Image, engine, tag: str, progress: Progress | None = None) -> str:
    """Put the image into the engine's storage as `tag`; the engine's image id."""
    scratch = image.blob(image.layers[-1].digest).parent  # the cache's disk: hard links
    with tempfile.TemporaryDirectory(prefix="dockyard-load-", dir=str(scratch)) as tmp:
        if engine.name == "podman":  # reads a layout in place, skips layers it has
            source = write_layout(image, Path(tmp) / "layout", tag, progress)
            # podman names the image after the path: one it accepts (no ".cache")
            link = Path(tempfile.gettempdir()) / f"dockyard-load-{os.getpid()}"
            link.unlink(missing_ok=True)
            link.symlink_to(source)
            try:
                done = engine.check("load", "-i", str(link), what="load")
            finally:
                link.unlink(missing_ok=True)
        else:
            source = write_archive(image, Path(tmp) / "image.tar", tag, progress)
            done = engine.check("load", "-i", str(source), what="load")
    image_id = image.config_descriptor.digest.removeprefix("sha256:")
    engine.check("tag", image_id, tag, what="tag")
    for line in done.stdout.splitlines():  # podman names a layout after its folder
        name = line.partition("Loaded image:")[2].strip()
        if name and name != tag and "dockyard-load-" in name:
            engine.cli("untag", image_id, name)
    return image_id


def sbom_manifest_digest(image: Image) -> str:
    return digest_of(canonical(_sbom_artifact(image)[0]))


__all__ = ["REF_NAME", "SBOM_TYPE", "load", "push", "sbom_manifest_digest", "write_archive",
           "write_layout"]
