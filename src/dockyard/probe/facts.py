"""BaseFacts: what a base image is, read from the image itself (never assumed)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PythonFacts:
    path: str  # as found (on PATH or a common place)
    real: str  # after resolving symlinks
    version: str  # "3.13.5"
    prefix: str  # sys.prefix
    implementation: str = "cpython"  # sys.implementation.name
    abiflags: str = ""  # sys.abiflags ("t": free-threaded)

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True, slots=True)
class JupyterFacts:
    path: str  # the `jupyter` command
    python: str  # the interpreter it runs with (its shebang)
    data_dirs: tuple[str, ...]  # `jupyter --paths` data, in search order

    @property
    def kernel_dirs(self) -> tuple[str, ...]:
        return tuple(f"{d.rstrip('/')}/kernels" for d in self.data_dirs)


@dataclass(frozen=True, slots=True)
class UserFacts:
    """The user the image runs as, resolved against its /etc/passwd and /etc/group."""

    config_user: str  # the image's USER as written ("" means root)
    uid: int
    gid: int  # primary group of that user
    name: str  # "" when the uid has no passwd entry
    home: str  # $HOME as the image's processes see it (ENV first, then /etc/passwd)
    username: str  # $USERNAME in the image's ENV ("" if unset)
    groupname: str  # $GROUPNAME, else the name /etc/group gives the owner gid ("" if none)
    group_gid: int | None  # gid of $GROUPNAME in /etc/group
    workspace_dir: str  # $WORKSPACE_DIR ("" if unset)
    nb_user: str = ""  # $NB_USER (docker-stacks images) ("" if unset)
    homes: tuple[str, ...] = ()  # every user's home: $HOME, /root, people's passwd homes

    @property
    def is_root(self) -> bool:
        return self.uid == 0

    @property
    def platform_user(self) -> str:
        """The user the platform's variables name ($USERNAME, else $NB_USER), or ""."""
        return self.username or self.nb_user

    def in_a_home(self, path: str) -> bool:
        """Whether `path` is under some user's home (platforms mount volumes over homes)."""
        path = path.rstrip("/") + "/"
        return any(path.startswith(h.rstrip("/") + "/") for h in self.homes)

    @property
    def owner_gid(self) -> int:
        return self.group_gid if self.group_gid is not None else self.gid


@dataclass(frozen=True, slots=True)
class CudaFacts:
    version: str  # from $CUDA_VERSION or /usr/local/cuda/version.json; "" if none
    roots: tuple[str, ...]  # /usr/local/cuda, /usr/local/cuda-12.6, ...
    cudart: tuple[str, ...]  # libcudart.so.* files found
    libraries: tuple[str, ...] = ()  # the toolkit's other libraries (cublas, cudnn, nccl...)

    @property
    def present(self) -> bool:
        return bool(self.version or self.cudart)


@dataclass(frozen=True, slots=True)
class BaseFacts:
    ref: str  # as the user gave it
    image_id: str
    pinned: str  # the reference to build FROM: name@sha256:... or the image id
    architecture: str
    size: int  # bytes, as the engine reports
    env: tuple[tuple[str, str], ...]
    cmd: tuple[str, ...] | None
    entrypoint: tuple[str, ...] | None
    workdir: str
    labels: tuple[tuple[str, str], ...]
    os_id: str
    os_version: str
    os_name: str
    glibc: str  # "2.41"; "" when the base has no glibc (musl, static)
    libc: str  # "glibc", "musl" or ""
    pythons: tuple[PythonFacts, ...]
    jupyter: JupyterFacts | None
    user: UserFacts
    cuda: CudaFacts
    tools: tuple[tuple[str, str], ...]  # ("uv", "/opt/python/bin/uv"), ...

    def env_value(self, key: str) -> str | None:
        return dict(self.env).get(key)

    def tool(self, name: str) -> str | None:
        return dict(self.tools).get(name)

    @property
    def jupyter_python(self) -> PythonFacts | None:
        """The Python that runs the base's Jupyter, if it is one of the probed ones."""
        if self.jupyter is None:
            return None
        for p in self.pythons:
            if self.jupyter.python in (p.path, p.real):
                return p
        return None
