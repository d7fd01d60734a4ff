"""The other interpreter choice, built for real: a PyPI-only project locked by dockyard for
the base's own Python 3.13 becomes a venv of the base's interpreter, registered as a kernel
of its Jupyter; its wheels come from the artifacts the host fetched (no index in the build).
"""

from __future__ import annotations

import os

import pytest

from dockyard.lock.model import loads
from dockyard.plan import PlanSettings, make_plan
from dockyard.probe import probe_base
from dockyard.render import CONTAINERFILE, render
from dockyard.render.stage import stage_context
from dockyard.spec import ProjectSpec
from dockyard.testing.cli import run_cli

pytestmark = [pytest.mark.podman, pytest.mark.network]

PYPROJECT = """\
[project]
name = "tools"
version = "0.1.0"
requires-python = ">=3.13,<3.14"
dependencies = ["ipykernel==6.30.1"]
"""


def test_venv_of_the_base_python(podman, platform_base, tmp_path):
    project = tmp_path / "tools"
    project.mkdir()
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "dockyard.toml").write_text('[target]\npython = "3.13.5"\nglibc = "2.28"\n')
    code, out = run_cli("lock", "--project", str(project))
    assert code == 0, out
    lock = loads((project / "dockyard.lock").read_text())
    facts = probe_base(podman, platform_base)
    secrets = {"ca": os.environ["SSL_CERT_FILE"]} if os.environ.get("SSL_CERT_FILE") else {}
    plan = make_plan(lock, facts, PlanSettings(secrets=tuple(secrets), install_project=False),
                     ProjectSpec(root=str(project), name="tools"))
    assert plan.interpreter.kind == "base"
    assert plan.interpreter.base_python.startswith("/opt/python/bin/python")  # Jupyter's
    assert all(w.is_wheel for w in plan.wheels)  # each one's best wheel for 3.13
    ctx = stage_context(render(plan), plan, (project / "dockyard.lock").read_text(), project,
                        tmp_path / "ctx")
    assert not (ctx / "conda-env").exists() and not (ctx / "project").exists()
    assert sorted(os.listdir(ctx / "wheels")) == sorted(w.filename for w in plan.wheels)
    tag = "localhost/dockyard-test/basepython:1"
    podman.build(str(ctx), containerfile=str(ctx / CONTAINERFILE), tag=tag, secrets=secrets)
    done = podman.run(tag, ["sh", "-c", "/opt/dockyard/env/bin/python -c 'import sys, ipykernel;"
                            " print(sys.version_info[:2], sys.prefix, sys.base_prefix)'; "
                            "jupyter kernelspec list; id -u; ls -A /opt/dockyard/env"])
    assert done.ok, done.stderr
    lines = done.stdout.split("\n")
    assert lines[0] == "(3, 13) /opt/dockyard/env /usr"  # a venv of the base's interpreter
    assert "tools" in done.stdout and "/opt/python/share/jupyter/kernels/tools" in done.stdout
    assert "1000" in lines
    assert ".lock" not in lines and "CACHEDIR.TAG" not in lines  # finish.py tidied them
    base_site = podman.run(tag, ["python3", "-c", "import ipykernel; print(ipykernel.__file__)"])
    assert "/opt/python/" in base_site.stdout  # the base's own packages untouched
    podman.cli("rmi", tag)
