"""Hand-written locks for build tests: PyPI pins recorded by `uv pip compile --generate-hashes`."""

from __future__ import annotations

import re
from pathlib import Path

from dockyard.lock.model import Artifact, Lock, LockedPackage, Target

DATA = Path(__file__).parent / "data"


def pins_from_requirements(text: str) -> list[LockedPackage]:
    pkgs = []
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9_.\-]+)==([^\s\\]+)", block.strip())
        if not m:
            continue
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
        pkgs.append(LockedPackage(
            name=m.group(1).lower(), version=m.group(2), owner="pypi",
            source="https://pypi.org/simple", reason="test",
            artifacts=tuple(Artifact(url=f"https://pypi.org/simple/{m.group(1)}#{h[:8]}",
                                     sha256=h) for h in hashes),
        ))
    return pkgs


def ipykernel_lock(python: str = "3.13.5") -> Lock:
    text = (DATA / "ipykernel-py313.txt").read_text()
    return Lock(inputs_hash="sha256:" + "0" * 64,
                target=Target(python=python, glibc="2.28"),
                packages=tuple(pins_from_requirements(text))).normalized()
