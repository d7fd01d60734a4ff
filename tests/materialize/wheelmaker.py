"""Small real wheels written by the tests (no index needed)."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def _row(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(dest: Path, name: str = "demo", version: str = "1.0",
               tag: str = "py3-none-any") -> Path:
    """A wheel with a package, a console script, a data/scripts file and a data file."""
    info = f"{name}-{version}.dist-info"
    data = f"{name}-{version}.data"
    files = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{name}/cli.py": b"def main():\n    print('hello')\n    return 0\n",
        f"{name}/bin.so": b"\x7fELF not really\n",
        f"{data}/scripts/{name}-tool": b"#!python\nprint('tool')\n",
        f"{data}/data/share/{name}/readme.txt": b"shared data\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                         f"Tag: {tag}\n".encode(),
        f"{info}/entry_points.txt": f"[console_scripts]\n{name} = {name}.cli:main\n".encode(),
    }
    rows = [_row(k, v) for k, v in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(rows) + "\n").encode()
    path = dest / f"{name}-{version}-{tag}.whl"
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for k, v in files.items():
            info_ = zipfile.ZipInfo(k, (2026, 1, 1, 0, 0, 0))
            info_.external_attr = (0o755 if k.endswith("-tool") else 0o644) << 16
            z.writestr(info_, v)
    return path
