"""The build plan: where the environment goes, which interpreter, whose files, which kernel.

`make_plan(lock, facts, settings, project) -> BuildPlan` is pure; it refuses
with a PlanError (and a hint) when the lock cannot work on the base: no
Jupyter, a glibc too old, no ipykernel, a Python the base lacks with no conda
python to bring. `describe(plan)` gives the lines `dockyard plan` prints.
"""

from .describe import describe
from .make import PlanSettings, choose_interpreter, make_plan, needed_glibc
from .model import (
    APP_DIR,
    DEFAULT_PREFIX,
    LOCK_IN_IMAGE,
    UV,
    BuildPlan,
    CondaArtifact,
    Interpreter,
    Kernel,
    Layer,
    SourcePin,
    ToolPin,
    WheelPin,
)

__all__ = [
    "APP_DIR", "DEFAULT_PREFIX", "LOCK_IN_IMAGE", "UV", "BuildPlan", "CondaArtifact",
    "Interpreter", "Kernel", "Layer", "PlanSettings", "SourcePin", "ToolPin", "WheelPin",
    "choose_interpreter", "describe", "make_plan", "needed_glibc",
]
