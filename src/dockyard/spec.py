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
class Pin:
    """A version the developers tested, from poetry.lock or uv.lock."""

    name: str  # canonical
    version: str
    source: str  # "poetry.lock" / "uv.lock"
    commit: str | None = None  # for git dependencies


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
    kernel: bool = True  # the env becomes a Jupyter kernel: the lock adds ipykernel
    accept_cuda_mismatch: bool = False
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
    pins: tuple[Pin, ...] = ()
    optional_groups: tuple[str, ...] = ()  # poetry groups marked optional
    settings: Settings = field(default_factory=Settings)
    inputs: tuple[InputFile, ...] = ()  # every file read, for the lock's input hash
