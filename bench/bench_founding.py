"""The founding case at full scale: dockyard's image beside a hand-written single-stage one.

    flock /tmp/heavy.lock python bench/bench_founding.py [--work DIR] [--keep]
                                                              [--pyarrow-26]

(after `eval "$(scripts/setup)"`; not part of the test suite: it downloads ~3.5 GB of
wheels once, builds two images of ~7 GB and ~14 GB, and removes them at the end.)

The case (shared/cases/dctools-seed) is set up by `dockyard.testing.founding`: its conda
side from a stand-in channel that installs for real (this machine's CPython 3.12.1,
numpy and xarray from PyPI's wheels, esmf/esmpy/xesmf stand-ins), its GitHub
dependencies from local bare repositories, and the CUDA 12.6 fix dockyard's lock
proposes (torchvision 0.22 and torch 2.7, whose PyPI wheels bring CUDA 12.6), and the
fix its first verify leads to: `pyarrow<26` (pyarrow 26 resolves beside the case's
numpy<2 but refuses NumPy 1.x at import, which its metadata does not say; verify names
it, and argopy's failure behind it). `--pyarrow-26` leaves it out, to see that true
failure. It is locked, then built on the CUDA-like platform base (dockyard.testing.bases,
"cuda"). The work folder keeps the case, the locked copy of each run (`run-ID/dctools`,
which bench_assemble.py --project and bench_pack.py --case take) and the outputs of
verify and check; dockyard's download cache keeps the wheels (~3.5 GB) for the next run.

Printed side by side, in one run:
- cold build: dockyard `build --no-cache` (the PyPI artifacts are already on the host:
  their first download is timed on its own); the hand-written image built with
  `--no-cache`, installing the same wheels from a bind-mounted folder (no download);
- code-only rebuild: a one-line change of the project's package, unique to the run;
- image size, added size (image minus base) and added / installed (the installed size
  of the environment and the project's package, `du -sb` in dockyard's image);
- verify: `dockyard verify IMAGE` with no flags (the hand-written one with --kernel);
- check: `dockyard check IMAGE --base BASE` beside `podman save IMAGE > /dev/null`;
- peak RSS of the dockyard process of each command (VmHWM, sampled).

The hand-written image is of the kind the team made by hand: one stage, the conda
environment copied in, the repository copied (`COPY . /app`), pip installs of the
locked versions, the project installed from /app, `ipykernel install`, then `chown -R`
in a layer of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.engines import get_engine
from dockyard.engines.housekeeping import BUILDER_REPO
from dockyard.lock.model import loads
from dockyard.testing.bases import platform_base
from dockyard.testing.founding import founding_case_buildable

RUN_ID = uuid.uuid4().hex[:12]
DOCKYARD_TAG = "localhost/dockyard-bench/founding:dockyard"
NAIVE_TAG = "localhost/dockyard-bench/founding:naive"
TARGETS = {"image GB": 7.5, "added/installed": 1.01, "code-only rebuild s": 10,
           "peak RSS MB": 300}

NAIVE = """\
# Hand-written, single stage, as the team built it by hand.
FROM {base}
USER root
COPY conda-env/ /opt/conda-env/
# the project's repository, as `COPY . /app`
COPY project/ /app
RUN --mount=type=bind,source=wheels,target=/wheels \\
    --mount=type=secret,id=ca,target=/run/secrets/ca \\
    /opt/python/bin/pip --python /opt/conda-env/bin/python install --no-cache-dir \\
      --disable-pip-version-check --no-deps --no-index --find-links /wheels \\
      -r /app/requirements.txt \\
 && PIP_CERT=/run/secrets/ca /opt/python/bin/pip --python /opt/conda-env/bin/python \\
      install --no-cache-dir --disable-pip-version-check --no-deps /app/xrpatcher /app \\
 && /opt/conda-env/bin/python -m ipykernel install --prefix /opt/python --name dctools \\
      --display-name "dctools (Python 3.12)"
