"""Engine-less assembly beside the Podman (Containerfile) path, in one run.

    python bench/bench_assemble.py                          # the bundled example
    flock /tmp/heavy.lock python bench/bench_assemble.py --project DIR --base REF
                                                            # any locked project (GBs: heavy)
    [--work DIR]   # where the copies, caches and layouts go (default: a temporary folder)

The founding case: the locked copy bench_founding.py leaves (`WORK/run-ID/dctools`), its
base (`localhost/dockyard-test/platform-base:cuda-...`) and its git stand-ins
(`GIT_CONFIG_GLOBAL=WORK/case/github/gitconfig`).

Prints side by side, for `dockyard build` (Podman) and `dockyard build --engine none
--output oci:DIR`:
- cold build: Podman with `--no-cache` (every layer rebuilt, its uv cache mount warm);
  engine-less with an empty dockyard cache (every download again: the worst case), then
  with the downloads cached but no layer (what a CI runner with a download cache sees);
- code-only rebuild: one line of the project's package changed (a change never built);
- image size: what the engine reports for Podman's; the layers' uncompressed and gzip
  bytes for the assembled one;
- digest of two runs: two cold builds in two folders (engine-less: different caches too).
Targets (issue 13): code-only rebuild <= 2 s on the founding case's environment, cold
assembly no slower than Podman's cold build, identical digests.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console

from dockyard.cli import main
from dockyard.cli.ui import Ui
from dockyard.engines import get_engine

TAG = "localhost/dockyard-i13/bench"


def run(*args: str) -> tuple[float, str]:
    out = io.StringIO()
    console = Console(file=out, width=400, force_terminal=False)
    start = time.monotonic()
    code = main(list(args), Ui(console, console))
    elapsed = time.monotonic() - start
    if code != 0:
        raise SystemExit(f"dockyard {' '.join(args)} failed:\n{out.getvalue()}")
    return elapsed, out.getvalue()


def touch_code(project: Path) -> None:
    """A one-line change to the project's package, never built before."""
    pkg = next(p for p in sorted(project.rglob("__init__.py"))
               if ".git" not in p.parts and "tests" not in p.parts)
    pkg.write_text(pkg.read_text() + f"\nBENCH_CHANGE = {time.time_ns()}\n")


def assembled(project: Path, base: str, out: Path, cache: Path) -> tuple[float, str]:
    os.environ["XDG_CACHE_HOME"] = str(cache)
    elapsed, text = run("build", "--base", base, "--project", str(project), "--engine", "none",
                        "--output", f"oci:{out}")
    return elapsed, re.search(r"(sha256:[0-9a-f]{64})", text).group(1)


