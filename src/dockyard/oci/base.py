"""The base image as blobs: from an engine's storage, an OCI layout or archive, a registry.

    base = open_base("localhost/platform:1", engine)     # podman/docker storage
    base = open_base("oci:/path/layout[:ref]")          # an OCI image layout
    base = open_base("oci-archive:/path/base.tar")
    base = open_base("docker://registry.example/platform@sha256:...")

A `BaseImage` has the base's config, its layer descriptors, the digest that
pins it, and `blob(digest)`: the local file of a blob, fetched once into
dockyard's blob cache (`~/.cache/dockyard/blobs`, by digest). A registry base
remembers where it came from so a push to the same registry mounts its
layers instead of moving them. Engine storage is exported once per image id
(`podman save --format oci-dir`: uncompressed layers, no recompression).
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..caches import mark_used
from ..errors import BuildError
from ..render.stage import cache_dir
from .image import Descriptor, digest_of
from .registry import Repository, copy_file


def blob_cache() -> Path:
    path = cache_dir() / "blobs" / "sha256"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_blob(digest: str) -> Path:
    return blob_cache() / digest.split(":", 1)[1]


@dataclass
class BaseImage:
    ref: str  # as given
    pinned: str  # a reference by digest (registry) or the image id
    manifest_digest: str
    config: dict[str, Any]
    layers: list[Descriptor]
    config_digest: str = ""
    files: dict[str, Path] = field(default_factory=dict)  # digest -> local file
    origin: tuple[str, str] | None = None  # (registry host, repository) for mounts
    repository: Repository | None = None

    def blob(self, digest: str, on_bytes: Callable[[int], None] | None = None) -> Path:
        """A local file with the blob's bytes (downloaded once when the base is remote)."""
        if digest in self.files:
            return self.files[digest]
        path = cached_blob(digest)
        if not path.exists():
            if self.repository is None:
                raise BuildError(f"base layer {digest} is missing",
                                 hint="export the base again")
            self.repository.fetch_blob(digest, path, on_bytes)
        self.files[digest] = path
        return path


def _pick(index: dict[str, Any], load: Callable[[str], bytes], name: str = "") -> str:
    manifests = index.get("manifests") or []
    if name:
        manifests = [m for m in manifests if (m.get("annotations") or {}).get(
            "org.opencontainers.image.ref.name") == name] or manifests
    if not manifests:
        raise BuildError("the base's index lists no image", hint="export the base again")
    chosen = next((m for m in manifests if (m.get("platform") or {}).get("architecture")
                   == "amd64" and (m.get("platform") or {}).get("os") == "linux"), manifests[0])
    doc = json.loads(load(chosen["digest"]))
    return _pick(doc, load) if "manifests" in doc else chosen["digest"]


def _from_layout(root: Path, ref: str, name: str = "") -> BaseImage:
    index_path = root / "index.json"
    if not index_path.is_file():
        raise BuildError(f"{root} is not an OCI layout (no index.json)",
                         hint="give a folder written by `skopeo copy ... oci:DIR` or "
                         "`podman save --format oci-dir`")

    def path(digest: str) -> Path:
        return root / "blobs" / digest.replace(":", "/", 1)

    def load(digest: str) -> bytes:
        return path(digest).read_bytes()

    digest = _pick(json.loads(index_path.read_text()), load, name)
    manifest = json.loads(load(digest))
    config = json.loads(load(manifest["config"]["digest"]))
    layers = [Descriptor.from_json(x) for x in manifest.get("layers", [])]
    return BaseImage(ref, digest, digest, config, layers, manifest["config"]["digest"],
                     files={x.digest: path(x.digest) for x in layers})


