"""`dockyard doctor`: on a GPU node, does the driver run this environment's CUDA?

Exit codes: 0 ok, 1 incompatible (or the GPU smoke test failed), 2 cannot tell
(no NVIDIA driver found, or a CUDA version that could not be read).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .ui import Ui

_STYLE = {"ok": "green", "limited": "yellow", "incompatible": "red", "unknown": "dim"}


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "doctor", help="check the NVIDIA driver against the environment's CUDA",
        description="Read the NVIDIA driver's CUDA (libcuda, NVML or /proc; no nvidia-smi), "
                    "check what the environment needs with NVIDIA's compatibility rules and, "
                    "if torch or cupy is installed, run a tiny GPU operation. "
                    "Exit 0 ok, 1 incompatible, 2 cannot tell.")
    p.add_argument("--prefix", type=Path, default=None, metavar="PATH",
                   help="an environment prefix or a site-packages folder "
                        "(default: the environment dockyard runs in)")
    p.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    p.add_argument("--no-gpu-test", action="store_true", help="skip the tiny GPU operation")
    return p


def main(args: argparse.Namespace, ui: Ui) -> int:
    from ..cuda.doctor import diagnose
    from ..runner import SubprocessRunner

    python: str | None
    if args.prefix is None:
        prefix, python = sys.prefix, sys.executable
    else:
        prefix = str(args.prefix.resolve())
        candidate = args.prefix / "bin" / "python"
        python = str(candidate) if candidate.exists() else None
    result = diagnose(prefix, python=python, runner=SubprocessRunner(),
                      smoke=not args.no_gpu_test)
    if args.json:
        ui.console.out(json.dumps(result.to_json(), indent=2), highlight=False)
        return result.exit_code
    _render(result, ui)
    return result.exit_code


def _render(result, ui: Ui) -> None:
    from rich.markup import escape
    from rich.table import Table

    d = result.driver
    if d.found:
        how = " (from NVIDIA's driver table)" if d.cuda_from_table else ""
        ui.info(f"driver: {d.version or 'version unknown'}, CUDA {d.cuda or 'unknown'}{how} "
                f"[{', '.join(d.sources)}]")
    else:
        ui.info("driver: no NVIDIA driver found (tried "
                + "; ".join(f"{name}: {why}" for name, why in d.tried) + ")")
    ui.info(f"environment: {result.env.prefix}")
    if result.verdicts:
        table = Table("package", "version", "needs CUDA", "verdict", "why")
        for v in result.verdicts:
            style = _STYLE[v.status]
            table.add_row(escape(v.package), escape(v.version), v.needs,
                          f"[{style}]{v.status}[/{style}]", escape(v.reason))
        ui.console.print(table)
    linked = sorted({e.library for e in result.env.elf})
    if linked:
        ui.info("linked CUDA libraries: " + ", ".join(linked))
    for s in result.smoke:
        (ui.ok if s.ok else ui.warn)(f"GPU test: {s.detail}")
    for note in result.notes:
        ui.info(f"note: {note}")
    colour = {0: "green", 1: "red", 2: "yellow"}[result.exit_code]
    ui.console.print(f"[bold {colour}]{escape(result.headline())}[/bold {colour}]")
