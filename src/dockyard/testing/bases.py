"""Base images laid out like the platforms' own, built locally (no registry can be pulled here).

`platform_base(engine, variant=...)` builds a base once per machine and returns its tag.
Each is laid out the way a real family of platform images is, built differently on
purpose, so that dockyard has to probe it rather than assume:

- "jupyter" (Onyxia-like, shared/reference/platform.md): Debian trixie's python3 (3.13),
  a venv at /opt/python on PATH with JupyterLab; `ENV USERNAME=onyxia UID=1000
  GROUPNAME=users GID=100 HOME=/home/onyxia WORKSPACE_DIR=/home/onyxia/work`, /opt owned by
  that user, `USER 1000`; the founding case's CMD (`/bin/sh -c "jupyter lab ... token"`).
- "nojupyter": the same without Jupyter (its CMD cannot start).
- "cuda": "jupyter" plus a CUDA 12.6-like layout (NVIDIA's ENV, a stub libcudart.so.12
  compiled here; no NVIDIA software at all).
- "stacks" (Jupyter docker-stacks-like): Python and JupyterLab in an environment at
  /opt/conda, user jovyan 1000:100 with `NB_USER`/`NB_UID`/`NB_GID` and no USERNAME,
  `HOME=/home/jovyan`, `ENTRYPOINT ["tini", "-g", "--"]`, `CMD ["start-notebook.sh"]`: a
  launcher that starts `jupyter lab` with a token of its own (in no CMD, in no log line),
  the listening address in /etc/jupyter's config, not on the command line; `USER 1000`.
- "stacks-root": "stacks" with `USER root` (HOME stays /home/jovyan); the launcher, run as
  root, drops to NB_USER as docker-stacks' start.sh does.
- "usrlocal": CPython 3.12 in /usr/local (this machine's pyenv build, relocated), JupyterLab
  pip-installed into that system Python, on Debian bookworm; a user named `analyst`
  (uid 1001, group users) as `USER analyst` (a name, not a number); `CMD ["jupyter",
  "lab", ...]` with no token: Jupyter makes one.

`MATRIX` lists the bases every build is tried on, each with what its platform does
(`BaseCase`: the user it runs the image as, the HOME it mounts a volume over).

Images are tagged by a hash of their Containerfile and build context, so a change here
rebuilds them and an unchanged one is reused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..engines import CliEngine
from . import machine_lock
from .rootfs import debian_image

VARIANTS = ("jupyter", "nojupyter", "cuda", "stacks", "stacks-root", "usrlocal")
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
STACKS_ENV = {"NB_USER": "jovyan", "NB_UID": "1000", "NB_GID": "100", "HOME": "/home/jovyan",
              "CONDA_DIR": "/opt/conda", "SHELL": "/bin/bash"}
# Pinned so the bases are the same from one machine to the next.
JUPYTER_PINS = ("jupyterlab==4.4.10", "ipykernel==6.30.1")
USRLOCAL_PYTHON = "3.12.1"  # the CPython build on this machine (pyenv), as the example's

CUDA_VERSION = "12.6.3"
CUDART_FILE = "libcudart.so.12.6.77"
CUDART_SONAME = "libcudart.so.12"

_CUDART_C = """\
/* A stand-in for NVIDIA's libcudart: same name and SONAME, none of its code. */
int cudaRuntimeGetVersion(int *version) { *version = 12060; return 0; }
int cudaDriverGetVersion(int *version) { *version = 0; return 0; }
"""


@dataclass(frozen=True, slots=True)
class BaseCase:
    """A base of the matrix and what its platform does with an image built on it."""

    variant: str
    what: str
    user: str  # the uid:gid the platform runs containers as
    home: str  # where the platform mounts the user's volume
    kernel_dir: str  # where dockyard must register the kernel (outside every home)


MATRIX = (
    BaseCase("jupyter", "Onyxia-like: Python venv /opt/python, USER 1000, CMD with the token",
             "1000:100", "/home/onyxia", "/opt/python/share/jupyter/kernels"),
    BaseCase("stacks", "docker-stacks-like: /opt/conda, jovyan, tini, start-notebook.sh",
             "1000:100", "/home/jovyan", "/opt/conda/share/jupyter/kernels"),
    BaseCase("stacks-root", "docker-stacks-like with USER root and HOME=/home/jovyan",
             "1000:100", "/home/jovyan", "/opt/conda/share/jupyter/kernels"),
    BaseCase("usrlocal", "CPython 3.12 in /usr/local, Jupyter pip-installed into it, "
             "USER analyst", "1001:100", "/home/analyst", "/usr/local/share/jupyter/kernels"),
    BaseCase("cuda", "Onyxia-like with a CUDA 12.6-like layout", "1000:100", "/home/onyxia",
             "/opt/python/share/jupyter/kernels"),
)

_PIP = ("PIP_CERT=/run/secrets/ca {python} -m pip install --no-cache-dir "
        "--disable-pip-version-check " + " ".join(JUPYTER_PINS))


def _platform(variant: str, debian: str) -> str:
    env = " ".join(f"{k}={v}" for k, v in PLATFORM_ENV.items())
    pip = ""
    if variant == "jupyter":
        pip = " \\\n && " + _PIP.format(python="/opt/python/bin/python")
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


def _cuda(jupyter_base: str) -> str:
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


# docker-stacks' launcher sets the token itself; here it is random, never printed (the
# server logs at WARN), and the address comes from /etc/jupyter, not from the command line.
START_NOTEBOOK = """\
#!/bin/bash
# Starts JupyterLab as docker-stacks' start-notebook.sh does: its own token, its own flags.
set -e
token="${JUPYTER_TOKEN:-$(head -c 24 /dev/urandom | base64 | tr '+/' 'xy')}"
flags=(--IdentityProvider.token="$token" --ServerApp.log_level=WARN)
if [ "$(id -u)" = 0 ]; then
  # as root, run the server as the notebook user (docker-stacks' start.sh does the same)
  exec setpriv --reuid="$NB_UID" --regid="$NB_GID" --init-groups \\
    env HOME="/home/$NB_USER" USER="$NB_USER" jupyter lab "${flags[@]}" "$@"
