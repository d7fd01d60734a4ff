"""Golden Containerfiles: the same plan renders the same bytes, and the rules hold in them.

Regenerate the goldens after an intended change with DOCKYARD_UPDATE_GOLDEN=1.
"""

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "plan"))
from plandata import facts, make_lock  # noqa: E402

from dockyard.plan import PlanSettings, make_plan  # noqa: E402
from dockyard.render import render  # noqa: E402
from dockyard.spec import ProjectSpec  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"
PROJECT = ProjectSpec(root="/src/minicase", name="minicase")

CASES = {
    "conda-python": lambda: make_plan(make_lock(), facts("platform-jupyter"),
                                      PlanSettings(secrets=("ca",)), PROJECT),
    "base-python": lambda: make_plan(make_lock("3.13.5", conda_python=False),
                                     facts("platform-jupyter"),
                                     PlanSettings(secrets=("ca", "netrc")), PROJECT),
    "cuda-no-project": lambda: make_plan(
        make_lock(), facts("platform-cuda"),
        PlanSettings(install_project=False, extra_env=(("NVIDIA_VISIBLE_DEVICES", "all"),)),
        PROJECT),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_containerfile(case):
    text = render(CASES[case]()).containerfile
    path = GOLDEN / f"{case}.Containerfile"
    if os.environ.get("DOCKYARD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_plan_same_bytes(case):
    one, two = render(CASES[case]()), render(CASES[case]())
    assert one == two
    assert [f.path for f in one.files] == sorted(f.path for f in one.files)


@pytest.mark.parametrize("case", sorted(CASES))
def test_platform_rules_in_the_containerfile(case):
    plan = CASES[case]()
    text = render(plan).containerfile
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert not any(line.startswith(("CMD", "ENTRYPOINT")) for line in lines)
    assert lines[-1] == "USER 1000"
    assert sum(line.startswith("FROM ") for line in lines) == 2
    assert all(plan.base_from in line for line in lines if line.startswith("FROM "))
    final = "\n".join(line for line in text.split("\nFROM ")[-1].splitlines()
                      if not line.startswith("#"))
    # the environment in one step that copies and chowns (one copy of the bytes), keyed on
    # the builder's digest of it, which is COPYed just before
    digest = (f"COPY --from=builder --chown=1000:100 /opt/dockyard/build/env.digest "
              f"{plan.prefix}.digest")
    copy = (f"RUN --mount=type=bind,from=builder,source={plan.prefix},"
            f"target=/mnt/dockyard-env \\\n    mkdir -p {plan.prefix} && cp -a "
            f"/mnt/dockyard-env/. {plan.prefix}/ \\\n && chown -R 1000:100 {plan.prefix}")
    assert final.count(digest) == 1 and final.count(copy) == 1
    assert final.index(digest) < final.index(copy)
    assert final.count("RUN ") == 1 and final.count("chown -R") == 1  # nothing else runs
    assert f"COPY --from=builder --chown=1000:100 {plan.prefix} " not in final
    for sid in plan.secrets:
        assert f"--mount=type=secret,id={sid}" in text
    assert "--require-hashes" in text and "--no-deps" in text and "--no-index" in text
    builder = text.split("\nFROM ")[1]
    assert builder.rstrip().splitlines()[-1].endswith(
        f"finish.py /opt/dockyard/build/env.digest {plan.prefix}")  # tidied, digested last
    if plan.install_project:  # the env before the code: code-only changes reuse it
        assert final.index(copy) < final.index(f"COPY --chown=1000:100 app/ {plan.app_dir}/")
        assert "project/" not in builder  # the project is built on the host, not here


def test_a_platform_specific_project_is_built_in_the_builder():
    from dataclasses import replace

    plan = replace(CASES["conda-python"](), app_build="image")
    text = render(plan).containerfile
    builder, final = text.split("\nFROM ")[1:]
    assert "COPY project/ /opt/dockyard/build/project/" in builder
    assert builder.index("env.digest /opt/dockyard/env") < builder.index("COPY project/")
    assert f"COPY --from=builder --chown=1000:100 {plan.app_dir} {plan.app_dir}" in final


def test_context_files_and_kernel_spec():
    ctx = render(CASES["conda-python"]())
    files = {f.path: f.data for f in ctx.files}
    assert {"Containerfile", ".dockerignore", "kernel/kernel.json", "kernel/finish.py",
            "requirements/wheels.txt"} <= set(files)
    wheels = files["requirements/wheels.txt"].decode()
    # one hash per package: the artifact chosen for the target (numpy's cp312 wheel)
    assert "numpy==1.26.4 \\\n    --hash=sha256:" in wheels and wheels.count("numpy") == 1
    assert wheels.count("--hash=") == 4  # ipykernel, numpy, torch-stub, xarray
    spec = json.loads(files["kernel/kernel.json"])
    assert spec["argv"][0] == "/opt/dockyard/env/bin/python"
    assert spec["display_name"] == "minicase (Python 3.12)" and spec["language"] == "python"
    assert "minicase" not in wheels and "xrpatch" not in wheels  # built from source
    ignore = files[".dockerignore"].decode()
    assert "**/.git" in ignore and "**/.netrc" in ignore
    assert ctx.needs_conda_env and ctx.needs_sources == ("xrpatch",) and ctx.needs_project


def test_each_stage_opens_with_a_step_only_its_project_or_environment_has():
    """Podman (buildah) reuses the first cached image whose history matches a step. After
    a `--no-cache` build, a bare `USER root` first step had two images (the new one and
    another build's on the same base); the next build followed the other's chain and
    copied the founding case's 6.5 GB environment again for a one-line change (161 s).
    The builder stage opens with the project's label; the final stage with the COPY of
    the environment's digest (keyed by its content: two builds of one lock whose digests
    differ, a git dependency's RECORD, do not share it either)."""
    from dataclasses import replace

    lock = make_lock()
    mine = make_plan(lock, facts("platform-jupyter"), PlanSettings(), PROJECT)
    other = make_plan(replace(lock, inputs_hash="sha256:" + "cd" * 32),
                      facts("platform-jupyter"), PlanSettings(),
                      ProjectSpec(root="/src/other", name="other"))

    def first_steps(plan):
        lines = [x for x in render(plan).containerfile.splitlines()
                 if x and not x.startswith("#")]
        return [lines[i + 1] for i, x in enumerate(lines) if x.startswith("FROM ")]

    builder, final = first_steps(mine)
    assert builder == 'LABEL io.dockyard.builder="minicase"'
    assert final == ("COPY --from=builder --chown=1000:100 /opt/dockyard/build/env.digest "
                     "/opt/dockyard/env.digest")
    assert first_steps(other)[0] != builder


def test_the_conda_part_is_bound_and_copied_by_a_step_named_after_its_packages():
    """A `COPY conda-env/` made buildah read the whole conda part on every build to look
    its layer up (2.9 s of the founding case's 9-11 s code-only rebuild for 250 MB; a
    conda-forge part of GBs costs more). The step binds it instead, and its mount is
    named after the packages' sha256: another conda part is another step, never a stale
    cached layer."""
    from dataclasses import replace

    from dockyard.render import conda_env_key

    lock = make_lock()
    plan = make_plan(lock, facts("platform-jupyter"), PlanSettings(), PROJECT)
    text = render(plan).containerfile
    assert "COPY conda-env" not in text
    key = conda_env_key(plan)
    assert f"--mount=type=bind,source=conda-env,target=/opt/dockyard/build/conda-env-{key}" \
        in text
    changed = replace(plan, conda=(replace(plan.conda[0], sha256="0" * 64), *plan.conda[1:]))
    assert conda_env_key(changed) != key
    assert conda_env_key(replace(plan, prefix="/opt/other")) != key
