"""A PEP 503 "simple" index on loopback with tiny real wheels (the PyTorch index stand-in).

The wheels are real: a zip with METADATA, WHEEL, RECORD (sha256 of every file)
and a `torch/version.py`, only small. Each is also served as a PEP 658
`<wheel>.metadata` file, announced with `data-core-metadata`, as PyPI does.
"""

from __future__ import annotations

import base64
import hashlib
import html
import urllib.parse
import zipfile
from collections.abc import Mapping
from pathlib import Path


def build_wheel(out: Path, name: str, version: str, tag: str,
                files: Mapping[str, str], requires: tuple[str, ...] = ()) -> Path:
    dist = f"{name.replace('-', '_')}-{version}"
    meta = "".join([f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                    *(f"Requires-Dist: {r}\n" for r in requires)])
    members = {**files,
               f"{dist}.dist-info/METADATA": meta,
               f"{dist}.dist-info/WHEEL": f"Wheel-Version: 1.0\nGenerator: dockyard-tests\n"
                                          f"Root-Is-Purelib: false\nTag: {tag}\n"}
    record = []
    for path, text in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}.dist-info/RECORD,,")
    members[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    path = out / f"{dist}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, text in members.items():
            zf.writestr(member, text)
    (out / (path.name + ".metadata")).write_text(meta)
    return path


def write_index(root: Path, wheels: list[Path]) -> None:
    """root/simple/<project>/index.html pointing at root/files/<wheel>."""
    by_project: dict[str, list[Path]] = {}
    for wheel in wheels:
        project = wheel.name.split("-", 1)[0].replace("_", "-").lower()
        by_project.setdefault(project, []).append(wheel)
    (root / "simple").mkdir(parents=True, exist_ok=True)
    links = []
    for project, files in sorted(by_project.items()):
        rows = []
        for wheel in files:
            sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
            meta_sha = hashlib.sha256(Path(str(wheel) + ".metadata").read_bytes()).hexdigest()
            href = f"../../files/{urllib.parse.quote(wheel.name)}#sha256={sha}"
            rows.append(f'<a href="{html.escape(href)}" data-core-metadata="sha256={meta_sha}" '
                        f'data-dist-info-metadata="sha256={meta_sha}">{wheel.name}</a><br/>')
        (root / "simple" / project).mkdir(exist_ok=True)
        (root / "simple" / project / "index.html").write_text(
            "<!DOCTYPE html><html><body>\n" + "\n".join(rows) + "\n</body></html>\n")
        links.append(f'<a href="{project}/">{project}</a><br/>')
    (root / "simple" / "index.html").write_text(
        "<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")


def serve(root: Path):
    """Serve `root` on 127.0.0.1 (the same loopback server the conda channel tests use)."""
    from dockyard.testing.channel import serve_channel

    return serve_channel(root)