fi
exec jupyter lab "${flags[@]}" "$@"
"""
SERVER_CONFIG = """\
# as docker-stacks' /etc/jupyter/jupyter_server_config.py
c.ServerApp.ip = "0.0.0.0"
c.ServerApp.port = 8888
c.ServerApp.open_browser = False
"""


def _stacks(debian: str) -> str:
    env = " ".join(f"{k}={v}" for k, v in STACKS_ENV.items())
    return f"""\
# dockyard test base (stacks): laid out like the Jupyter docker-stacks images.
FROM {debian}
ENV {env}
ENV PATH=/opt/conda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      python3 python3-venv tini ca-certificates \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
RUN useradd --no-log-init --create-home --shell /bin/bash --uid "$NB_UID" \\
      --gid "$NB_GID" "$NB_USER"
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \\
    python3 -m venv /opt/conda \\
 && {_PIP.format(python="/opt/conda/bin/python")} \\
 && chown -R "$NB_UID:$NB_GID" /opt/conda
COPY start-notebook.sh /usr/local/bin/start-notebook.sh
COPY jupyter_server_config.py /etc/jupyter/jupyter_server_config.py
EXPOSE 8888
WORKDIR /home/jovyan
ENTRYPOINT ["tini", "-g", "--"]
CMD ["start-notebook.sh"]
USER 1000
"""


def _stacks_root(stacks: str) -> str:
    return f"""\
# dockyard test base (stacks-root): the stacks base left as root, HOME still jovyan's.
FROM {stacks}
USER root
"""


def _usrlocal(bookworm: str) -> str:
    return f"""\
# dockyard test base (usrlocal): CPython in /usr/local, Jupyter pip-installed into it.
FROM {bookworm}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      ca-certificates libssl3 libffi8 libsqlite3-0 libbz2-1.0 liblzma5 zlib1g \\
      libreadline8 libncursesw6 libuuid1 \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY python/ /usr/local/
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \\
    ldconfig && {_PIP.format(python="/usr/local/bin/python3.12")}
