"""Where an image comes from (the edge): engine storage, archives, OCI layouts, registries.

    myapp:1                        Podman/Docker storage, streamed from `save`
    containers-storage:myapp:1     the same, explicitly
    oci-archive:path.tar           an OCI image layout in a tar
    docker-archive:path.tar        `docker save` / `podman save` output
    oci:path/to/layout[:ref]       an OCI image layout directory
    docker://host:port/name:tag    a registry (HTTP API v2)

Every source yields the image config and each layer as a stream that
`scan.scan_layer` reads once; nothing is extracted to disk.
"""

from __future__ import annotations

import io
import json
import logging
import os
import posixpath
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from .. import lifecycle
from ..errors import AuditError
from .model import ImageConfig, LayerScan, RawImage, SecretHit
from .scan import BUFSIZE, GZIP_MAGIC, ZSTD_MAGIC, scan_layer
from .secrets import mask, scan_text, secret_env_name
from .tarstream import TarError, members

log = logging.getLogger(__name__)

OnBytes = Callable[[int], None]
TRANSPORTS = ("containers-storage", "oci-archive", "docker-archive", "oci", "docker")


@dataclass(frozen=True, slots=True)
class ImageRef:
    transport: str   # one of TRANSPORTS
    target: str      # path, engine ref or registry ref
    name: str = ""   # image name inside an archive or layout, optional

    def __str__(self) -> str:
        return self.target if self.transport == "containers-storage" else \
            f"{self.transport}:{self.target}" + (f":{self.name}" if self.name else "")


def parse_ref(text: str) -> ImageRef:
    """Parse IMAGE as given on the command line (see the module docstring)."""
    if text.startswith("docker://"):
        return ImageRef("docker", text[len("docker://"):])
    head, sep, rest = text.partition(":")
    if sep and head in ("oci-archive", "docker-archive", "oci"):
        path, _, name = rest.partition(":") if head == "oci" else (rest, "", "")
        if not path:
            raise AuditError(f"{text!r}: no path after {head}:",
                             hint=f"write {head}:PATH, e.g. {head}:image.tar")
        return ImageRef(head, path, name)
    if sep and head == "containers-storage":
        return ImageRef("containers-storage", rest)
    if not text:
        raise AuditError("no image given", hint="dockyard check IMAGE (see dockyard check -h)")
    return ImageRef("containers-storage", text)


def read_image(ref: ImageRef, *, engine=None, tls_verify: bool = True,
               on_bytes: OnBytes | None = None, layers: bool = True) -> RawImage:
    """Read an image from its source; `layers=False` reads only its config."""
    if ref.transport == "containers-storage":
        return _from_engine(ref, engine, on_bytes, layers)
    if ref.transport in ("oci-archive", "docker-archive"):
        if not os.path.isfile(ref.target):
            raise AuditError(f"{ref.target}: no such archive",
                             hint="give the path of a file written by `podman save`")
        with open(ref.target, "rb") as f:
            return read_archive(f, str(ref), on_bytes=on_bytes, layers=layers)
    if ref.transport == "oci":
        return _from_layout(ref, on_bytes, layers)
    from .registry import read_registry

    return read_registry(ref.target, tls_verify=tls_verify, on_bytes=on_bytes, layers=layers)


def config_of(ref: ImageRef, *, engine=None, tls_verify: bool = True) -> ImageConfig:
    """Only the config of an image (for --base): cheap for engines and registries."""
    if ref.transport == "containers-storage":
        engine = _need_engine(engine)
        data = _inspect(engine, ref.target)
        return ImageConfig.from_json({"config": data.get("Config") or {},
                                      "rootfs": data.get("RootFS") or {},
                                      "history": data.get("History") or []})
    return read_image(ref, engine=engine, tls_verify=tls_verify, layers=False).config


# ---- engine storage ---------------------------------------------------------------------

def _need_engine(engine):
    if engine is None:
        from ..engines import get_engine

        engine = get_engine(None)
    return engine


