"""What one file contributes to a ProjectSpec, before they are put together."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import (
    CondaRequirement,
    DependencyMetadata,
    Index,
    Origin,
    Pin,
    ProjectLock,
    PypiRequirement,
)


@dataclass(frozen=True, slots=True)
class Partial:
    name: str | None = None
    requires_python: str | None = None
    pypi: tuple[PypiRequirement, ...] = ()
    constraints: tuple[PypiRequirement, ...] = ()  # requirements files' -c
    conda: tuple[CondaRequirement, ...] = ()
    conda_pip: tuple[PypiRequirement, ...] = ()
    channels: tuple[str, ...] = ()
    channel_priority: str | None = None  # None: the file does not say
    indexes: tuple[Index, ...] = ()
    pins: tuple[Pin, ...] = ()
    optional_groups: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()  # other files read on the way (requirements -r/-c)
    locks: tuple[ProjectLock, ...] = ()
    requires_python_origin: Origin | None = None
    selected_groups: tuple[str, ...] = ()  # pip's `--group NAME` in an environment file
    find_links: tuple[str, ...] = ()  # pip's --find-links (URLs or folders)
    dependency_metadata: tuple[DependencyMetadata, ...] = ()
    notes: tuple[str, ...] = ()  # decisions to tell (`dask[complete]` read as `dask`)
