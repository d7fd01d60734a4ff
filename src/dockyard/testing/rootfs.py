"""Debian root filesystems imported as local images (no registry can be pulled here).

`debian_image(engine, "trixie")` debootstraps a minbase system once and
imports it as `localhost/dockyard-test/debian:trixie`; later calls reuse it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile

from ..engines import CliEngine

MIRROR = "http://deb.debian.org/debian"


def debian_image(engine: CliEngine, suite: str = "trixie") -> str:
    name = f"localhost/dockyard-test/debian:{suite}"
    if engine.exists(name):
        return name
    root = tempfile.mkdtemp(prefix=f"dockyard-rootfs-{suite}-")
    try:
        subprocess.run(
            ["debootstrap", "--variant=minbase", suite, root, MIRROR],
            check=True, capture_output=True, text=True,
        )
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [engine.binary, "import", "--change", "CMD [\"/bin/bash\"]", "-", name],
            stdin=tar.stdout, capture_output=True, text=True,
        )
        tar.wait()
        if imported.returncode != 0:
            raise RuntimeError(f"podman import failed: {imported.stderr}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return name