def layer_sizes(layout: Path, digest: str, base_layers: int) -> tuple[int, int]:
    import gzip

    manifest = json.loads((layout / "blobs" / digest.replace(":", "/")).read_text())
    ours = manifest["layers"][base_layers:]
    packed = sum(x["size"] for x in ours)
    plain = 0
    for x in ours:
        with gzip.open(layout / "blobs" / x["digest"].replace(":", "/")) as f:
            while chunk := f.read(1 << 20):
                plain += len(chunk)
    return plain, packed


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", type=Path, help="a locked project (default: the example)")
    parser.add_argument("--base", help="its base image (default: the platform-like base)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    engine = get_engine("podman")
    home_cache = Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"))
    with contextlib.ExitStack() as stack:
        if args.project:
            project, base = args.project.resolve(), args.base
        else:
            from dockyard.testing.bases import platform_base
            from dockyard.testing.example import locked_example

            base = platform_base(engine, variant="jupyter")
            project = stack.enter_context(locked_example())  # its git URL mapped meanwhile
        bench(project, base, engine, home_cache, args.work)


def bench(project: Path, base: str, engine, home_cache: Path, where: Path | None) -> None:
    if where:
        where.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-assemble-", dir=where))
    loads = [os.getloadavg()[0]]
    builders: set[str] = set()

    def podman_build(*args: str) -> float:
        t, out = run(*args)
        builders.update(re.findall(r"builder stage kept as (\S+)", out.replace("\n", " ")))
        loads.append(os.getloadavg()[0])
        return t

    try:
        copies = []
        for name in ("a", "b"):
            shutil.copytree(project, work / name / project.name)
            copies.append(work / name / project.name)
        # --- Podman: two cold builds, then a code-only change ---
        os.environ["XDG_CACHE_HOME"] = str(home_cache)
        podman_ids = []
        for i, copy in enumerate(copies):
            t = podman_build("build", "--base", base, "--project", str(copy), "-t",
                             f"{TAG}:p{i}", "--no-cache")
            podman_ids.append(engine.inspect(f"{TAG}:p{i}")["Digest"])
            if i == 0:
                podman_cold = t
            print(f"podman cold build {i + 1}: {t:.1f} s", flush=True)
        touch_code(copies[0])
        podman_code = podman_build("build", "--base", base, "--project", str(copies[0]), "-t",
                                   f"{TAG}:p0")
        print(f"podman code-only rebuild: {podman_code:.1f} s", flush=True)
        podman_size = engine.inspect(f"{TAG}:p0")["Size"] - engine.inspect(base)["Size"]
        for ref in [f"{TAG}:p0", f"{TAG}:p1", *sorted(builders)]:
            engine.cli("rmi", "-f", ref, timeout=600)
        # --- engine-less: two cold builds (empty caches), one with downloads kept ---
        for copy in copies:  # back to the same source as each other
            shutil.rmtree(copy)
        for name in ("a", "b"):
            shutil.copytree(project, work / name / project.name)
        cold_a, digest_a = assembled(copies[0], base, work / "oci-a", work / "cache-a")
        print(f"engine-less cold assembly 1: {cold_a:.1f} s", flush=True)
        loads.append(os.getloadavg()[0])
        cold_b, digest_b = assembled(copies[1], base, work / "oci-b", work / "cache-b")
        print(f"engine-less cold assembly 2: {cold_b:.1f} s", flush=True)
        loads.append(os.getloadavg()[0])
        for sub in ("layers", "blobs", "bases", "probes", "sbom", "build-envs"):
            shutil.rmtree(work / "cache-a" / "dockyard" / sub, ignore_errors=True)
        warm_dl, digest_c = assembled(copies[0], base, work / "oci-c", work / "cache-a")
        touch_code(copies[1])
        code_only, _ = assembled(copies[1], base, work / "oci-b", work / "cache-b")
        loads.append(os.getloadavg()[0])
        from dockyard.oci.base import open_base

        os.environ["XDG_CACHE_HOME"] = str(work / "cache-a")
        base_layers = len(open_base(base, engine).layers)
        plain, packed = layer_sizes(work / "oci-a", digest_a, base_layers)
        rows = [
            ("cold build", f"{podman_cold:.1f} s (--no-cache)",
             f"{cold_a:.1f} s (empty cache) / {warm_dl:.1f} s (downloads cached)"),
            ("code-only rebuild", f"{podman_code:.1f} s", f"{code_only:.1f} s"),
            ("added size", f"{podman_size / 1e6:.0f} MB",
             f"{plain / 1e6:.0f} MB ({packed / 1e6:.0f} MB gzip)"),
            ("two cold runs", "same digest" if podman_ids[0] == podman_ids[1] else
             "different digests",
             "same digest" if digest_a == digest_b == digest_c else "DIFFERENT digests"),
        ]
        print(f"project {project.name} on {base} ({os.cpu_count()} CPUs, load average "
              f"{min(loads):.1f}-{max(loads):.1f}, "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
        print(f"{'':20} {'podman (Containerfile)':32} engine-less (oci: layout)")
        for name, a, b in rows:
            print(f"{name:20} {a:32} {b}")
        print(f"engine-less digest: {digest_a}")
        print(f"code-only rebuild <= 2 s: {'OK' if code_only <= 2 else 'NOT MET'}; "
              f"cold assembly <= Podman's: {'OK' if cold_a <= podman_cold else 'NOT MET'} "
              f"(downloads cached: {'OK' if warm_dl <= podman_cold else 'NOT MET'})")
    finally:
        os.environ["XDG_CACHE_HOME"] = str(home_cache)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main_bench()
