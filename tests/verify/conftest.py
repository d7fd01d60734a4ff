"""App images on the platform-like base, built once per machine (tagged by a content hash).

"app": a venv /opt/app made from the base's /opt/python with ipykernel and six
from PyPI, registered as kernelspec "app" where the base's Jupyter looks
(/opt/python/share/jupyter/kernels), with a dockyard.lock and the labels
io.dockyard.kernel / io.dockyard.lock that `dockyard build` sets.
"app-broken": the same plus locally built wheels listed in its lock: one whose
module raises ImportError at import (like pyarrow 26 on numpy 1.26), one whose
import kills the interpreter (SIGSEGV).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import pytest

from dockyard.lock.model import Lock, LockedPackage, Target, dumps

PINS = {"ipykernel": "6.30.1", "six": "1.17.0"}
BROKEN_MESSAGE = "brokenmod requires NumPy 2.0 or newer"
LOCK_IN_IMAGE = "/opt/app/dockyard.lock"


def make_lock(python: str = "3.13", extra: dict[str, str] | None = None) -> Lock:
    pins = {**PINS, **(extra or {})}
    return Lock(
        inputs_hash="sha256:" + "0" * 64,
        target=Target(python=python),
        packages=tuple(
            LockedPackage(name=name, version=version, owner="pypi",
                          source="https://pypi.org/simple", reason="test")
            for name, version in sorted(pins.items())
        ),
    )


_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: the same wheel bytes, the same tag


def _wheel(folder: Path, dist: str, init: str) -> str:
    """A real wheel, built by hand: it installs fine; what its import does is `init`."""
    name = f"{dist}-1.0-py3-none-any.whl"
    files = {
        f"{dist}/__init__.py": init,
        f"{dist}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n",
        f"{dist}-1.0.dist-info/WHEEL":
            "Wheel-Version: 1.0\nGenerator: dockyard-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n",
    }
    record = []
    with zipfile.ZipFile(folder / name, "w") as zf:
        for path, text in files.items():
            data = text.encode()
            zf.writestr(zipfile.ZipInfo(path, date_time=_EPOCH), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{path},sha256={digest.decode()},{len(data)}")
        record.append(f"{dist}-1.0.dist-info/RECORD,,")
        zf.writestr(zipfile.ZipInfo(f"{dist}-1.0.dist-info/RECORD", date_time=_EPOCH),
                    "\n".join(record) + "\n")
    return name


BROKEN_WHEELS = {
    # like pyarrow 26 on numpy 1.26: resolves, installs, fails at import
    "brokenmod": f"raise ImportError({BROKEN_MESSAGE!r})\n",
    # a native crash at import (SIGSEGV): the kernel dies, the server restarts it
    "crashmod": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
}


KERNEL_JSON = {
    "argv": ["/opt/app/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
    "display_name": "App (Python 3.13)",
    "language": "python",
}


def _containerfile(base: str, broken: bool) -> str:
    pins = " ".join(f"{k}=={v}" for k, v in sorted(PINS.items()))
    text = f"""\
FROM {base}
USER root
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \\
    python3 -m venv /opt/app \\
 && PIP_CERT=/run/secrets/ca /opt/app/bin/pip install --no-cache-dir \\
      --disable-pip-version-check {pins} \\
 && chown -R 1000:100 /opt/app
COPY --chown=1000:100 kernel.json /opt/python/share/jupyter/kernels/app/kernel.json
COPY --chown=1000:100 dockyard.lock {LOCK_IN_IMAGE}
LABEL io.dockyard.kernel=app io.dockyard.lock={LOCK_IN_IMAGE} io.dockyard.base={base}
USER 1000
"""
    if broken:
        text += """\
COPY --chown=1000:100 *.whl /tmp/wheels/
RUN /opt/app/bin/pip install --no-index --no-cache-dir --disable-pip-version-check \\
      /tmp/wheels/*.whl && rm -r /tmp/wheels
"""
    return text


def build_app(engine, base: str, *, broken: bool = False) -> str:
    lock = make_lock(extra=dict.fromkeys(BROKEN_WHEELS, "1.0") if broken else None)
    with tempfile.TemporaryDirectory(prefix="dockyard-verify-app-") as tmp:
        ctx = Path(tmp)
        (ctx / "Containerfile").write_text(_containerfile(base, broken))
        (ctx / "kernel.json").write_text(json.dumps(KERNEL_JSON, indent=1))
        (ctx / "dockyard.lock").write_text(dumps(lock))
        if broken:
            for dist, init in BROKEN_WHEELS.items():
                _wheel(ctx, dist, init)
        digest = hashlib.sha256()
        for path in sorted(ctx.iterdir()):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        tag = f"localhost/dockyard-test/verify-app:{'broken' if broken else 'ok'}-" \
              f"{digest.hexdigest()[:12]}"
        if not engine.exists(tag):
            ca = os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"
            engine.build(str(ctx), containerfile=str(ctx / "Containerfile"), tag=tag,
                         secrets={"ca": ca})
    return tag


@pytest.fixture(scope="session")
def app_helpers():
    """This module, for tests (test directories are not packages, so no relative import)."""
    import sys

    return sys.modules[__name__]


@pytest.fixture(scope="session")
def app_image(podman, platform_base) -> str:
    return build_app(podman, platform_base)


@pytest.fixture(scope="session")
def broken_app_image(podman, app_image, platform_base) -> str:
    return build_app(podman, platform_base, broken=True)
