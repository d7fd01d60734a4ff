"""Build benchmark on the bundled example: dockyard's image beside a hand-written one.

    python bench/bench_build.py            (after `eval "$(scripts/setup)"`)

Prints, in one run and side by side:
- cold build time (`--no-cache`: every layer rebuilt; both builds keep a warm download
  cache mount, uv's for dockyard and pip's for the hand-written one, so downloads are
  not what is compared);
- rebuild time after a code-only change (one line of the project's package);
- the image's added size (image minus base, as the engine reports) against the
  installed size of the locked packages (`du -sb` of the environment and the
  project's package in dockyard's image). Target for dockyard: at most 1.05.

The hand-written image is of the kind the founding case started with: one stage,
the conda environment copied in, the project's repository copied (`COPY . /app`),
pip installs of the locked versions (no hashes), the project installed from /app,
a kernel registered with `ipykernel install`, then a separate `chown -R` layer for
the platform's user.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console

from dockyard.cli import main
from dockyard.cli.ui import Ui
from dockyard.engines import get_engine
from dockyard.lock.model import loads
from dockyard.testing.bases import platform_base
from dockyard.testing.example import default_dest, example_env, make_example

DOCKYARD_TAG = "localhost/dockyard-bench/minicase:dockyard"
NAIVE_TAG = "localhost/dockyard-bench/minicase:naive"
RUN_ID = uuid.uuid4().hex

NAIVE = """\
# Hand-written, single stage, as the founding case started.
FROM {base}
USER root
COPY conda-env/ /opt/conda-env/
# the project's repository, as `COPY . /app` in it
COPY project/ /app
RUN --mount=type=cache,target=/root/.cache/pip --mount=type=secret,id=ca,target=/run/secrets/ca \\
    export PIP_CERT=/run/secrets/ca \\
 && /opt/python/bin/pip --python /opt/conda-env/bin/python install \\
      --disable-pip-version-check --no-deps -r /app/requirements.txt \\
 && /opt/python/bin/pip --python /opt/conda-env/bin/python install --no-deps \\
      --disable-pip-version-check /app/xrpatch /app \\
 && /opt/conda-env/bin/python -m ipykernel install --prefix /opt/python --name minicase \\
      --display-name "minicase (Python 3.12)"
RUN chown -R 1000:100 /opt/conda-env /app
USER 1000
"""


def quiet_ui() -> Ui:
    buf = io.StringIO()
    return Ui(console=Console(file=buf, width=200), err=Console(file=buf, width=200))


def cli(*argv: str) -> float:
    start = time.monotonic()
    code = main(list(argv), quiet_ui())
    if code != 0:
        code = main(list(argv))  # again, loudly, to show why
        sys.exit(f"dockyard {' '.join(argv)} failed")
    return time.monotonic() - start


def code_change(project: Path, n: int) -> None:
    """A one-line change, unique to this run (else a layer cached by an earlier run hits)."""
    init = project / "minicase" / "__init__.py"
    text = init.read_text().split("\nBENCH_RUN")[0]
    init.write_text(text + f"\nBENCH_RUN = {n}  # {RUN_ID}\n")


def naive_context(ctx: Path, project: Path, staged: Path) -> None:
    """The hand-written build's context: the project, its requirements, the conda env."""
    shutil.copytree(project, ctx / "project", ignore=shutil.ignore_patterns("dockyard.lock"))
    shutil.copytree(staged / "conda-env", ctx / "conda-env", symlinks=True)
    shutil.copytree(staged / "sources" / "xrpatch", ctx / "project" / "xrpatch")
    lock = loads((project / "dockyard.lock").read_text())
    pins = [f"{p.name}=={p.version}" for p in lock.by_owner("pypi")
            if not p.commit and p.name != "minicase"]
    (ctx / "project" / "requirements.txt").write_text("\n".join(sorted(pins)) + "\n")


def naive_build(engine, ctx: Path, base: str, no_cache: bool) -> float:
    (ctx / "Containerfile").write_text(NAIVE.format(base=base))
    ca = os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"
    start = time.monotonic()
    engine.build(str(ctx), containerfile=str(ctx / "Containerfile"), tag=NAIVE_TAG,
                 secrets={"ca": ca}, no_cache=no_cache)
    return time.monotonic() - start


def added(engine, image: str, base: str) -> int:
    return int(engine.inspect(image)["Size"]) - int(engine.inspect(base)["Size"])


def installed(engine, image: str) -> int:
    done = engine.run(image, ["du", "-sb", "/opt/dockyard/env", "/opt/dockyard/app"])
    return sum(int(line.split()[0]) for line in done.stdout.splitlines())


def main_bench() -> None:
    engine = get_engine("podman")
    dest = default_dest()
    example = make_example(dest)
    os.environ.update(example_env(dest))
    base = platform_base(engine)
    cli("lock", "--project", str(example))
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    try:
        project = work / "minicase"
        shutil.copytree(example, project)
        code_change(project, 0)
        common = ("--base", base, "--project", str(project))

        d_cold = cli("build", *common, "-t", DOCKYARD_TAG, "--no-cache")
        code_change(project, 1)
        d_re = cli("build", *common, "-t", DOCKYARD_TAG)
        d_added, d_inst = added(engine, DOCKYARD_TAG, base), installed(engine, DOCKYARD_TAG)

        cli("build", *common, "--containerfile-only", str(work / "staged"))
        ctx = work / "naive"
        naive_context(ctx, project, work / "staged")
        n_cold = naive_build(engine, ctx, base, no_cache=True)
        code_change(ctx / "project", 2)
        n_re = naive_build(engine, ctx, base, no_cache=False)
        n_added = added(engine, NAIVE_TAG, base)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    mb = 1e6
    print(f"example: {example} on {base}")
    print(f"installed size of the locked packages (dockyard's env + app, du -sb): "
          f"{d_inst / mb:.1f} MB")
    print(f"{'':34}{'dockyard':>12}{'hand-written':>16}")
    print(f"{'cold build (no layer cache), s':34}{d_cold:>12.1f}{n_cold:>16.1f}")
    print(f"{'rebuild after a code change, s':34}{d_re:>12.1f}{n_re:>16.1f}")
    print(f"{'added size (image - base), MB':34}{d_added / mb:>12.1f}{n_added / mb:>16.1f}")
    print(f"{'added / installed (target <=1.05)':34}{d_added / d_inst:>12.3f}"
          f"{n_added / d_inst:>16.3f}")
    print("dockyard times include probing the base and staging the context; "
          "both builds keep a warm download cache.")


if __name__ == "__main__":
    main_bench()
