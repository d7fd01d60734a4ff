"""`dockyard pack` and the host-side unpack, beside their floors (not CI).

    python bench/bench_pack.py [--case example|where|DIR] [--rounds N] [--level 1-9]
                               [--work DIR]

The founding case: `--case WORK/run-ID/dctools`, the locked copy bench_founding.py
leaves, with its git stand-ins (`GIT_CONFIG_GLOBAL=WORK/case/github/gitconfig`); it
needs ~20 GB of scratch (`--work`: the pack, the tarball, two unpacked copies).

For the project (the bundled example by default; `where` is the binary-
placeholder project of dockyard.testing.packs; DIR any locked project):
  - pack time (`dockyard pack`, environment made from the lock; the artifact
    caches are warm) and pack size beside the installed size;
  - unpack time of `sh PACK --prefix DIR --no-check` beside `tar -xzf` of the
    same payload bytes (the floor: what the sha256, relocation and checks cost
    on top), the two alternating;
  - the self-check's time (`dockyard-env check`: verify's imports and versions).
Each figure is a median of `--rounds` runs, as wall-clock seconds and as CPU
seconds (user + system of the command and all its children). On a shared
machine the wall clock follows the load (printed beside): compare the CPU
seconds across runs, the wall clock only within one. Run heavy cases under
`flock /tmp/heavy.lock`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(argv, **kw) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(argv, check=True, capture_output=True, **kw)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def med(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default="example")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--level", type=int, default=6, help="gzip level of the pack (default 6)")
    ap.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    args = ap.parse_args()
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-pack-", dir=args.work))
    loads = []
    try:
        if args.case == "example":
            from dockyard.testing.packs import locked_example
            project = locked_example(work)
        elif args.case == "where":
            from dockyard.testing.packs import binary_prefix_project
            project = binary_prefix_project(work)
        else:
            project = Path(args.case).resolve()
        pack = work / "env.sh"
        dockyard = shutil.which("dockyard") or "dockyard"
        pack_runs = []
        for i in range(args.rounds):
            pack_runs.append(timed([dockyard, "pack", "--project", str(project), "-o", str(pack),
                                    "--compression-level", str(args.level)]))
            loads.append(os.getloadavg()[0])
            print(f"pack {i + 1}: {pack_runs[-1][0]:.1f} s wall, {pack_runs[-1][1]:.1f} s CPU",
                  flush=True)
        from dockyard.deploy import pack_info
        info = pack_info(pack)
        tarball = work / "env.tar.gz"
        subprocess.run(["sh", str(pack), "--tarball", str(tarball)], check=True,
                       capture_output=True)
        unpack, floor, check = [], [], []
        for i in range(args.rounds):
            prefix = work / f"u{i}"
            unpack.append(timed(["sh", str(pack), "--prefix", str(prefix), "--no-check"]))
            (work / f"t{i}").mkdir()
            floor.append(timed(["tar", "-xzf", str(tarball), "-C", str(work / f"t{i}")]))
            check.append(timed(["sh", str(prefix / ".dockyard" / "dockyard-env"), "check"]))
            loads.append(os.getloadavg()[0])
            print(f"round {i + 1}: unpack {unpack[-1][0]:.1f} s, tar -xzf {floor[-1][0]:.1f} s, "
                  f"check {check[-1][0]:.1f} s (wall)", flush=True)
            shutil.rmtree(prefix)
            shutil.rmtree(work / f"t{i}")
        manifest = json.loads(subprocess.run(
            ["sh", "-c", f"gzip -dc {tarball} | tar -xOf - .dockyard/pack.json"],
            capture_output=True, check=True).stdout)
        installed = manifest["installed_bytes"]
        (pw, pc), (uw, uc), (fw, fc), (cw, cc) = map(med, (pack_runs, unpack, floor, check))
        print(f"case: {args.case} ({info.project}, pack {info.pack_id}), gzip level {args.level}, "
              f"{args.rounds} rounds, medians; {os.cpu_count()} cores, load average "
              f"{min(loads):.1f}-{max(loads):.1f}, "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print(f"  pack size        {info.size / 1e6:8.1f} MB   installed {installed / 1e6:8.1f} MB"
              f"   ratio {info.size / installed:.2f}")
        print(f"  pack             {pw:8.1f} s wall {pc:6.1f} s CPU")
        print(f"  unpack (sh)      {uw:8.1f} s wall {uc:6.1f} s CPU   tar -xzf floor {fw:6.1f} s "
              f"wall {fc:6.1f} s CPU   ratio {uw / fw:.2f} wall, {uc / fc:.2f} CPU")
        print(f"  self-check       {cw:8.1f} s wall {cc:6.1f} s CPU   "
              f"({len(manifest['wanted'])} locked distributions imported)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
