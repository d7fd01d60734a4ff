"""`dockyard doctor`'s library half: driver vs the environment's CUDA, then a tiny GPU run.

`diagnose(prefix, python=..., readers=..., runner=...)` returns a `Diagnosis`;
the CLI renders it. Effects are injected: the driver readers, the runner that
starts the environment's interpreter for the GPU smoke test (a separate
process, so a crashing CUDA library cannot take doctor down with it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..runner import Runner
from .compat import Verdict, check
from .driver import DEFAULT_READERS, Driver, Reader, detect_driver
from .installed import InstalledEnv, detect_installed
from .needs import Need

log = logging.getLogger(__name__)

OK, INCOMPATIBLE, CANNOT_TELL = 0, 1, 2

SMOKE = """
import json
out = {}
try:
    import torch
except Exception:
    torch = None
if torch is not None:
    r = out["torch"] = {"version": torch.__version__, "cuda": torch.version.cuda}
    try:
        r["sum"] = float(torch.ones(2, device="cuda").sum().item())
        r["device"] = torch.cuda.get_device_name(0)
    except Exception as exc:
        r["error"] = f"{type(exc).__name__}: {exc}"
try:
    import cupy
except Exception:
    cupy = None
if cupy is not None:
    r = out["cupy"] = {"version": cupy.__version__}
    try:
        r["sum"] = float(cupy.ones(2).sum())
        r["cuda"] = str(cupy.cuda.runtime.runtimeGetVersion())
    except Exception as exc:
        r["error"] = f"{type(exc).__name__}: {exc}"
print("@@smoke " + json.dumps(out))
"""


@dataclass(frozen=True, slots=True)
class Smoke:
    package: str  # "torch" | "cupy"
    ok: bool
    detail: str  # "torch.ones(2, device='cuda').sum() = 2.0 on NVIDIA H100", or the error


@dataclass(frozen=True, slots=True)
class Diagnosis:
    driver: Driver
    env: InstalledEnv
    verdicts: tuple[Verdict, ...]
    smoke: tuple[Smoke, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        if any(v.status == "incompatible" for v in self.verdicts) or any(
                not s.ok for s in self.smoke):
            return INCOMPATIBLE
        if not self.driver.found or any(v.status == "unknown" for v in self.verdicts):
            return CANNOT_TELL
        return OK

    @property
    def verdict(self) -> Literal["ok", "incompatible", "cannot tell"]:
        return {OK: "ok", INCOMPATIBLE: "incompatible", CANNOT_TELL: "cannot tell"}[
            self.exit_code]  # type: ignore[return-value]

    def headline(self) -> str:
        if not self.driver.found:
            return "no NVIDIA driver found: cannot tell whether this environment's CUDA will run"
        if self.exit_code == INCOMPATIBLE:
            return "incompatible: this environment's CUDA will not run on this driver"
        if not self.verdicts:
            return "ok: nothing in this environment needs CUDA"
        return "ok: this driver runs this environment's CUDA"

    def to_json(self) -> dict:
        return {
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "headline": self.headline(),
            "driver": {"found": self.driver.found, "cuda": self.driver.cuda,
                       "version": self.driver.version, "sources": list(self.driver.sources),
                       "cuda_from_table": self.driver.cuda_from_table,
                       "tried": [list(t) for t in self.driver.tried]},
            "environment": {"prefix": self.env.prefix,
                            "site_packages": list(self.env.site_packages),
                            "torch_cuda": self.env.torch_cuda,
                            "linked": sorted({e.library for e in self.env.elf})},
            "needs": [{"package": v.package, "version": v.version, "cuda": v.needs,
                       "status": v.status, "reason": v.reason} for v in self.verdicts],
            "smoke": [{"package": s.package, "ok": s.ok, "detail": s.detail}
                      for s in self.smoke],
            "notes": list(self.notes),
        }


def diagnose(prefix: str, *, python: str | None = None,
             readers: Sequence[tuple[str, Reader]] = DEFAULT_READERS,
             runner: Runner | None = None, smoke: bool = True) -> Diagnosis:
    driver = detect_driver(readers)
    env = detect_installed(prefix)
    needs = tuple(n for n in env.needs if n.root or n.package.startswith("nvidia-cuda-runtime")
                  or n.package == "cuda-toolkit")
    verdicts = check(needs, driver) + _torch_family_agrees(needs)
    notes: list[str] = []
    if env.torch_cuda is None and not needs:
        notes.append("no CUDA package found in " + (", ".join(env.site_packages) or prefix))
    majors = env.cuda_majors_linked
    if len(majors) > 1:
        notes.append(f"libraries here link CUDA runtimes of several majors: {', '.join(majors)}")
    runs: tuple[Smoke, ...] = ()
    wants_gpu = any(n.package in ("torch", "pytorch") or n.package.startswith("cupy")
                    for n in needs)
    if smoke and driver.found and wants_gpu and python and runner is not None:
        runs = run_smoke(python, runner)
    elif smoke and wants_gpu and not driver.found:
        notes.append("GPU smoke test skipped: no driver")
    return Diagnosis(driver, env, verdicts, runs, tuple(notes))


def _torch_family_agrees(needs: tuple[Need, ...]) -> tuple[Verdict, ...]:
    """torchvision/torchaudio refuse to load beside a torch built for another CUDA."""
    torch = next((n for n in needs if n.package == "torch"), None)
    if torch is None:
        return ()
    return tuple(
        Verdict(n.package, n.version, n.cuda, "incompatible",
                f"built for CUDA {n.cuda} but torch {torch.version} for CUDA {torch.cuda}: "
                f"{n.package} refuses to load")
        for n in needs
        if n.package in ("torchvision", "torchaudio") and n.exact and n.cuda != torch.cuda)


def run_smoke(python: str, runner: Runner, timeout: float = 180) -> tuple[Smoke, ...]:
    done = runner([python, "-c", SMOKE], timeout=timeout)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("@@smoke ")), None)
    if line is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return (Smoke("python", False, f"the smoke test exited {done.returncode}: "
                      + " | ".join(tail)),)
    out = json.loads(line[len("@@smoke "):])
    runs = []
    for pkg, r in sorted(out.items()):
        if "error" in r:
            runs.append(Smoke(pkg, False, f"{pkg} {r.get('version', '')}: {r['error']}"))
        else:
            op = "torch.ones(2, device='cuda').sum()" if pkg == "torch" else "cupy.ones(2).sum()"
            where = f" on {r['device']}" if r.get("device") else ""
            runs.append(Smoke(pkg, r.get("sum") == 2.0,
                              f"{pkg} {r.get('version', '')}: {op} = {r.get('sum')}{where}"))
    return tuple(runs)


__all__ = ["CANNOT_TELL", "Diagnosis", "INCOMPATIBLE", "OK", "SMOKE", "Smoke", "diagnose",
           "run_smoke"]
