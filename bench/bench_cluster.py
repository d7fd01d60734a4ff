"""`dockyard cluster check` on a three-process cluster, beside dask's own version check.

    python bench/bench_cluster.py [--rounds 5]      (after `eval "$(scripts/setup)"`)

Builds the test project's role images (tests/projects/daskcase, on the platform-like
base; the layer cache makes later runs quick), starts a scheduler and two workers from
them with Podman on loopback, then times, alternately, after a warm-up:
- `dockyard cluster check ADDRESS --image NOTEBOOK` (the whole command: a client
  container of the notebook image, the inventory of the client, the scheduler and both
  workers, the comparison with the lock and the client). Target: at most 5 s;
- the alternative, dask's `Client.get_versions(check=True)`, run the same way (a client
  container of the notebook image, with the same bytecode cache).
Then starts a third worker with toolz at another version and says what each one
reports: dask's check compares a dozen packages and only warns (exit 0); dockyard's
compares every distribution and exits 1 naming the worker and the package.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "cluster"))

TAG = "localhost/dockyard-bench/daskcase:1"

GET_VERSIONS = """
import sys, warnings
from distributed import Client
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    client = Client(sys.argv[1], timeout=30)
    versions = client.get_versions(check=True)
    client.close()
names = sorted(versions["client"]["packages"])
print("compared:", len(names), ",".join(names))
print("warnings:", len([w for w in caught if "Mismatched versions" in str(w.message)]))
"""


def _alternative(engine, address: str) -> tuple[float, str]:
    from dockyard.cluster.check import PYCACHE_IN_CONTAINER, pycache_dir

    cache = pycache_dir(engine.inspect(TAG)["Id"])  # the same bytecode cache as dockyard's
    start = time.monotonic()
    done = engine.cli("run", "--rm", "-i", "--network", "host", "--user", "0", "-v",
                      f"{cache}:{PYCACHE_IN_CONTAINER}", "-e",
                      f"PYTHONPYCACHEPREFIX={PYCACHE_IN_CONTAINER}", "--entrypoint",
                      "/opt/dockyard/env/bin/python", TAG, "-", address, input=GET_VERSIONS)
    return time.monotonic() - start, done.stdout + done.stderr


def _dockyard(address: str) -> tuple[float, int, str]:
    from dockyard.testing.cli import run_cli

    start = time.monotonic()
    code, out = run_cli("cluster", "check", address, "--image", TAG, width=200)
    return time.monotonic() - start, code, out


def main() -> int:
    from kit import locked_copy  # tests/cluster's helpers

    from dockyard.engines import get_engine
    from dockyard.testing.bases import platform_base
    from dockyard.testing.cli import run_cli
    from dockyard.testing.dask import PodmanCluster

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    engine = get_engine("podman")
    base = platform_base(engine)
    with tempfile.TemporaryDirectory() as tmp:
        project = locked_copy(Path(tmp) / "daskcase")
        code, out = run_cli("cluster", "build", "--project", str(project), "--base", base,
                            "-t", TAG)
        assert code == 0, out
        wheels = Path(tmp) / "wheels"
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--only-binary=:all:", "-d", str(wheels), "toolz==1.0.0"], check=True)
        (whl,) = wheels.glob("toolz-*.whl")
        shutil.copy(shutil.which("uv"), wheels / "uv")
        (wheels / "Containerfile").write_text(
            f"FROM {TAG}-worker\nUSER root\nRUN --mount=type=bind,source=.,target=/ctx "
            f"/ctx/uv pip install --offline --no-deps --python /opt/dockyard/env/bin/python "
            f"/ctx/{whl.name}\nUSER 1000\n")
        engine.check("build", "-q", "-t", f"{TAG}-worker-toolz", str(wheels), what="build")
    with PodmanCluster(engine, "dockyard-bench") as cluster:
        address = cluster.scheduler(f"{TAG}-scheduler", hostname="scheduler")
        cluster.worker(f"{TAG}-worker", hostname="worker-a")
        cluster.worker(f"{TAG}-worker", hostname="worker-b")
        _dockyard(address), _alternative(engine, address)  # warm-up
        ours, theirs = [], []
        for _ in range(args.rounds):
            t, code, out = _dockyard(address)
            assert code == 0, out
            ours.append(t)
            theirs.append(_alternative(engine, address)[0])
        cluster.worker(f"{TAG}-worker-toolz", hostname="worker-c")
        _, code, out = _dockyard(address)
        _, alt = _alternative(engine, address)
    engine.cli("rmi", f"{TAG}-worker-toolz")
    compared = next(line for line in alt.splitlines() if line.startswith("compared:"))
    n = compared.split()[1]
    print(f"cluster: 1 scheduler + 2 workers (Podman, loopback); {args.rounds} rounds, median")
    print(f"{'command':44} {'time s':>7}  compares")
    print(f"{'dockyard cluster check --image NOTEBOOK':44} {statistics.median(ours):7.2f}  "
          "every distribution, conda record, python, the image's lock; vs lock and client")
    print(f"{'Client.get_versions(check=True) (dask)':44} {statistics.median(theirs):7.2f}  "
          f"{n} packages, vs the client")
    verdict = "OK" if statistics.median(ours) <= 5 else "OVER"
    print(f"dockyard cluster check: {statistics.median(ours):.2f} s (target <= 5 s): {verdict}")
    print("with a worker whose toolz is 1.0.0 (the others 1.2.0):")
    print(f"  dockyard: exit {code}; " + "; ".join(
        " ".join(line.split()) for line in out.splitlines() if "toolz" in line))
    warned = next(line for line in alt.splitlines() if line.startswith("warnings:"))
    print(f"  dask: exit 0, {warned.split()[1]} 'Mismatched versions' warning(s); "
          f"toolz compared: {'toolz' in compared}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
