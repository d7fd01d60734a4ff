"""`dockyard check` on a multi-gigabyte image beside the I/O floor of reading it once.

    python bench/bench_check.py [--rounds N] [--gb 2.5]

Builds once (cached by a content-hash tag) an image on the Debian trixie test
base with about 2.9 GB of incompressible random data over five layers, the
shape of a data-science image: a few large files (libraries), many 1 MiB files,
tens of thousands of small files (a Python environment), two large files
copied again (duplicates) and one deleted later (wasted bytes).

Then, alternately, each command `--rounds` times after one warm-up:
  - `podman image inspect IMAGE`              (metadata only)
  - `podman save IMAGE > /dev/null`           (the floor: the image read once)
  - `dockyard check IMAGE --json ...`         (reads `podman save` through a pipe)
and prints the median wall time and the peak RSS of each (os.wait4, which
counts a process and the children it waited for), and dockyard's ratio to the
floor. Target: at most 1.5x.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

from dockyard.engines import get_engine
from dockyard.runner import which
from dockyard.testing.rootfs import debian_image

CONTAINERFILE = """\
FROM {base}
RUN mkdir -p /data/big && head -c {big}M /dev/urandom | split -b 150M -d - /data/big/blob
RUN mkdir -p /data/mid && head -c {mid}M /dev/urandom | split -b 1M -a 4 -d - /data/mid/m
RUN mkdir -p /data/small && head -c {small}M /dev/urandom | split -b 8k -a 5 -d - /data/small/s
RUN mkdir -p /opt/copy && cp /data/big/blob00 /data/big/blob01 /opt/copy/
RUN rm /data/big/blob02
"""


def build(engine, gb: float) -> str:
    base = debian_image(engine, "trixie")
    mib = int(gb * 1000)
    text = CONTAINERFILE.format(base=base, big=int(mib * 0.48), mid=int(mib * 0.32),
                                small=int(mib * 0.16))
    tag = "localhost/dockyard-bench/check:" + hashlib.sha256(
        (text + engine.inspect(base)["Id"]).encode()).hexdigest()[:16]
    if engine.exists(tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="bench-check-") as ctx:
        path = os.path.join(ctx, "Containerfile")
        with open(path, "w") as f:
            f.write(text)
        print(f"building {tag} (once)...", file=sys.stderr)
        engine.build(ctx, containerfile=path, tag=tag)
    return tag


def measure(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run, output thrown away."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        sys.exit(f"failed ({proc.returncode}): {' '.join(args)}\n{err[-2000:]}")
    return elapsed, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gb", type=float, default=2.5, help="random data to put in the image")
    opts = parser.parse_args()
    engine = get_engine("podman")
    tag = build(engine, opts.gb)
    size = int(engine.inspect(tag)["Size"])
    with tempfile.TemporaryDirectory(prefix="bench-check-out-") as out:
        commands = {
            "podman image inspect": [engine.binary, "image", "inspect", tag],
            "podman save > /dev/null": [engine.binary, "save", "--format", "docker-archive", tag],
            "dockyard check": [which("dockyard") or "dockyard", "check", tag, "--fail-on",
                               "never", "--json", os.path.join(out, "findings.json")],
        }
        results: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
        for args in commands.values():   # warm-up: page cache and imports
            measure(args)
        for _ in range(opts.rounds):
            for name, args in commands.items():
                results[name].append(measure(args))
    floor = statistics.median(t for t, _ in results["podman save > /dev/null"])
    print(f"image {tag}: {size / 1e9:.2f} GB ({opts.rounds} rounds, median; "
          f"{os.cpu_count()} CPUs)")
    print(f"{'command':26} {'time s':>8} {'MB/s':>8} {'peak RSS MiB':>13} {'x floor':>8}")
    for name, runs in results.items():
        t = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs) / 1024
        print(f"{name:26} {t:8.2f} {size / 1e6 / t:8.0f} {rss:13.0f} {t / floor:8.2f}")
    ratio = statistics.median(t for t, _ in results["dockyard check"]) / floor
    print(f"dockyard check / podman save = {ratio:.2f} (target <= 1.5): "
          + ("OK" if ratio <= 1.5 else "OVER TARGET"))


if __name__ == "__main__":
    main()
