"""BuildPlan: how the image will be laid out, and why. Immutable, made by `make_plan`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DEFAULT_PREFIX = "/opt/dockyard/env"
APP_DIR = "/opt/dockyard/app"
LOCK_IN_IMAGE = "/opt/dockyard/dockyard.lock"
PYPI_SIMPLE = "https://pypi.org/simple"


@dataclass(frozen=True, slots=True)
class ToolPin:
    """A build tool fetched by the host from PyPI, sha256-checked (never resolved)."""

    name: str
    version: str
    url: str
    sha256: str


# uv for the builder stage: the manylinux x86_64 wheel, pinned by hash.
UV = ToolPin(
    name="uv",
    version="0.13.9",
    url="https://files.pythonhosted.org/packages/3d/aa/"
    "26d64642d808de4a652579ef950d7cd2d37f080a8babf9c67c6b75fc4c3f/"
    "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    sha256="d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19",
)


@dataclass(frozen=True, slots=True)
class Interpreter:
    kind: Literal["base", "conda"]  # reuse the base's Python, or a second one from conda
    python: str  # the env's interpreter in the image: <prefix>/bin/python
    version: str  # full version, "3.12.1"
    base_python: str  # kind "base": the base interpreter the env is made from
    reason: str
    # kind "base" while the lock has a conda python of the very same version: the conda
    # packages go in, the conda python's own files do not (the base's interpreter runs them)
    replaces_conda_python: bool = False
    cost: str = ""  # what the choice costs or saves, in bytes, when known

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True, slots=True)
class CondaArtifact:
    name: str
    version: str
    build: str
    filename: str
    url: str
    sha256: str


@dataclass(frozen=True, slots=True)
class WheelPin:
    name: str
    version: str
    index: str  # the index URL the lock took it from
    hashes: tuple[str, ...]  # every sha256 the lock lists for it
    # the artifact chosen for the target (the best wheel, else the sdist): fetched by the
    # host, sha256-checked, and installed from the build context without an index
    filename: str = ""
    url: str = ""
    sha256: str = ""

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


@dataclass(frozen=True, slots=True)
class SourcePin:
    """A dependency built from source: a git repository at a commit, or a local path."""

    name: str
    kind: Literal["git", "path"]
    url: str  # git URL (credentials stripped: the lock never has them) or a project path
    commit: str = ""
    subdirectory: str = ""


@dataclass(frozen=True, slots=True)
class Kernel:
    name: str  # directory name under the kernels dir
    display_name: str
    directory: str  # e.g. /opt/python/share/jupyter/kernels/dctools
    argv: tuple[str, ...]
    language: str = "python"


@dataclass(frozen=True, slots=True)
class Layer:
    stage: Literal["builder", "final"]
    what: str
    why: str


@dataclass(frozen=True, slots=True)
class BuildPlan:
    base_ref: str
    base_from: str  # digest-pinned reference used in both FROM lines
    base_user: str  # the base's USER, as written ("" = root)
    uid: int
    gid: int
    owner_names: str  # "onyxia:users" (for messages), numeric ids are what is used
    prefix: str
    app_dir: str
    site_packages: str
    interpreter: Interpreter
    conda: tuple[CondaArtifact, ...]
    wheels: tuple[WheelPin, ...]
    sources: tuple[SourcePin, ...]  # git and path dependencies
    project_name: str
    install_project: bool
    kernel: Kernel
    lock_in_image: str
    lock_hash: str
    env: tuple[tuple[str, str], ...]  # ENV added to the final stage
    labels: tuple[tuple[str, str], ...]
    secrets: tuple[str, ...]  # secret ids mounted into the network steps
    uv: ToolPin
    layers: tuple[Layer, ...]
    notes: tuple[str, ...]
    base_cmd: tuple[str, ...] | None  # kept as is (never written)
    base_entrypoint: tuple[str, ...] | None
    # "host": the project's wheel is built on the host (reproducibly) and its installed tree
    # COPYed last, so a code change touches nothing else; "image": built in the builder
    # stage (a platform-specific wheel, which must be built against the base)
    app_build: Literal["host", "image"] = "host"
    allow_secrets: tuple[str, ...] = ()  # dockyard.toml [secrets] allow: files meant to ship

    @property
    def owner(self) -> str:
        return f"{self.uid}:{self.gid}"