RUN useradd --uid 1001 --gid 100 --create-home --shell /bin/bash analyst
WORKDIR /home/analyst
USER analyst
CMD ["jupyter", "lab", "--ip", "0.0.0.0", "--no-browser"]
"""


@dataclass(frozen=True, slots=True)
class _Recipe:
    text: str
    files: Mapping[str, str]  # context files written as text (path -> content)
    stage: Callable[[Path], None] | None = None  # puts larger things in the context
    fingerprint: str = ""  # what `stage` puts there, for the tag


def containerfile(variant: str, *, debian: str, jupyter_base: str = "") -> str:
    """The Containerfile text of "jupyter", "nojupyter" or "cuda" (pure)."""
    if variant not in ("jupyter", "nojupyter", "cuda"):
        raise ValueError(f"unknown base variant {variant!r}; known: jupyter, nojupyter, cuda")
    return _cuda(jupyter_base) if variant == "cuda" else _platform(variant, debian)


def _recipe(engine: CliEngine, variant: str) -> _Recipe:
    if variant in ("jupyter", "nojupyter"):
        return _Recipe(_platform(variant, debian_image(engine, "trixie")), {})
    if variant == "cuda":
        return _Recipe(_cuda(platform_base(engine, variant="jupyter")), {},
                       _compile_cudart, _CUDART_C)
    if variant == "stacks":
        return _Recipe(_stacks(debian_image(engine, "trixie")),
                       {"start-notebook.sh": START_NOTEBOOK,
                        "jupyter_server_config.py": SERVER_CONFIG})
    if variant == "stacks-root":
        return _Recipe(_stacks_root(platform_base(engine, variant="stacks")), {})
    if variant == "usrlocal":
        from .example import find_cpython

        python = find_cpython(USRLOCAL_PYTHON)
        return _Recipe(_usrlocal(debian_image(engine, "bookworm")), {},
                       lambda ctx: _stage_usrlocal_python(python, ctx / "python"),
                       f"{python}:{(python / 'bin' / 'python3.12').stat().st_size}")
    raise ValueError(f"unknown base variant {variant!r}; known: {', '.join(VARIANTS)}")


def _tag(variant: str, recipe: _Recipe) -> str:
    h = hashlib.sha256(recipe.text.encode() + b"\0" + recipe.fingerprint.encode())
    for name, text in sorted(recipe.files.items()):
        h.update(name.encode() + b"\0" + text.encode())
    return f"{REPO}:{variant}-{h.hexdigest()[:12]}"


def platform_base(engine: CliEngine, *, variant: str = "jupyter") -> str:
    """Build (once) and return the tag of a platform-like base image."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown base variant {variant!r}; known: {', '.join(VARIANTS)}")
    recipe = _recipe(engine, variant)
    tag = _tag(variant, recipe)
    if engine.exists(tag):
        return tag
    with machine_lock(Path(tempfile.gettempdir()) / "dockyard-test-bases.lock"):
        if engine.exists(tag):
            return tag
        with tempfile.TemporaryDirectory(prefix=f"dockyard-base-{variant}-") as tmp:
            ctx = Path(tmp)
            (ctx / "Containerfile").write_text(recipe.text)
            for name, text in recipe.files.items():
                (ctx / name).write_text(text)
                (ctx / name).chmod(0o755 if name.endswith(".sh") else 0o644)
            if recipe.stage:
                recipe.stage(ctx)
            ca = os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"
            if "/run/secrets/ca" not in recipe.text or not os.path.isfile(ca):
                ca = str(ctx / ".no-ca")  # the secret mount needs a source even unused
                Path(ca).write_text("")
            engine.build(str(ctx), containerfile=str(ctx / "Containerfile"), tag=tag,
                         secrets={"ca": ca})
    return tag


def matrix_case(variant: str) -> BaseCase:
    return next(c for c in MATRIX if c.variant == variant)


def _compile_cudart(ctx: Path) -> None:
    src = ctx / "cudart.c"
    src.write_text(_CUDART_C)
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", f"-Wl,-soname,{CUDART_SONAME}",
         "-o", str(ctx / CUDART_FILE), str(src)],
        check=True, capture_output=True, text=True,
    )
    src.unlink()


def _stage_usrlocal_python(src: Path, dest: Path) -> None:
    """This machine's CPython build, relocated to /usr/local: RUNPATHs made relative, its
    prefix rewritten in text files; without tests, caches, or site-packages beyond pip."""
    from .example import relocate_cpython

    relocate_cpython(src, dest, prefix="/usr/local", keep_pip=True)
    shutil.rmtree(dest / "share", ignore_errors=True)  # man pages