def _from_archive(path: Path, ref: str) -> BaseImage:
    if not path.is_file():
        raise BuildError(f"{path}: no such archive", hint="give an OCI archive (podman save "
                         "--format oci-archive)")
    stat = path.stat()
    key = digest_of(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())[7:39]
    root = cache_dir() / "bases" / f"archive-{key}"
    if not (root / "index.json").is_file():
        tmp = Path(tempfile.mkdtemp(prefix=".archive-", dir=root.parent if root.parent.exists()
                                    else _mkdir(root.parent)))
        with tarfile.open(path) as tar:
            tar.extractall(tmp, filter="data")
        shutil.rmtree(root, ignore_errors=True)
        os.replace(tmp, root)
    mark_used(root)
    return _from_layout(root, ref)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _from_engine(engine, ref: str) -> BaseImage:
    done = engine.cli("image", "inspect", ref)
    if not done.ok:
        raise BuildError(f"base image {ref!r} is not in {engine.name} storage",
                         hint="pull or build it first, or give oci:DIR, oci-archive:FILE or "
                         "docker://REGISTRY/NAME@DIGEST")
    info = json.loads(done.stdout)
    info = info[0] if isinstance(info, list) else info
    image_id = info["Id"].removeprefix("sha256:")
    root = _mkdir(cache_dir() / "bases") / f"{engine.name}-{image_id}"
    if not (root / "index.json").is_file():
        tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=root.parent))
        shutil.rmtree(tmp)
        args = ["save", "--format", "oci-dir", "-o", str(tmp), ref] if engine.name == "podman" \
            else None
        if args is None:  # docker: an OCI archive (docker 25+) unpacked
            with tempfile.TemporaryDirectory() as t:
                archive = Path(t) / "base.tar"
                engine.check("save", "-o", str(archive), ref, what="save")
                with tarfile.open(archive) as tar:
                    tar.extractall(tmp, filter="data")
        else:
            engine.check(*args, what="save")
        shutil.rmtree(root, ignore_errors=True)
        os.replace(tmp, root)
    mark_used(root)
    base = _from_layout(root, ref)
    digests = [d.split("@", 1)[1] for d in info.get("RepoDigests") or () if "@" in d]
    base.pinned = f"{ref.split('@')[0]}@{digests[0]}" if digests else "sha256:" + image_id
    return base


def _from_registry(ref: str) -> BaseImage:
    repo, tag = Repository.open(ref)
    data, media, digest = repo.get_manifest(tag)
    doc = json.loads(data)
    if "manifests" in doc:
        digest = _pick(doc, lambda d: repo.get_manifest(d)[0])
        data, media, digest = repo.get_manifest(digest)
        doc = json.loads(data)
    config_path = cached_blob(doc["config"]["digest"])
    if not config_path.exists():
        repo.fetch_blob(doc["config"]["digest"], config_path)
    config = json.loads(config_path.read_text())
    host_name = ref.removeprefix("docker://").split("@")[0]
    last = host_name.rsplit("/", 1)[-1]
    if ":" in last:
        host_name = host_name.rsplit(":", 1)[0]
    base = BaseImage(ref, f"{host_name}@{digest}", digest, config,
                     [Descriptor.from_json(x) for x in doc.get("layers", [])],
                     doc["config"]["digest"], origin=(repo.registry.host, repo.name),
                     repository=repo)
    return base


def open_base(ref: str, engine=None) -> BaseImage:
    """The base image named by `ref` (see the module docstring)."""
    if ref.startswith("docker://"):
        return _from_registry(ref)
    head, sep, rest = ref.partition(":")
    if sep and head == "oci":
        path, _, name = rest.partition(":")
        return _from_layout(Path(path), ref, name)
    if sep and head == "oci-archive":
        return _from_archive(Path(rest), ref)
    if engine is None:
        raise BuildError(f"base image {ref!r}: no engine to read it from",
                         hint="give the base as oci:DIR, oci-archive:FILE or docker://REF")
    return _from_engine(engine, ref.removeprefix("containers-storage:"))


__all__ = ["BaseImage", "blob_cache", "cached_blob", "copy_file", "open_base"]