def _inspect(engine, name: str) -> dict[str, Any]:
    done = engine.cli("image", "inspect", name)
    if not done.ok:
        raise AuditError(f"image {name!r} is not in {engine.name} storage",
                         hint=f"build or pull it first, or name an archive "
                              f"(oci-archive:PATH, docker-archive:PATH) or docker://REGISTRY/{name}")
    data = json.loads(done.stdout)
    return data[0] if isinstance(data, list) else data


def _from_engine(ref: ImageRef, engine, on_bytes: OnBytes | None, layers: bool) -> RawImage:
    engine = _need_engine(engine)
    _inspect(engine, ref.target)
    # docker-archive streams (the OCI archive writer of containers/image stages to disk
    # and recompresses), and its layers are uncompressed: the cheapest way to read once.
    args = [engine.binary, "save"]
    if engine.name == "podman":
        args += ["--format", "docker-archive"]
    # stderr goes to a file: a pipe nobody reads while stdout streams could fill and block it
    with tempfile.TemporaryFile() as errfile:
        with lifecycle.child([*args, ref.target], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=errfile, bufsize=BUFSIZE) as proc:
            assert proc.stdout is not None
            image = read_archive(proc.stdout, ref.target, on_bytes=on_bytes, layers=layers)
            while proc.stdout.read(BUFSIZE):   # drain what the reader did not need
                pass
        code = proc.returncode
        errfile.seek(0)
        err = errfile.read().decode("utf-8", "replace")
    if code != 0:
        raise AuditError(f"{engine.name} save {ref.target} failed (exit {code}): "
                         f"{mask(err)[-500:]}",
                         hint=f"run `{engine.name} save {ref.target} -o /dev/null` to see more")
    return image


# ---- archives (streamed) ------------------------------------------------------------------

class _Raw(io.RawIOBase):
    """Any binary stream (a pipe, a file, an HTTP response) as a raw stream to buffer."""

    def __init__(self, src: BinaryIO):
        self.src = src

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        if hasattr(self.src, "readinto"):
            return self.src.readinto(buf)
        data = self.src.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def _is_layer(magic: bytes) -> bool:
    return magic.startswith((GZIP_MAGIC, ZSTD_MAGIC)) or magic[257:262] == b"ustar"


def read_archive(stream: BinaryIO, ref: str, *, on_bytes: OnBytes | None = None,
                 layers: bool = True) -> RawImage:
    """An OCI or docker archive read front to back: the members come in any order."""
    small: dict[str, bytes] = {}      # json documents by member name
    scans: dict[str, LayerScan] = {}  # layers by member name
    links: dict[str, str] = {}
    try:
        for member in members(io.BufferedReader(_Raw(stream), buffer_size=BUFSIZE)):
            name = posixpath.normpath(member.name.lstrip("./") or ".")
            if member.type in (b"1", b"2"):
                links[name] = posixpath.normpath(
                    posixpath.join(posixpath.dirname(name), member.linkname)
                    if member.type == b"2" else member.linkname)
                continue
            if not member.isfile():
                continue
            head = member.data.peek(512)[:512]
            if member.size < (8 << 20) and head.lstrip()[:1] in (b"{", b"["):
                small[name] = member.data.read()
            elif layers and (_is_layer(head) or not head.strip(b"\0")):
                scans[name] = scan_layer(member.data, name, on_bytes)
            elif on_bytes:
                on_bytes(member.size)
    except TarError as exc:
        raise AuditError(f"{ref}: not a readable image archive: {exc}",
                         hint="give a file written by `podman save` or `skopeo copy`") from exc

    def blob(name: str) -> str:
        seen = 0
        while name in links and seen < 8:
            name, seen = links[name], seen + 1
        return name

    if "index.json" in small:
        manifest = _pick_manifest(json.loads(small["index.json"]),
                                  lambda d: json.loads(small[_blob_path(d)]), ref)
        config = json.loads(small[_blob_path(manifest["config"]["digest"])])
        order = [blob(_blob_path(lay["digest"])) for lay in manifest.get("layers", [])]
    elif "manifest.json" in small:
        entry = json.loads(small["manifest.json"])[0]
        config = json.loads(small[blob(entry["Config"])])
        order = [blob(p) for p in entry["Layers"]]
    else:
        raise AuditError(f"{ref}: neither index.json nor manifest.json in the archive",
                         hint="is it an image archive? (`podman save --format oci-archive`)")
    if not layers:
        return raw_image(ref, config, [])
    missing = [p for p in order if p not in scans]
    if missing:
        raise AuditError(f"{ref}: layer {missing[0]} is missing from the archive",
                         hint="the archive is incomplete; save the image again")
    return raw_image(ref, config, [scans[p] for p in order])


