"""The other interpreter choice, built for real: a lock for the base's own Python 3.13
(PyPI only, hand-written from recorded `uv pip compile --generate-hashes` output)
becomes a venv of the base's interpreter, registered as a kernel of its Jupyter."""

from __future__ import annotations

import pytest
from buildlocks import ipykernel_lock

from dockyard.lock.model import dumps
from dockyard.plan import PlanSettings, make_plan
from dockyard.probe import probe_base
from dockyard.render import CONTAINERFILE, render
from dockyard.render.stage import stage_context
from dockyard.spec import ProjectSpec

pytestmark = [pytest.mark.podman, pytest.mark.network]


def test_venv_of_the_base_python(podman, platform_base, tmp_path):
    import os

    facts = probe_base(podman, platform_base)
    lock = ipykernel_lock("3.13.5")
    secrets = {"ca": os.environ["SSL_CERT_FILE"]} if os.environ.get("SSL_CERT_FILE") else {}
    plan = make_plan(lock, facts, PlanSettings(secrets=tuple(secrets), install_project=False),
                     ProjectSpec(root=str(tmp_path), name="tools"))
    assert plan.interpreter.kind == "base"
    assert plan.interpreter.base_python == "/opt/python/bin/python3"
    ctx = stage_context(render(plan), plan, dumps(lock), tmp_path, tmp_path / "ctx")
    assert not (ctx / "conda-env").exists() and not (ctx / "project").exists()
    tag = "localhost/dockyard-test/basepython:1"
    podman.build(str(ctx), containerfile=str(ctx / CONTAINERFILE), tag=tag, secrets=secrets)
    done = podman.run(tag, ["sh", "-c", "/opt/dockyard/env/bin/python -c 'import sys, ipykernel;"
                            " print(sys.version_info[:2], sys.prefix, sys.base_prefix)'; "
                            "jupyter kernelspec list; id -u"])
    assert done.ok, done.stderr
    lines = done.stdout.split("\n")
    assert lines[0] == "(3, 13) /opt/dockyard/env /usr"  # a venv of the base's interpreter
    assert "tools" in done.stdout and "/opt/python/share/jupyter/kernels/tools" in done.stdout
    assert lines[-2] == "1000"
    base_site = podman.run(tag, ["python3", "-c", "import ipykernel; print(ipykernel.__file__)"])
    assert "/opt/python/" in base_site.stdout  # the base's own packages untouched
    podman.cli("rmi", tag)
