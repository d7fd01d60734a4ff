"""ProjectSpec: the project as its developers keep it, plus the deployment settings.

Readers in `dockyard.sources` build these from pyproject.toml, poetry.lock,
uv.lock, environment.yml, requirements*.txt and dockyard.toml. Everything
here is immutable and carries an `Origin` so later stages can name the file
and line a decision came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Owner = Literal["conda", "pypi"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a requirement or setting came from: file, 1-based line, dotted field."""

    file: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        text = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{text} ({self.field})" if self.field else text


@dataclass(frozen=True, slots=True)
class GitSource:
    url: str  # credentials stripped; they come from the environment or netrc
    kind: Literal["branch", "tag", "rev", "default"] = "default"
    ref: str | None = None
    subdirectory: str | None = None


@dataclass(frozen=True, slots=True)
class PypiRequirement:
    """One PyPI-side requirement: a PEP 508 requirement plus where to get it."""

    name: str  # canonical (PEP 503 normalized)
    specifier: str = ""  # PEP 440 specifier set, e.g. ">=1.25,<2"
    extras: tuple[str, ...] = ()
    marker: str = ""
    git: GitSource | None = None
    path: str | None = None  # relative to the project root
    url: str | None = None  # direct archive URL, credentials stripped
    index: str | None = None  # name of a declared Index to take it from
    group: str = "main"  # "main", a poetry group, or "extra:NAME"
    origin: Origin = field(default_factory=lambda: Origin("?"))

    def pep508(self) -> str:
        """The requirement as uv reads it (direct references included)."""
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        if self.git is not None:
            ref = f"@{self.git.ref}" if self.git.ref else ""
            sub = f"#subdirectory={self.git.subdirectory}" if self.git.subdirectory else ""
            text = f"{self.name}{extras} @ git+{self.git.url}{ref}{sub}"
        elif self.url is not None:
            text = f"{self.name}{extras} @ {self.url}"
        elif self.path is not None:
            text = f"{self.name}{extras} @ file://{self.path}"
        else:
            text = f"{self.name}{extras}{self.specifier}"
        return f"{text} ; {self.marker}" if self.marker else text


@dataclass(frozen=True, slots=True)
class CondaRequirement:
    """One conda match spec from environment.yml (or dockyard.toml)."""

    name: str
    spec: str  # the normalized match spec, e.g. "python 3.12.11.*" or "esmpy"
    channel: str | None = None  # "conda-forge::esmpy" pins a channel
    origin: Origin = field(default_factory=lambda: Origin("?"))


@dataclass(frozen=True, slots=True)
class Index:
    """A PyPI-style package index (poetry source, uv index, or dockyard.toml)."""

    name: str
    url: str  # credentials stripped
    explicit: bool = False  # only packages routed to it by name use it
    default: bool = False  # replaces PyPI
    origin: Origin = field(default_factory=lambda: Origin("?"))


@dataclass(frozen=True, slots=True)
class LockEdge:
    """One dependency as a project lock records it (poetry.lock, uv.lock)."""

    name: str  # canonical
    specifier: str = ""  # PEP 440; "" is any version
    marker: str = ""  # PEP 508 marker; "" is always
    extras: tuple[str, ...] = ()  # extras asked of the dependency
    version: str | None = None  # uv.lock: which of several versions of `name`
    source: str | None = None  # uv.lock: which source (registry or git URL), when several
    optional: bool = False  # poetry.lock: only through an extra of the dependent


@dataclass(frozen=True, slots=True)
class Pin:
    """A version the developers tested: one entry of poetry.lock, uv.lock, a hashed
    requirements file, or (manager "conda") a conda-lock / pixi.lock record.

    A lock may list a package more than once (one per Python version or platform);
    `dockyard.lock.pins.target_pins` walks `depends` from the project's requirements
    with the target's markers to find the entries that apply, before any binds.
    """

    name: str  # canonical (conda name for manager "conda")
    version: str
    source: str  # the lock file, relative to the root: "poetry.lock", "ci/conda-lock.yml"
    commit: str | None = None  # for git dependencies
    url: str | None = None  # the git repository of a commit pin (credentials stripped)
    marker: str = ""  # where the entry applies (poetry 2.x `markers`, uv/pip markers)
    requires_python: str = ""  # poetry's python-versions
    depends: tuple[LockEdge, ...] = ()
    extras: tuple[tuple[str, tuple[LockEdge, ...]], ...] = ()  # extra -> its edges
    local: bool = False  # a path/editable/virtual/url entry: not a version to pin
    index: str | None = None  # uv.lock: the registry it came from (a fork's entries differ)
    manager: str = "pypi"  # "pypi" or "conda"
    build: str = ""  # conda build string
    line: int | None = None  # where the entry starts in its file

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source


