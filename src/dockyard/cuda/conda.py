"""The conda side of the CUDA target (pure): match specs and the `__cuda` virtual package.

`cuda-version` is conda-forge's metapackage pinning every split CUDA package
(cuda-cudart, libcublas, ...) to one release; `__cuda` is the driver's CUDA as
the solver sees it. A build machine without a GPU has no `__cuda`, so GPU builds
(`pytorch=*=cuda126*`) are unsolvable unless it is set from the target.
"""

from __future__ import annotations

from . import facts


def conda_specs(target: str) -> tuple[str, ...]:
    """Match specs that pin the conda environment to the target CUDA (environment.yml form)."""
    return (f"cuda-version={facts.major_minor(target)}",)


def conda_constraints(target: str) -> tuple[str, ...]:
    """The same pin as a rattler/conda MatchSpec string for a solver's constraints."""
    return (f"cuda-version {facts.major_minor(target)}.*",)


def virtual_cuda(target: str | None) -> str | None:
    """`__cuda=12.6` for the lock's virtual packages and the solver (None: no target)."""
    return f"__cuda={facts.major_minor(target)}" if target else None


def override_env(target: str | None) -> dict[str, str]:
    """CONDA_OVERRIDE_CUDA for conda/mamba/pixi/rattler run on a GPU-less machine."""
    return {"CONDA_OVERRIDE_CUDA": facts.major_minor(target)} if target else {}


__all__ = ["conda_constraints", "conda_specs", "override_env", "virtual_cuda"]
