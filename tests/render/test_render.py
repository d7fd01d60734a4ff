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
    assert final.count(f"COPY --from=builder --chown=1000:100 {plan.prefix} ") == 1
    assert "chown" not in final.replace("--chown=", "")  # no separate chown layer
    assert "RUN " not in final  # nothing installed or cached in the final stage
    for sid in plan.secrets:
        assert f"--mount=type=secret,id={sid}" in text
    assert "--require-hashes" in text and "--no-deps" in text
    if plan.install_project:  # the env before the code: code-only changes reuse it
        assert final.index(f" {plan.prefix} {plan.prefix}") < final.index(plan.app_dir)


def test_context_files_and_kernel_spec():
    ctx = render(CASES["conda-python"]())
    files = {f.path: f.data for f in ctx.files}
    assert {"Containerfile", ".dockerignore", "kernel/kernel.json",
            "requirements/pypi.txt"} <= set(files)
    assert any(p.startswith("requirements/index-download-example-org") for p in files)
    spec = json.loads(files["kernel/kernel.json"])
    assert spec["argv"][0] == "/opt/dockyard/env/bin/python"
    assert spec["display_name"] == "minicase (Python 3.12)" and spec["language"] == "python"
    reqs = files["requirements/pypi.txt"].decode()
    assert "numpy==1.26.4" in reqs and reqs.count("--hash=sha256:") == 2 + 3 + 1
    assert "minicase" not in reqs and "torch-stub" not in reqs
    ignore = files[".dockerignore"].decode()
    assert "**/.git" in ignore and "**/.netrc" in ignore
    assert ctx.needs_conda_env and ctx.needs_sources == ("xrpatch",) and ctx.needs_project
