"""Platform-like base images for tests, built locally (no registry can be pulled here).

`platform_base(engine, variant="jupyter")` builds, once per machine, a base
laid out like the platform's (see shared/reference/platform.md) but built
differently on purpose, so that dockyard has to probe it rather than assume:

- Debian trixie's own python3 (3.13), with a venv at /opt/python on PATH into
  which JupyterLab is pip-installed (pinned);
- `ENV USERNAME=onyxia UID=1000 GROUPNAME=users GID=100 HOME=/home/onyxia
  WORKSPACE_DIR=/home/onyxia/work`, that user, /opt owned by it, `USER 1000`;
- the founding case's CMD, exactly.

Variants: "jupyter" (the above), "nojupyter" (no Jupyter in /opt/python) and
"cuda" (the jupyter base plus a CUDA 12.6-like layout: NVIDIA's ENV and a stub
libcudart.so.12 compiled here, with no NVIDIA software at all).

Images are tagged by a hash of their Containerfile (and build context), so a
change to this file rebuilds them and an unchanged one is reused.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

from ..engines import CliEngine
from . import machine_lock
from .rootfs import debian_image

VARIANTS = ("jupyter", "nojupyter", "cuda")
REPO = "localhost/dockyard-test/platform-base"

# The founding case's CMD (cases/dctools-seed/README.md), byte for byte.
PLATFORM_CMD = (
    '["/bin/sh", "-c", "jupyter lab --no-browser --ip 0.0.0.0 --LabApp.token=password '
    '--ContentsManager.allow_hidden=True"]'
)
PLATFORM_TOKEN = "password"
PLATFORM_ENV = {
    "USERNAME": "onyxia", "UID": "1000", "GROUPNAME": "users", "GID": "100",
    "HOME": "/home/onyxia", "WORKSPACE_DIR": "/home/onyxia/work",
}
# Pinned so the bases are the same from one machine to the next.
JUPYTER_PINS = ("jupyterlab==4.4.10", "ipykernel==6.30.1")

CUDA_VERSION = "12.6.3"
CUDART_FILE = "libcudart.so.12.6.77"
CUDART_SONAME = "libcudart.so.12"

_CUDART_C = """\
/* A stand-in for NVIDIA's libcudart: same name and SONAME, none of its code. */
int cudaRuntimeGetVersion(int *version) { *version = 12060; return 0; }
int cudaDriverGetVersion(int *version) { *version = 0; return 0; }
"""


def containerfile(variant: str, *, debian: str, jupyter_base: str = "") -> str:
    """The Containerfile text of a variant (pure; `jupyter_base` is needed for "cuda")."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown base variant {variant!r}; known: {', '.join(VARIANTS)}")
    if variant == "cuda":
        return _cuda_containerfile(jupyter_base)
    env = " ".join(f"{k}={v}" for k, v in PLATFORM_ENV.items())
    pip = ""
    if variant == "jupyter":
        pip = (
            " \\\n && PIP_CERT=/run/secrets/ca /opt/python/bin/pip install --no-cache-dir"
            " --disable-pip-version-check " + " ".join(JUPYTER_PINS)
        )
    return f"""\
# dockyard test base ({variant}): platform-like, built from Debian trixie's python3.
FROM {debian}
ENV {env}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      python3 python3-venv ca-certificates \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
RUN useradd --uid "$UID" --gid "$GID" --home-dir "$HOME" --create-home \\
      --shell /bin/bash "$USERNAME" \\
 && mkdir -p "$WORKSPACE_DIR" && chown "$UID:$GID" "$WORKSPACE_DIR"
ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# One layer: the venv, its packages and the chown (a separate chown layer doubles the bytes).
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \\
    python3 -m venv /opt/python{pip} \\
 && chown -R "$UID:$GID" /opt
WORKDIR /home/onyxia/work
USER 1000
CMD {PLATFORM_CMD}
"""


def _cuda_containerfile(jupyter_base: str) -> str:
    lib = "/usr/local/cuda-12.6/targets/x86_64-linux/lib"
    return f"""\
# dockyard test base (cuda): the jupyter base with a CUDA 12.6-like layout, no NVIDIA software.
FROM {jupyter_base}
USER root
ENV CUDA_VERSION={CUDA_VERSION} \\
    NVIDIA_REQUIRE_CUDA="cuda>=12.6 brand=tesla,driver>=470,driver<471" \\
    NVIDIA_VISIBLE_DEVICES=all \\
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \\
    LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64
COPY {CUDART_FILE} {lib}/{CUDART_FILE}
RUN cd {lib} \\
 && ln -s {CUDART_FILE} {CUDART_SONAME} && ln -s {CUDART_SONAME} libcudart.so \\
 && ln -s targets/x86_64-linux/lib /usr/local/cuda-12.6/lib64 \\
 && ln -s cuda-12.6 /usr/local/cuda \\
 && echo /usr/local/cuda/lib64 > /etc/ld.so.conf.d/cuda.conf && ldconfig
USER 1000
CMD {PLATFORM_CMD}
"""


def _tag(variant: str, text: str) -> str:
    digest = hashlib.sha256(text.encode() + b"\0" + _CUDART_C.encode()).hexdigest()[:12]
    return f"{REPO}:{variant}-{digest}"


def platform_base(engine: CliEngine, *, variant: str = "jupyter") -> str:
    """Build (once) and return the tag of a platform-like base image."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown base variant {variant!r}; known: {', '.join(VARIANTS)}")
    debian = debian_image(engine, "trixie")
    jupyter_base = platform_base(engine, variant="jupyter") if variant == "cuda" else ""
    text = containerfile(variant, debian=debian, jupyter_base=jupyter_base)
    tag = _tag(variant, text)
    if engine.exists(tag):
        return tag
    with machine_lock(Path(tempfile.gettempdir()) / "dockyard-test-bases.lock"):
        if engine.exists(tag):
            return tag
        with tempfile.TemporaryDirectory(prefix=f"dockyard-base-{variant}-") as ctx:
            Path(ctx, "Containerfile").write_text(text)
            if variant == "cuda":
                _compile_cudart(Path(ctx))
            secrets = {}
            if variant == "jupyter":
                ca = os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"
                secrets["ca"] = ca
            else:  # the secret mount needs a source even when pip does not run
                empty = Path(ctx, ".no-ca")
                empty.write_text("")
                secrets["ca"] = str(empty)
            engine.build(
                ctx, containerfile=str(Path(ctx, "Containerfile")), tag=tag, secrets=secrets,
            )
    return tag


def _compile_cudart(ctx: Path) -> None:
    src = ctx / "cudart.c"
    src.write_text(_CUDART_C)
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", f"-Wl,-soname,{CUDART_SONAME}",
         "-o", str(ctx / CUDART_FILE), str(src)],
        check=True, capture_output=True, text=True,
    )
    src.unlink()