def _blob_path(digest: str) -> str:
    algo, _, hexa = digest.partition(":")
    return f"blobs/{algo}/{hexa}"


def _pick_manifest(index: dict[str, Any], load: Callable[[str], dict[str, Any]],
                   ref: str, name: str = "") -> dict[str, Any]:
    """The image manifest for linux/amd64 (or the only one) from an OCI index."""
    manifests = index.get("manifests") or []
    if name:
        manifests = [m for m in manifests
                     if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name")
                     == name] or manifests
    if not manifests:
        raise AuditError(f"{ref}: the index lists no image", hint="save the image again")
    chosen = manifests[0]
    for m in manifests:
        plat = m.get("platform") or {}
        if plat.get("os") == "linux" and plat.get("architecture") == "amd64":
            chosen = m
            break
    doc = load(chosen["digest"])
    if "manifests" in doc:   # a nested index
        return _pick_manifest(doc, load, ref)
    return doc


# ---- OCI layout directory --------------------------------------------------------------

def _from_layout(ref: ImageRef, on_bytes: OnBytes | None, layers: bool) -> RawImage:
    root = ref.target
    index_path = os.path.join(root, "index.json")
    if not os.path.isfile(index_path):
        raise AuditError(f"{root}: not an OCI layout (no index.json)",
                         hint="give a directory written by `skopeo copy ... oci:DIR`")

    def load(digest: str) -> dict[str, Any]:
        with open(os.path.join(root, _blob_path(digest)), "rb") as f:
            return json.load(f)

    with open(index_path, "rb") as f:
        manifest = _pick_manifest(json.load(f), load, str(ref), ref.name)
    config = load(manifest["config"]["digest"])
    scans = []
    if layers:
        for lay in manifest.get("layers", []):
            with open(os.path.join(root, _blob_path(lay["digest"])), "rb") as f:
                scans.append(scan_layer(f, lay["digest"], on_bytes))
    return raw_image(str(ref), config, scans)


# ---- pure assembly ------------------------------------------------------------------------

def raw_image(ref: str, config: dict[str, Any], scans: list[LayerScan]) -> RawImage:
    """Config + ordered layer scans -> RawImage; ENV and history are scanned, then masked."""
    conf = config.get("config") or {}
    hits: list[SecretHit] = []
    for item in conf.get("Env") or ():
        key, _, value = item.partition("=")
        found = scan_text(f"ENV {key}", value, config=False)
        if not found and secret_env_name(key) and value:
            found = [SecretHit("env-secret", f"ENV {key}", f"{key}=***")]
        hits += found
    for i, h in enumerate(config.get("history") or ()):
        hits += scan_text(f"history[{i}]", h.get("created_by", ""), config=False)
    parsed = ImageConfig.from_json(config)
    if scans and parsed.diff_ids and len(parsed.diff_ids) != len(scans):
        raise AuditError(f"{ref}: the config lists {len(parsed.diff_ids)} layers, "
                         f"the manifest {len(scans)}", hint="the image is inconsistent")
    return RawImage(ref=ref, config=parsed, layers=tuple(scans), secrets=tuple(hits))
