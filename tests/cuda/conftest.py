"""Locks built from real `uv pip compile` output recorded in data/ (see data/README)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from dockyard.cuda.metadata import recorded_metadata
from dockyard.lock.model import Artifact, Lock, LockedPackage, Target

DATA = Path(__file__).parent / "data"


def lock_from_uv(case: str, python: str = "3.12.11") -> Lock:
    """pylock.<case>.toml gives the wheels; req-<case>.txt's `# via` lines give the edges."""
    doc = tomllib.loads((DATA / f"pylock.{case}.toml").read_text())
    via: dict[str, set[str]] = {}
    for line in (DATA / f"req-{case}.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9._-]+)==\S+\s+# via (.*)$", line)
        if m:
            for parent in m[2].split(","):
                via.setdefault(m[1], set()).add(parent.strip())
    depends: dict[str, set[str]] = {}
    for child, parents in via.items():
        for parent in parents:
            if not parent.startswith("-r"):
                depends.setdefault(parent, set()).add(child)
    packages = []
    for p in doc["packages"]:
        wheel = p["wheels"][0]
        packages.append(LockedPackage(
            name=p["name"], version=p["version"], owner="pypi", source="https://pypi.org/simple",
            reason="requested" if any(x.startswith("-r") for x in via.get(p["name"], ())) else
            "dependency of " + ", ".join(sorted(via.get(p["name"], ()))),
            artifacts=(Artifact(wheel["url"], wheel["hashes"]["sha256"],
                                wheel["url"].rsplit("/", 1)[-1]),),
            depends=tuple(sorted(depends.get(p["name"], ()))),
        ))
    return Lock(inputs_hash="sha256:test", target=Target(python=python),
                packages=tuple(packages)).normalized()


def recorded() -> dict[tuple[str, str], str]:
    out = {}
    for path in (DATA / "metadata").glob("*.METADATA"):
        name, version = path.name[: -len(".METADATA")].rsplit("-", 1)
        out[(name, version)] = path.read_text()
    return out


@pytest.fixture
def metadata():
    return recorded_metadata(recorded())
