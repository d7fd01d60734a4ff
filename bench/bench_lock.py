"""`dockyard lock` on the founding case beside `uv pip compile` of the same PyPI set.

    python bench/bench_lock.py [--rounds N]

The founding case (../shared/cases/dctools-seed) locks with its conda part on
a local stand-in channel and its git dependencies on local bare repos (git's
url.insteadOf), so the PyPI part is the real thing: ~190 packages from PyPI.
The floor is uv alone on exactly what dockyard asks uv (same requirements,
constraints, target interpreter and platform), writing a pylock.toml. Both
run as commands, alternately, after one warm-up each; uv's cache is warm for
both, and neither starts from an earlier output (uv would take it as preferences).
Target: dockyard at most 1.3x the floor.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dockyard.lock import pypi, rules
from dockyard.lock.model import loads
from dockyard.lock.resolve import pypi_request
from dockyard.runner import which
from dockyard.sources import TOOLS, read_project
from dockyard.testing.channel import founding_case


def timed(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    # uv takes an existing output file as preferences, which speeds it up: dockyard
    # resolves from scratch, so the floor does too.
    (cwd / "pylock.toml").unlink(missing_ok=True)
    start = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{done.stdout}{done.stderr}")
    return elapsed, done.stderr


def inner_uv(log: str) -> float:
    """The time of dockyard's own main uv call, from its -v log."""
    found = re.search(r"uv pip compile \(pylock\): ([0-9.]+) s", log)
    if not found:
        sys.exit(f"no uv timing in dockyard's log:\n{log}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="bench-lock-") as tmp:
        case = founding_case(Path(tmp))
        env = {**os.environ, "GIT_CONFIG_GLOBAL": str(case.gitconfig),
               "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"}
        dockyard = [which("dockyard") or "dockyard", "-v", "lock", "--project",
                    str(case.project)]
        timed(dockyard, env, case.project)  # warm-up; gives the lock the floor is built from

        spec = read_project(case.project)
        lock = loads((case.project / "dockyard.lock").read_text())
        request = pypi_request(spec, rules.select(spec, TOOLS), lock.by_owner("conda"),
                               lock.target.python)
        floor_dir = Path(tmp, "floor")
        floor_dir.mkdir()
        uv = [*pypi.prepare(request, floor_dir), "--format", "pylock.toml",
              "-o", str(floor_dir / "pylock.toml")]
        timed(uv, env, floor_dir)  # warm-up

        floor, total, overhead = [], [], []
        for _ in range(rounds):
            floor.append(timed(uv, env, floor_dir)[0])
            elapsed, log = timed(dockyard, env, case.project)
            total.append(elapsed)
            overhead.append(elapsed - inner_uv(log))

        n_pypi, n_conda = len(lock.by_owner("pypi")), len(lock.by_owner("conda"))
        print(f"founding case: {n_pypi} PyPI + {n_conda} conda packages, "
              f"Python {lock.target.python}, {rounds} rounds alternating (uv cache warm)")
        print(f"{'':34}{'median s':>10}{'min s':>10}{'max s':>10}")
        rows = {"uv pip compile (the floor)": floor, "dockyard lock": total,
                "dockyard lock minus its uv call": overhead}
        for name, values in rows.items():
            print(f"{name:34}{statistics.median(values):>10.2f}{min(values):>10.2f}"
                  f"{max(values):>10.2f}")
        med = statistics.median
        ratio = med(total) / med(floor)
        paired = (med(floor) + med(overhead)) / med(floor)
        print(f"ratio dockyard/uv, medians of wall time:   {ratio:.2f}x")
        print(f"ratio from dockyard's own overhead:        {paired:.2f}x "
              "(floor + what dockyard adds around its uv call; less network noise)")
        print("target: at most 1.30x:", "met" if max(ratio, paired) <= 1.3 else
              ("met by overhead, not by wall time (network noise)" if paired <= 1.3
               else "NOT met"))

if __name__ == "__main__":
    main()