@dataclass(frozen=True, slots=True)
class ProjectLock:
    """One lock file of the project, with what it needs to be evaluated for a target."""

    file: str  # relative to the root
    kind: str  # "poetry", "uv", "requirements", "conda-lock", "pixi"
    requires_python: str = ""  # the Pythons it was made for (metadata / requires-python)
    # uv.lock: the project's own edges per dockyard group ("main", "extra:gpu", "dev");
    # poetry.lock has none: its roots are pyproject.toml's requirements
    roots: tuple[tuple[str, tuple[LockEdge, ...]], ...] = ()
    project: str | None = None  # uv.lock: the root project's name (for conflict markers)
    walk: bool = True  # False: every entry whose marker holds applies (hashed requirements)
    pins: tuple[Pin, ...] = ()


@dataclass(frozen=True, slots=True)
class DependencyMetadata:
    """`[[tool.uv.dependency-metadata]]`: a package's metadata as the project states it
    (cs336's flash-attn sdist, which cannot be built to be read), passed on to uv."""

    name: str
    version: str = ""
    requires_dist: tuple[str, ...] = ()
    requires_python: str = ""


@dataclass(frozen=True, slots=True)
class InputFile:
    path: str  # relative to the project root
    sha256: str


@dataclass(frozen=True, slots=True)
class Settings:
    """dockyard.toml: what belongs to the deployment, not to the project."""

    platform: str = "linux-64"  # conda subdir of the target
    python: str | None = None  # e.g. "3.12"; default: from environment.yml or requires-python
    glibc: str = "2.28"  # the target's glibc, for manylinux tags and __glibc
    cuda: str | None = None  # the platform's CUDA, e.g. "12.6"
    base: str | None = None  # the platform's base image reference
    groups: tuple[str, ...] = ()  # optional poetry groups to include
    extras: tuple[str, ...] = ()  # PEP 621 extras to include
    constraints: tuple[str, ...] = ()  # extra PEP 508 constraints, e.g. "pyarrow<26"
    sources: tuple[tuple[str, Owner], ...] = ()  # ("xesmf", "conda") overrides
    channels: tuple[str, ...] = ()  # replaces environment.yml channels when set
    channel_priority: str | None = None
    indexes: tuple[Index, ...] = ()
    routes: tuple[tuple[str, str], ...] = ()  # (package, index name): explicit routing
    honour_project_lock: bool = True  # poetry.lock / uv.lock pins bind the resolution
    unpin: tuple[str, ...] = ()  # packages whose project-lock pins (version or commit) go
    environment: str | bool | None = None  # environment file chosen; False: none
    kernel: bool = True  # the env becomes a Jupyter kernel: the lock adds ipykernel
    accept_cuda_mismatch: bool = False
    allow_secrets: tuple[str, ...] = ()  # [secrets] allow: files meant to ship (globs)
    origin: Origin = field(default_factory=lambda: Origin("dockyard.toml"))

    def source_for(self, name: str) -> Owner | None:
        return dict(self.sources).get(name)


@dataclass(frozen=True, slots=True)
class ProjectSpec:
    """Everything the resolver needs, read from the project's own files."""

    root: str  # absolute path of the project directory
    name: str | None = None
    requires_python: str | None = None
    pypi: tuple[PypiRequirement, ...] = ()  # every group; filtering is the resolver's
    conda: tuple[CondaRequirement, ...] = ()
    conda_pip: tuple[PypiRequirement, ...] = ()  # environment.yml's pip: section
    # requirements files' -c constraints: bind versions, never add packages
    constraints: tuple[PypiRequirement, ...] = ()
    channels: tuple[str, ...] = ()
    channel_priority: str = "strict"
    indexes: tuple[Index, ...] = ()
    pins: tuple[Pin, ...] = ()  # every lock entry as read; lock.pins binds those that apply
    locks: tuple[ProjectLock, ...] = ()  # the lock files the pins come from
    optional_groups: tuple[str, ...] = ()  # poetry groups marked optional
    selected_groups: tuple[str, ...] = ()  # groups the environment file's pip: asks for
    requires_python_origin: Origin | None = None
    environment: str | None = None  # the environment file used, relative to the root
    find_links: tuple[str, ...] = ()  # pip --find-links pages or folders (requirement files)
    dependency_metadata: tuple[DependencyMetadata, ...] = ()
    notes: tuple[str, ...] = ()  # what the readers decided and want told (file chosen, ...)
    settings: Settings = field(default_factory=Settings)
    inputs: tuple[InputFile, ...] = ()  # every file read, for the lock's input hash
