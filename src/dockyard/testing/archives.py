"""Image archives made in the test, byte by byte: well-formed ones and hostile ones.

    tar = header("a.txt", size=3) + b"abc" + pad(3) + END
    blob = layer({"etc/x": b"..."}, compress="gzip")            # a layer tar, compressed
    oci_layout(dest, [blob], config={...})                       # an OCI layout directory
    oci_archive(path, [blob]) / docker_archive(path, [tar])      # the two archive forms

Headers are written by hand (not with `tarfile`) so that tests can say what a
reader must refuse: long-name (`L`/`K`) and pax (`x`/`g`) headers of any size,
bad checksums, base-256 sizes, truncation. `long_name_bomb` streams a
gzip-compressed long-name header of any length without holding it in memory.
Nothing here is a binary fixture: every test makes what it reads.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

BLOCK = 512
END = b"\0" * (2 * BLOCK)


def pad(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def _octal(value: int, width: int) -> bytes:
    return (b"%0*o" % (width - 1, value)) + b"\0"


def header(name: str | bytes, *, size: int = 0, kind: bytes = b"0", linkname: str = "",
           mode: int = 0o644, checksum: int | None = None, size_field: bytes | None = None,
           prefix: str = "") -> bytes:
    """One ustar header block (512 bytes); `checksum`/`size_field` override for bad input."""
    raw = name.encode() if isinstance(name, str) else name
    h = bytearray(BLOCK)
    h[0:100] = raw[:100].ljust(100, b"\0")
    h[100:108] = _octal(mode, 8)
    h[108:116] = _octal(0, 8)
    h[116:124] = _octal(0, 8)
    h[124:136] = size_field if size_field is not None else _octal(size, 12)
    h[136:148] = _octal(0, 12)
    h[148:156] = b" " * 8
    h[156:157] = kind
    h[157:257] = linkname.encode()[:100].ljust(100, b"\0")
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    h[345:500] = prefix.encode()[:155].ljust(155, b"\0")
    chk = sum(h) if checksum is None else checksum
    h[148:156] = b"%06o\0 " % chk
    return bytes(h)


def member(name: str, data: bytes = b"", *, kind: bytes = b"0", linkname: str = "") -> bytes:
    """A whole member: header, data, padding (a long name goes in a GNU `L` header)."""
    out = b""
    if len(name.encode()) > 100:
        long = name.encode() + b"\0"
        out += header("././@LongLink", size=len(long), kind=b"L") + long + pad(len(long))
    size = len(data) if kind in (b"0", b"7") else 0
    return out + header(name, size=size, kind=kind, linkname=linkname) + data + pad(size)


def pax(records: Mapping[str, str], kind: bytes = b"x") -> bytes:
    """A pax extended header (`x`, or `g` global) with its records."""
    body = b""
    for key, value in records.items():
        rec = f" {key}={value}\n".encode()
        n = len(rec) + 1
        while len(str(n)) + len(rec) != n:
            n = len(str(n)) + len(rec)
        body += str(n).encode() + rec
    return header("PaxHeader", size=len(body), kind=kind) + body + pad(len(body))


def tar(files: Mapping[str, bytes] | Iterable[tuple[str, bytes]], *, end: bool = True) -> bytes:
    """A tar of regular files (a name ending in "/" is a directory)."""
    items = files.items() if isinstance(files, Mapping) else files
    out = io.BytesIO()
    for name, data in items:
        if name.endswith("/"):
            out.write(member(name, kind=b"5"))
        else:
            out.write(member(name, data))
    if end:
        out.write(END)
    return out.getvalue()


def compress(data: bytes, how: str | None) -> bytes:
    if how == "gzip":
        return gzip.compress(data, compresslevel=1, mtime=0)
    if how == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=1).compress(data)
    return data


def layer(files: Mapping[str, bytes], compress_with: str | None = "gzip") -> bytes:
    return compress(tar(files), compress_with)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_for(tars: Iterable[bytes], **extra) -> dict:
    """An image config whose diff_ids are the sha256 of the uncompressed layer tars."""
    return {"architecture": "amd64", "os": "linux",
            "config": {"User": "1000", "Cmd": ["sh"], **extra.pop("config", {})},
            "rootfs": {"type": "layers", "diff_ids": [sha256(t) for t in tars]},
            "history": [{"created_by": f"step {i}"} for i, _ in enumerate(tars)], **extra}


def _uncompressed(blob: bytes) -> bytes:
    if blob[:2] == b"\x1f\x8b":
        return gzip.decompress(blob)
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    return blob


def oci_blobs(blobs: list[bytes], config: dict | None = None, *,
              manifest_extra: dict | None = None) -> tuple[dict, dict[str, bytes]]:
    """(index.json document, {blob path: bytes}) of an OCI image with these layer blobs."""
    config = config if config is not None else config_for([_uncompressed(b) for b in blobs])
    config_bytes = json.dumps(config).encode()
    files = {f"blobs/sha256/{sha256(b)[7:]}": b for b in blobs}
    files[f"blobs/sha256/{sha256(config_bytes)[7:]}"] = config_bytes
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(b), "size": len(b)} for b in blobs],
        **(manifest_extra or {}),
    }
    manifest_bytes = json.dumps(manifest).encode()
    files[f"blobs/sha256/{sha256(manifest_bytes)[7:]}"] = manifest_bytes
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": sha256(manifest_bytes), "size": len(manifest_bytes),
         "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    return index, files


def oci_layout(dest: Path, blobs: list[bytes], config: dict | None = None, *,
               index: dict | None = None, **kw) -> Path:
    made_index, files = oci_blobs(blobs, config, **kw)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (dest / "index.json").write_text(json.dumps(index if index is not None else made_index))
    for rel, data in files.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes(data)
    return dest


def oci_archive(path: Path, blobs: list[bytes], config: dict | None = None, *,
                index: dict | None = None, **kw) -> Path:
    made_index, files = oci_blobs(blobs, config, **kw)
    entries = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
               "index.json": json.dumps(index if index is not None else made_index).encode(),
               **files}
    path.write_bytes(tar(entries))
    return path


def docker_archive(path: Path, tars: list[bytes], config: dict | None = None, *,
                   manifest: list | None = None) -> Path:
    """`docker save` form: <sha>/layer.tar (uncompressed), <sha>.json config, manifest.json."""
    config = config if config is not None else config_for(tars)
    config_bytes = json.dumps(config).encode()
    config_name = sha256(config_bytes)[7:] + ".json"
    names = [f"{sha256(t)[7:]}/layer.tar" for t in tars]
    doc = manifest if manifest is not None else [
        {"Config": config_name, "RepoTags": ["test:1"], "Layers": names}]
    entries = [(config_name, config_bytes), *zip(names, tars, strict=True),
               ("manifest.json", json.dumps(doc).encode())]
    path.write_bytes(tar(entries))
    return path


def long_name_bomb(path: Path, name_bytes: int, kind: bytes = b"L") -> Path:
    """A gzip layer whose first header is a long-name (or pax) header of `name_bytes` bytes,
    written in chunks: a 1 GiB header is about 1 MB on disk."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as out:
        out.write(comp.compress(header("././@LongLink", size=name_bytes, kind=kind)))
        chunk = b"a" * (1 << 20)
        left = name_bytes
        while left > 0:
            n = min(left, len(chunk))
            out.write(comp.compress(chunk[:n]))
            left -= n
        out.write(comp.compress(pad(name_bytes) + header("x", size=0) + END))
        out.write(comp.flush())
    return path


__all__ = ["BLOCK", "END", "compress", "config_for", "docker_archive", "header", "layer",
           "long_name_bomb", "member", "oci_archive", "oci_blobs", "oci_layout", "pad", "pax",
           "sha256", "tar"]
