"""The one exception tree of dockyard.

    DockyardError                 every error a user can act on
    ├── SpecError                 a project or settings file is malformed or inconsistent
    ├── LockError                 resolution failed, or the lock file is stale/invalid
    │   └── CudaMismatchError     the resolved GPU packages disagree with the target CUDA
    ├── PlanError                 the lock does not fit the base image / platform contract
    ├── BuildError                the engine failed to build, run or push
    ├── VerifyError               the image does not pass its checks
    ├── AuditError                an image cannot be read for `dockyard check`
    ├── ClusterError              a Dask cluster cannot be reached, or its spec is wrong
    ├── PackError                 an environment cannot be packed for hosts
    ├── DeployError               a pack cannot be deployed to a host
    └── CacheError                dockyard's caches cannot be read or cleaned

Each carries a message, a `where` (file:line or field, optional) and a `hint`
saying what to do next. The CLI renders them; the library never exits.
Built-in exceptions are reserved for programmer bugs.
"""

from __future__ import annotations


class DockyardError(Exception):
    """Base of every error a user can act on."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class SpecError(DockyardError):
    """A project or settings file is malformed or inconsistent."""


class LockError(DockyardError):
    """Resolution failed, or the lock is stale or invalid."""


class CudaMismatchError(LockError):
    """Resolved GPU packages need another CUDA than the target's."""


class PlanError(DockyardError):
    """The lock does not fit the base image or the platform contract."""


class BuildError(DockyardError):
    """The container engine failed to build, run or push."""


class VerifyError(DockyardError):
    """The image does not pass its checks."""

    exit_code = 1


class AuditError(DockyardError):
    """An image cannot be read for `dockyard check`."""


class ClusterError(DockyardError):
    """A Dask cluster cannot be reached or inspected, or its settings are wrong."""


class PackError(DockyardError):
    """An environment cannot be packed for hosts (`dockyard pack`)."""


class DeployError(DockyardError):
    """A pack cannot be deployed to a host (`dockyard deploy`)."""


class CacheError(DockyardError):
    """dockyard's caches cannot be read or cleaned (`dockyard cache`)."""
