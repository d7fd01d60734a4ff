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

import hashlib
import io
import json
import logging
import os
import posixpath
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from .. import lifecycle
from ..errors import AuditError
from .model import ImageConfig, LayerScan, RawImage, SecretHit
from .scan import BUFSIZE, ENTRY_COST, GZIP_MAGIC, ZSTD_MAGIC, Budget, scan_layer
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


# ---- documents and digests: checked before anything is opened or trusted -----------------

MAX_DOC = 8 << 20        # a manifest, an index or a config: larger is not an image's
MAX_DOCS = 64 << 20      # all the JSON documents of one archive together
MAX_INDEX_DEPTH = 4      # an index may point to an index; not forever
_HEX = {"sha256": re.compile(r"[a-f0-9]{64}"), "sha512": re.compile(r"[a-f0-9]{128}")}


def _shown(value: object) -> str:
    text = repr(value)
    return mask(text if len(text) <= 80 else text[:77] + "...")


def check_digest(value: object, what: str, ref: str) -> tuple[str, str]:
    """(algorithm, hex) of an OCI digest, or an AuditError: nothing else names a file."""
    if isinstance(value, str):
        algo, sep, hexa = value.partition(":")
        if sep and algo in _HEX and _HEX[algo].fullmatch(hexa):
            return algo, hexa
    raise AuditError(f"{ref}: {what} has the digest {_shown(value)}, which is not one",
                     hint="a digest is sha256: (or sha512:) and lowercase hex; the image is "
                          "corrupt, or made to read files outside it")


def _digest_of(data: bytes, algo: str) -> str:
    return f"{algo}:{hashlib.new(algo, data).hexdigest()}"


def _verify(what: str, expected: str, got: str | None, ref: str) -> None:
    if got is not None and got != expected:
        raise AuditError(f"{ref}: {what} does not match its digest: {expected} is expected, "
                         f"its bytes hash to {got}",
                         hint="the image is corrupt or was altered; save or pull it again")


