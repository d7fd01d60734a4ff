"""`dockyard pack` and the host-side unpack, beside their floors (not CI).

    python bench/bench_pack.py [--case example|where|DIR] [--rounds N]

For the project (the bundled example by default; `where` is the binary-
placeholder project of dockyard.testing.packs; DIR any locked project):
  - pack time (`dockyard pack`, environment made from the lock, cold-ish: the
    artifact caches are warm) and pack size beside the installed size;
  - unpack time of `sh PACK --prefix DIR --no-check` beside `tar -xzf` of the
    same payload bytes (the floor: what relocation and checks cost on top);
  - the self-check's time (`dockyard-env check`: verify's imports and versions).
Medians of `--rounds` runs. Run heavy cases under `flock /work/wt/.heavy.lock`.
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


def timed(argv, **kw) -> float:
    start = time.monotonic()
    subprocess.run(argv, check=True, capture_output=True, **kw)
    return time.monotonic() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default="example")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-pack-"))
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
        pack_times = [timed([shutil.which("dockyard") or "dockyard", "pack", "--project",
                             str(project), "-o", str(pack)]) for _ in range(args.rounds)]
        from dockyard.deploy import pack_info
        info = pack_info(pack)
        tarball = work / "env.tar.gz"
        subprocess.run(["sh", str(pack), "--tarball", str(tarball)], check=True,
                       capture_output=True)
        unpack, floor, check = [], [], []
        for i in range(args.rounds):
            prefix = work / f"u{i}"
            unpack.append(timed(["sh", str(pack), "--prefix", str(prefix), "--no-check"]))
            check.append(timed(["sh", str(prefix / ".dockyard" / "dockyard-env"), "check"]))
            (work / f"t{i}").mkdir()
            floor.append(timed(["tar", "-xzf", str(tarball), "-C", str(work / f"t{i}")]))
            shutil.rmtree(prefix)
            shutil.rmtree(work / f"t{i}")
        import json
        manifest = json.loads(subprocess.run(
            ["sh", "-c", f"gzip -dc {tarball} | tar -xOf - .dockyard/pack.json"],
            capture_output=True, check=True).stdout)
        med = statistics.median
        installed = manifest["installed_bytes"]
        print(f"case: {args.case} ({info.project}, pack {info.pack_id}), "
              f"{args.rounds} rounds, medians")
        print(f"  pack size        {info.size / 1e6:8.1f} MB   installed {installed / 1e6:8.1f} MB"
              f"   ratio {info.size / installed:.2f}")
        print(f"  pack time        {med(pack_times):8.1f} s")
        print(f"  unpack (sh)      {med(unpack):8.1f} s   tar -xzf floor {med(floor):6.1f} s"
              f"   ratio {med(unpack) / med(floor):.2f}")
        print(f"  self-check       {med(check):8.1f} s   "
              f"({len(manifest['wanted'])} locked distributions imported)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