RUN chown -R 1000:100 /opt/conda-env /app
USER 1000
"""


@dataclass
class Run:
    seconds: float
    code: int
    out: str
    peak_mb: float = 0.0


@dataclass
class Column:
    figures: dict[str, str] = field(default_factory=dict)


def dockyard(*args: str, cwd: Path | None = None, check: bool = True) -> Run:
    """`dockyard ARGS` as a user runs it (a process of its own, no terminal), timed, with
    the peak RSS of that process (VmHWM, sampled until it exits)."""
    exe = Path(sys.executable).with_name("dockyard")
    start = time.monotonic()
    proc = subprocess.Popen([str(exe), *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.2)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    out = proc.communicate()[0]
    watcher.join()
    run = Run(time.monotonic() - start, proc.returncode, out, peak[0] / 1024)
    if check and run.code != 0:
        print(out[-4000:])
        sys.exit(f"dockyard {' '.join(args)} failed ({run.code})")
    return run


def timed(argv: list[str], **kw) -> float:
    start = time.monotonic()
    subprocess.run(argv, check=True, **kw)
    return time.monotonic() - start


def code_change(project: Path, n: int) -> None:
    """A one-line change, unique to this run (a layer an earlier run cached cannot answer)."""
    init = project / "dctools" / "__init__.py"
    text = init.read_text().split("\nBENCH_RUN")[0]
    init.write_text(text + f"\nBENCH_RUN = {n}  # {RUN_ID}\n")


def size(engine, ref: str) -> int:
    return int(engine.inspect(ref)["Size"])


def installed(engine, image: str, paths: list[str]) -> int:
    done = engine.run(image, ["du", "-sb", *paths], options=["--entrypoint", ""])
    return sum(int(line.split()[0]) for line in done.stdout.splitlines())


def verify_line(run: Run) -> str:
    lines = [ln for ln in run.out.splitlines() if ln.startswith(("✓", "✗", "-", "    "))]
    failed = [ln for ln in lines if ln.startswith("✗")]
    return "passes" if run.code == 0 else f"{len(failed)} failed: " + "; ".join(failed)[:200]


def check_summary(run: Run) -> str:
    import re

    for line in run.out.splitlines():
        if re.search(r"\d+ errors?, \d+ warnings?", line):
            return line.strip()
    return f"exit {run.code}"


def naive_context(ctx: Path, project: Path, staged: Path) -> None:
    shutil.copytree(project, ctx / "project", ignore=shutil.ignore_patterns("dockyard.lock"))
    shutil.copytree(staged / "conda-env", ctx / "conda-env", symlinks=True)
    shutil.copytree(staged / "sources" / "xrpatcher", ctx / "project" / "xrpatcher")
    # the wheels: hard links to the artifacts dockyard fetched (no second download)
    shutil.copytree(staged / "wheels", ctx / "wheels", copy_function=os.link)
    lock = loads((project / "dockyard.lock").read_text())
    pins = [f"{p.name}=={p.version}" for p in lock.by_owner("pypi")
            if not p.commit and p.name != "dctools"]
    (ctx / "project" / "requirements.txt").write_text("\n".join(sorted(pins)) + "\n")


def naive_build(engine, ctx: Path, base: str, no_cache: bool) -> float:
    (ctx / "Containerfile").write_text(NAIVE.format(base=base))
    start = time.monotonic()
    ca = os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"
    engine.build(str(ctx), containerfile=str(ctx / "Containerfile"), tag=NAIVE_TAG,
                 secrets={"ca": ca}, no_cache=no_cache)
    return time.monotonic() - start


def builders(engine) -> list[str]:
    """The builder images dockyard kept for the case (one per base)."""
    done = engine.cli("images", "--format", "{{.Repository}}:{{.Tag}}",
                      f"{BUILDER_REPO}/dctools")
    return done.stdout.split()


def remove(engine, *refs: str) -> None:
    for ref in refs:
        if engine.exists(ref):
            engine.cli("rmi", "-f", ref, timeout=600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir())
                        / "dockyard-bench-founding")
    parser.add_argument("--keep", action="store_true", help="keep the images")
    parser.add_argument("--pyarrow-26", action="store_true",
                        help="lock the case as it is (pyarrow 26, which fails at import)")
    args = parser.parse_args()
    loads_seen = [os.getloadavg()[0]]
    engine = get_engine("podman")
    case = founding_case_buildable(args.work / "case", cuda_fix=True)
    os.environ["GIT_CONFIG_GLOBAL"] = str(case.gitconfig)
    base = platform_base(engine, variant="cuda")
    work = args.work / f"run-{RUN_ID}"
    project = work / "dctools"
    shutil.copytree(case.project, project)
    if not args.pyarrow_26:
        settings = project / "dockyard.toml"
        settings.write_text(settings.read_text().replace(
            'constraints = ["', 'constraints = ["pyarrow<26", "'))
        assert "pyarrow<26" in settings.read_text()
    d, n = Column(), Column()
    try:
        print(f"work: {work} (load average {os.getloadavg()[0]:.1f})", flush=True)
        lock = dockyard("lock", "--project", str(project))
        locked = loads((project / "dockyard.lock").read_text())
        print(f"locked {len(locked.by_owner('conda'))} conda + {len(locked.by_owner('pypi'))} "
              f"PyPI packages in {lock.seconds:.0f} s", flush=True)
        common = ("--base", base, "--project", str(project))
        staged = work / "staged"
        fetch = dockyard("build", *common, "--containerfile-only", str(staged))
        print(f"context staged in {fetch.seconds:.0f} s (PyPI artifacts fetched if not "
              "cached)", flush=True)

        code_change(project, 0)
        cold = dockyard("build", *common, "-t", DOCKYARD_TAG, "--no-cache")
        print(f"dockyard cold build: {cold.seconds:.0f} s", flush=True)
        code_change(project, 1)
        rebuild = dockyard("build", *common, "-t", DOCKYARD_TAG)
        print(f"dockyard code-only rebuild: {rebuild.seconds:.1f} s", flush=True)
        d_size, b_size = size(engine, DOCKYARD_TAG), size(engine, base)
        d_inst = installed(engine, DOCKYARD_TAG, ["/opt/dockyard/env", "/opt/dockyard/app"])
        verify = dockyard("verify", DOCKYARD_TAG, check=False)
        print(f"dockyard verify: {verify.seconds:.0f} s, {verify_line(verify)}", flush=True)
        save = timed([engine.binary, "save", DOCKYARD_TAG], stdout=subprocess.DEVNULL)
        check = dockyard("check", DOCKYARD_TAG, "--base", base, "--cuda", "12.6",
                         "--json", str(work / "dockyard-check.json"), check=False)
        loads_seen.append(os.getloadavg()[0])
        d.figures = {
            "cold build s": f"{cold.seconds:.0f}",
            "code-only rebuild s": f"{rebuild.seconds:.1f}",
            "image GB": f"{d_size / 1e9:.2f}",
            "added GB": f"{(d_size - b_size) / 1e9:.2f}",
            "added/installed": f"{(d_size - b_size) / d_inst:.3f}",
            "verify s": f"{verify.seconds:.0f} ({'ok' if verify.code == 0 else 'FAILS'})",
            "podman save s": f"{save:.0f}",
            "check s": f"{check.seconds:.0f}",
            "check": check_summary(check),
            "peak RSS MB": f"{max(r.peak_mb for r in (cold, rebuild, verify, check)):.0f}",
        }
        report = {"verify": verify.out[-6000:], "check": check.out[-6000:],
                  "rebuild": rebuild.out[-3000:], "cold": cold.out[-3000:]}
        (work / "dockyard-outputs.json").write_text(json.dumps(report, indent=1))
        if not args.keep:
            remove(engine, DOCKYARD_TAG, *builders(engine))

        ctx = work / "naive"
        naive_context(ctx, project, staged)
        n_cold = naive_build(engine, ctx, base, no_cache=True)
        print(f"hand-written cold build: {n_cold:.0f} s", flush=True)
        code_change(ctx / "project", 2)
        n_re = naive_build(engine, ctx, base, no_cache=False)
        n_size = size(engine, NAIVE_TAG)
        n_verify = dockyard("verify", NAIVE_TAG, "--kernel", "dctools", "--lock",
                            str(project / "dockyard.lock"), check=False)
        n_save = timed([engine.binary, "save", NAIVE_TAG], stdout=subprocess.DEVNULL)
        n_check = dockyard("check", NAIVE_TAG, "--base", base, "--cuda", "12.6", check=False)
        loads_seen.append(os.getloadavg()[0])
        report = {"verify": n_verify.out[-6000:], "check": n_check.out[-6000:]}
        (work / "hand-written-outputs.json").write_text(json.dumps(report, indent=1))
        n.figures = {
            "cold build s": f"{n_cold:.0f}",
            "code-only rebuild s": f"{n_re:.1f}",
            "image GB": f"{n_size / 1e9:.2f}",
            "added GB": f"{(n_size - b_size) / 1e9:.2f}",
            "added/installed": f"{(n_size - b_size) / d_inst:.3f}",
            "verify s": f"{n_verify.seconds:.0f} ({'ok' if n_verify.code == 0 else 'FAILS'})",
            "podman save s": f"{n_save:.0f}",
            "check s": f"{n_check.seconds:.0f}",
            "check": check_summary(n_check),
            "peak RSS MB": f"{max(n_verify.peak_mb, n_check.peak_mb):.0f}",
        }
    finally:
        if not args.keep:
            remove(engine, DOCKYARD_TAG, NAIVE_TAG, *builders(engine))
        shutil.rmtree(work / "naive", ignore_errors=True)
        shutil.rmtree(work / "staged", ignore_errors=True)

    print(f"\nfounding case: {len(locked.by_owner('conda'))} conda + "
          f"{len(locked.by_owner('pypi'))} PyPI packages, Python {locked.target.python}, "
          f"CUDA {locked.target.cuda}, on {base}")
    print(f"installed size (dockyard's env + app, du -sb): {d_inst / 1e9:.2f} GB; "
          f"the base: {b_size / 1e9:.2f} GB")
    print(f"{os.cpu_count()} CPUs, load average {min(loads_seen):.1f}-{max(loads_seen):.1f}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"pyarrow {'26 (as locked)' if args.pyarrow_26 else '<26 (the fix verify asks for)'}")
    print(f"{'':24}{'dockyard':>18}{'hand-written':>18}   target (dockyard)")
    for key in d.figures:
        if key == "check":
            continue
        target = TARGETS.get(key)
        print(f"{key:24}{d.figures[key]:>18}{n.figures.get(key, '-'):>18}   "
              + (f"<= {target}" if target else ""))
    print(f"{'check (dockyard)':24}{d.figures['check']}")
    print(f"{'check (hand-written)':24}{n.figures.get('check', '-')}")
    print(f"verify (dockyard): {verify_line(verify)}")
    print(f"verify (hand-written): {verify_line(n_verify)}")
    for name, run in (("dockyard", verify), ("hand-written", n_verify)):
        for line in run.out.splitlines():
            if line.startswith("    ") and not line.strip().startswith("note:"):
                print(f"  {name}: {line.strip()}")
    print(f"outputs: {work}/dockyard-outputs.json, {work}/hand-written-outputs.json; "
          f"locked project: {project}")


if __name__ == "__main__":
    main()