def parse_doc(data: bytes, what: str, ref: str, kind: type = dict):
    """A JSON document of the image, or an AuditError that says which and why."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:120]
        raise AuditError(f"{ref}: {what} is not valid JSON ({why})",
                         hint="the image is corrupt; save or pull it again") from None
    if not isinstance(doc, kind):
        raise AuditError(f"{ref}: {what} is not a JSON {'object' if kind is dict else 'array'}",
                         hint="the image is corrupt; save or pull it again")
    return doc


def _descriptor(value: object, what: str, ref: str) -> tuple[str, str]:
    if not isinstance(value, dict) or "digest" not in value:
        raise AuditError(f"{ref}: {what} is not a descriptor with a digest",
                         hint="the image is corrupt; save or pull it again")
    algo, _ = check_digest(value["digest"], what, ref)
    return value["digest"], algo


def manifest_parts(doc: dict[str, Any], ref: str) -> tuple[tuple[str, str], list[tuple[str, str]]]:
    """The config's and the layers' (digest, algorithm) from an image manifest, checked."""
    if "config" not in doc:
        raise AuditError(f"{ref}: the manifest names no config",
                         hint="the image is corrupt; save or pull it again")
    config = _descriptor(doc["config"], "the manifest's config", ref)
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise AuditError(f"{ref}: the manifest has no list of layers",
                         hint="the image is corrupt; save or pull it again")
    return config, [_descriptor(x, f"layer {i} of the manifest", ref)
                    for i, x in enumerate(layers)]


def blob_path(digest: str, ref: str = "") -> str:
    algo, hexa = check_digest(digest, "a blob", ref)
    return f"blobs/{algo}/{hexa}"


def _pick_manifest(index: dict[str, Any], load: Callable[[str], dict[str, Any]],
                   ref: str, name: str = "", depth: int = 0) -> tuple[dict[str, Any], str]:
    """The image manifest (and its digest) for linux/amd64, or the only one, from an index."""
    manifests = index.get("manifests")
    if not isinstance(manifests, list):
        raise AuditError(f"{ref}: the index has no list of manifests",
                         hint="the image is corrupt; save or pull it again")
    manifests = [m for m in manifests if isinstance(m, dict)]
    if name:
        manifests = [m for m in manifests
                     if isinstance(m.get("annotations"), dict)
                     and m["annotations"].get("org.opencontainers.image.ref.name") == name
                     ] or manifests
    if not manifests:
        raise AuditError(f"{ref}: the index lists no image", hint="save the image again")
    chosen = manifests[0]
    for m in manifests:
        plat = m.get("platform") if isinstance(m.get("platform"), dict) else {}
        if plat.get("os") == "linux" and plat.get("architecture") == "amd64":
            chosen = m
            break
    digest, _ = _descriptor(chosen, "the index's manifest", ref)
    doc = load(digest)
    if "manifests" in doc:   # a nested index
        if depth >= MAX_INDEX_DEPTH:
            raise AuditError(f"{ref}: indexes nested more than {MAX_INDEX_DEPTH} deep",
                             hint="the image is corrupt, or made to loop")
        return _pick_manifest(doc, load, ref, depth=depth + 1)
    return doc, digest


def read_archive(stream: BinaryIO, ref: str, *, on_bytes: OnBytes | None = None,
                 layers: bool = True) -> RawImage:
    """An OCI or docker archive read front to back: the members come in any order.

    Each blob's digest and each layer's diff_id are computed as it streams by and
    compared once the manifest and config (wherever they are in the archive) are read."""
    small: dict[str, bytes] = {}      # json documents by member name
    scans: dict[str, LayerScan] = {}  # layers by member name
    links: dict[str, str] = {}
    budget = Budget(what=ref)
    try:
        for member in members(io.BufferedReader(_Raw(stream), buffer_size=BUFSIZE)):
            name = posixpath.normpath(member.name.lstrip("./") or ".")
            budget.take(ENTRY_COST + len(name))
            if member.type in (b"1", b"2"):
                links[name] = posixpath.normpath(
                    posixpath.join(posixpath.dirname(name), member.linkname)
                    if member.type == b"2" else member.linkname)
                continue
            if not member.isfile():
                continue
            head = member.data.peek(512)[:512]
            if member.size <= MAX_DOC and head.lstrip()[:1] in (b"{", b"["):
                budget.take(2 * member.size)
                small[name] = member.data.read()
            elif layers and (_is_layer(head) or not head.strip(b"\0")):
                algo = name.split("/")[1] if name.startswith("blobs/") else "sha256"
                scans[name] = scan_layer(member.data, name, on_bytes, budget=budget,
                                         blob_algo=algo if algo in _HEX else "sha256")
            elif on_bytes:
                on_bytes(member.size)
    except TarError as exc:
        raise AuditError(f"{ref}: not a readable image archive: {exc}",
                         hint="give a file written by `podman save` or `skopeo copy`") from None
    for name, data in small.items():   # a blob is named by its digest: it must be that
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "blobs" and parts[1] in _HEX:
            _verify(name, f"{parts[1]}:{parts[2]}", _digest_of(data, parts[1]), ref)

    def blob(name: str) -> str:
        seen = 0
        while name in links and seen < 8:
            name, seen = links[name], seen + 1
        return name

    def doc(name: str, what: str) -> dict[str, Any]:
        if name not in small:
            raise AuditError(f"{ref}: {what} ({name}) is missing from the archive",
                             hint="the archive is incomplete; save the image again")
        return parse_doc(small[name], what, ref)

    expected: list[str | None]
    if "index.json" in small:
        index = parse_doc(small["index.json"], "index.json", ref)
        manifest, _ = _pick_manifest(index, lambda d: doc(blob(blob_path(d, ref)), "a manifest"),
                                     ref)
        (config_digest, _), descs = manifest_parts(manifest, ref)
        config = doc(blob(blob_path(config_digest, ref)), "the config")
        order = [blob(blob_path(d, ref)) for d, _ in descs]
        expected = [d for d, _ in descs]
    elif "manifest.json" in small:
        entries = parse_doc(small["manifest.json"], "manifest.json", ref, list)
        entry = entries[0] if entries else None
        if not isinstance(entry, dict):
            raise AuditError(f"{ref}: manifest.json lists no image",
                             hint="the archive is incomplete; save the image again")
        if not isinstance(entry.get("Config"), str):
            raise AuditError(f"{ref}: manifest.json names no Config",
                             hint="the archive is corrupt; save the image again")
        if not isinstance(entry.get("Layers"), list) or not all(
                isinstance(x, str) for x in entry["Layers"]):
            raise AuditError(f"{ref}: manifest.json has no list of Layers",
                             hint="the archive is corrupt; save the image again")
        config = doc(blob(posixpath.normpath(entry["Config"])), "the config")
        order = [blob(posixpath.normpath(p)) for p in entry["Layers"]]
        expected = [None] * len(order)
    else:
        raise AuditError(f"{ref}: neither index.json nor manifest.json in the archive",
                         hint="is it an image archive? (`podman save --format oci-archive`)")
    if not layers:
        return raw_image(ref, config, [])
    missing = [p for p in order if p not in scans]
    if missing:
        raise AuditError(f"{ref}: layer {missing[0]} is missing from the archive",
                         hint="the archive is incomplete; save the image again")
    chosen = [scans[p] for p in order]
    for i, (scan, digest) in enumerate(zip(chosen, expected, strict=True)):
        if digest is not None:
            _verify(f"layer {i} ({digest[:19]})", digest, scan.blob_digest, ref)
    verify_diff_ids(config, chosen, ref)
    return raw_image(ref, config, chosen)


# ---- OCI layout directory --------------------------------------------------------------

def _inside(root: str, rel: str, ref: str) -> str:
    """`root/rel`, refusing anything that resolves outside the layout (symlinks included)."""
    base = os.path.realpath(root)
    path = os.path.realpath(os.path.join(base, rel))
    if os.path.commonpath([base, path]) != base:
        raise AuditError(f"{ref}: {rel} leads outside the layout ({path})",
                         hint="the layout is corrupt, or made to read other files")
    return path


def _from_layout(ref: ImageRef, on_bytes: OnBytes | None, layers: bool) -> RawImage:
    root, shown = ref.target, str(ref)
    if not os.path.isfile(os.path.join(root, "index.json")):
        raise AuditError(f"{root}: not an OCI layout (no index.json)",
                         hint="give a directory written by `skopeo copy ... oci:DIR`")

    def read(rel: str, what: str, digest: str | None = None) -> bytes:
        path = _inside(root, rel, shown)
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_DOC + 1)
        except FileNotFoundError:
            raise AuditError(f"{shown}: {what} ({rel}) is missing from the layout",
                             hint="the layout is incomplete; copy the image again") from None
        except OSError as exc:
            raise AuditError(f"{shown}: cannot read {what} ({rel}): {exc.strerror}",
                             hint="check the layout's files and permissions") from None
        if len(data) > MAX_DOC:
            raise AuditError(f"{shown}: {what} ({rel}) is larger than {MAX_DOC >> 20} MiB",
                             hint="that is not an image document; the layout is corrupt")
        if digest is not None:
            _verify(what, digest, _digest_of(data, digest.split(":")[0]), shown)
        return data

    def load(digest: str) -> dict[str, Any]:
        return parse_doc(read(blob_path(digest, shown), "a manifest", digest), "a manifest",
                         shown)

    index = parse_doc(read("index.json", "index.json"), "index.json", shown)
    manifest, _ = _pick_manifest(index, load, shown, ref.name)
    (config_digest, _), descs = manifest_parts(manifest, shown)
    config = parse_doc(read(blob_path(config_digest, shown), "the config", config_digest),
                       "the config", shown)
    check_config(config, shown)
    scans = []
    if layers:
        budget = Budget(what=shown)
        for i, (digest, algo) in enumerate(descs):
            rel = blob_path(digest, shown)
            path = _inside(root, rel, shown)
            try:
                f = open(path, "rb")
            except FileNotFoundError:
                raise AuditError(f"{shown}: layer {i} ({rel}) is missing from the layout",
                                 hint="the layout is incomplete; copy the image again") from None
            except OSError as exc:
                raise AuditError(f"{shown}: cannot read layer {i} ({rel}): {exc.strerror}",
                                 hint="check the layout's files and permissions") from None
            with f:
                scan = scan_layer(f, digest, on_bytes, budget=budget, blob_algo=algo)
            _verify(f"layer {i} ({digest[:19]})", digest, scan.blob_digest, shown)
            scans.append(scan)
            _verify_one_diff_id(config, i, scan, shown)   # stop at the first bad layer
    verify_diff_ids(config, scans, shown)
    return raw_image(shown, config, scans)


def _verify_one_diff_id(config: dict[str, Any], i: int, scan: LayerScan, ref: str) -> None:
    ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if i < len(ids):
        algo, _ = check_digest(ids[i], f"the config's diff_ids[{i}]", ref)
        if scan.diff_id and scan.diff_id.startswith(algo + ":"):
            _verify(f"layer {i}'s content (diff_id)", ids[i], scan.diff_id, ref)


# ---- pure assembly ------------------------------------------------------------------------

def verify_diff_ids(config: dict[str, Any], scans: list[LayerScan], ref: str) -> None:
    """Each layer's uncompressed digest, computed as it streamed, against the config's."""
    rootfs = config.get("rootfs") if isinstance(config.get("rootfs"), dict) else {}
    diff_ids = rootfs.get("diff_ids")
    if not scans:
        return
    if not isinstance(diff_ids, list) or len(diff_ids) != len(scans):
        n = len(diff_ids) if isinstance(diff_ids, list) else 0
        raise AuditError(f"{ref}: the config lists {n} layers, the manifest {len(scans)}",
                         hint="the image is inconsistent; save or pull it again")
    for i, (diff_id, scan) in enumerate(zip(diff_ids, scans, strict=True)):
        algo, _ = check_digest(diff_id, f"the config's diff_ids[{i}]", ref)
        got = scan.diff_id if scan.diff_id and scan.diff_id.startswith(algo + ":") else None
        _verify(f"layer {i}'s content (diff_id)", diff_id, got, ref)


def check_config(config: dict[str, Any], ref: str) -> None:
    """The config's fields that dockyard reads have the types the OCI spec gives them."""
    def bad(field: str, expected: str) -> AuditError:
        return AuditError(f"{ref}: the image config's {field} is not {expected}",
                          hint="the image is corrupt; save or pull it again")

    conf = config.get("config", config.get("Config"))
    if conf is not None and not isinstance(conf, dict):
        raise bad("config", "an object")
    conf = conf or {}
    for key in ("Env", "Cmd", "Entrypoint"):
        value = conf.get(key)
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(x, str) for x in value)):
            raise bad(f"config.{key}", "a list of strings")
    for key in ("User", "WorkingDir"):
        if conf.get(key) is not None and not isinstance(conf[key], str):
            raise bad(f"config.{key}", "a string")
    if conf.get("Labels") is not None and not isinstance(conf["Labels"], dict):
        raise bad("config.Labels", "an object")
    rootfs = config.get("rootfs", config.get("RootFS"))
    if rootfs is not None:
        if not isinstance(rootfs, dict):
            raise bad("rootfs", "an object")
        ids = rootfs.get("diff_ids", rootfs.get("Layers"))
        if ids is not None and not (isinstance(ids, list) and all(isinstance(x, str)
                                                                   for x in ids)):
            raise bad("rootfs.diff_ids", "a list of digests")
    history = config.get("history")
    if history is not None:
        if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
            raise bad("history", "a list of objects")
        for i, h in enumerate(history):
            if h.get("created_by") is not None and not isinstance(h["created_by"], str):
                raise bad(f"history[{i}].created_by", "a string")


def raw_image(ref: str, config: dict[str, Any], scans: list[LayerScan]) -> RawImage:
    """Config + ordered layer scans -> RawImage; ENV and history are scanned, then masked."""
    check_config(config, ref)
    conf = config.get("config") or {}
    hits: list[SecretHit] = []
    for item in conf.get("Env") or ():
        key, _, value = item.partition("=")
        found = scan_text(f"ENV {key}", value, config=False)
        if not found and secret_env_name(key) and value:
            found = [SecretHit("env-secret", f"ENV {key}", f"{key}=***")]
        hits += found
    for i, h in enumerate(config.get("history") or ()):
        hits += scan_text(f"history[{i}]", h.get("created_by") or "", config=False)
    parsed = ImageConfig.from_json(config)
    if scans and parsed.diff_ids and len(parsed.diff_ids) != len(scans):
        raise AuditError(f"{ref}: the config lists {len(parsed.diff_ids)} layers, "
                         f"the manifest {len(scans)}", hint="the image is inconsistent")
    return RawImage(ref=ref, config=parsed, layers=tuple(scans), secrets=tuple(hits))
