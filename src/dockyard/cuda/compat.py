"""NVIDIA's compatibility rules: can this driver run what the environment needs? (pure)

- A runtime X.Y runs on a driver whose CUDA is >= X.Y.
- Minor-version compatibility: a newer X.y runtime still runs on an older
  driver of the same major, if the driver is at least the major's floor
  (12.x: 525.60.13; 13.x: 580.65.06), with limits (no JIT of newer PTX).
- Another major never does: a 13.x runtime needs a 13.x driver (>= 580).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from . import facts
from .driver import Driver
from .needs import Need

Status = Literal["ok", "limited", "incompatible", "unknown"]


@dataclass(frozen=True, slots=True)
class Verdict:
    package: str
    version: str
    needs: str  # "12.4" or "12"
    status: Status
    reason: str


def check_need(need: Need, driver: Driver) -> Verdict:
    def verdict(status: Status, reason: str) -> Verdict:
        return Verdict(need.package, need.version, need.cuda, status, reason)

    if not driver.cuda:
        return verdict("unknown", "the driver's CUDA version is unknown")
    have = facts.vtuple(driver.cuda)
    want = facts.vtuple(need.cuda)
    if want[0] != have[0]:
        if want[0] < have[0]:
            return verdict("ok", f"a CUDA {need.cuda} runtime runs on a CUDA {driver.cuda} driver")
        floor = facts.MINOR_COMPAT_FLOOR.get(want[0])
        return verdict("incompatible",
                       f"CUDA {need.cuda} needs a CUDA {want[0]}.x driver"
                       + (f" (>= {floor})" if floor else "")
                       + f"; this one supports CUDA {driver.cuda}")
    if len(want) == 1 or want <= have:
        return verdict("ok", f"the driver supports CUDA {driver.cuda}")
    floor = facts.MINOR_COMPAT_FLOOR.get(want[0])
    if driver.version and floor and facts.vtuple(driver.version) < facts.vtuple(floor):
        return verdict("incompatible", f"driver {driver.version} is below {floor}, the floor "
                                       f"of CUDA {want[0]}.x minor-version compatibility")
    return verdict("limited", f"CUDA {need.cuda} is newer than the driver's {driver.cuda}: it "
                              "runs through minor-version compatibility (no JIT of newer PTX)")


def check(needs: tuple[Need, ...], driver: Driver) -> tuple[Verdict, ...]:
    return tuple(check_need(n, driver) for n in needs)


__all__ = ["Verdict", "check", "check_need"]
