"""Role images (pure parts): tags, Containerfiles, the environment layer from the history."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dockyard.cluster.images import (
    environment_layer,
    light_containerfile,
    role_containerfile,
    role_tags,
)

sys.path.insert(0, str(Path(__file__).parents[1] / "plan"))
from plandata import facts, make_lock  # noqa: E402

from dockyard.plan import make_plan  # noqa: E402


@pytest.mark.parametrize("tag, expected", [
    ("app:1", ("app:1", "app:1-scheduler", "app:1-worker")),
    ("127.0.0.1:5000/team/app:2", ("127.0.0.1:5000/team/app:2",
                                   "127.0.0.1:5000/team/app:2-scheduler",
                                   "127.0.0.1:5000/team/app:2-worker")),
    ("127.0.0.1:5000/app", ("127.0.0.1:5000/app:latest", "127.0.0.1:5000/app:latest-scheduler",
                            "127.0.0.1:5000/app:latest-worker")),
])
def test_role_tags(tag, expected):
    tags = role_tags(tag)
    assert (tags["notebook"], tags["scheduler"], tags["worker"]) == expected


def _plan():
    return make_plan(make_lock(), facts("platform-jupyter"))


def test_role_containerfile_adds_no_layer():
    text = role_containerfile("f" * 64, "worker", _plan())
    lines = [x for x in text.splitlines() if x and not x.startswith("#")]
    assert lines[0] == "FROM " + "f" * 64
    assert not [x for x in lines if x.split()[0] in ("RUN", "COPY", "ADD")]
    assert 'CMD ["/opt/dockyard/env/bin/dask", "worker"]' in lines
    assert "ENTRYPOINT []" in lines and lines[-1] == "USER 1000"
    assert 'io.dockyard.role="worker"' in text and 'io.dockyard.user="1000:100"' in text
    with pytest.raises(ValueError):
        role_containerfile("f" * 64, "notebook", _plan())


def test_light_containerfile_records_what_it_left_out():
    text = light_containerfile("FROM x\n", _plan())
    assert "COPY left-out.txt /opt/dockyard/left-out.txt" in text
    assert 'io.dockyard.light="true"' in text and '"scheduler"]' in text


class _Engine:
    def __init__(self, history, layers):
        self.data = {"History": history, "RootFS": {"Layers": layers}}

    def inspect(self, ref):
        return self.data


def test_environment_layer_from_the_history():
    history = [{"created_by": "debootstrap"}, {"created_by": "ENV X=1", "empty_layer": True},
               {"created_by": "/bin/sh -c #(nop) COPY dir:ab12 in /opt/dockyard/env "},
               {"created_by": "/bin/sh -c #(nop) COPY dir:cd34 in /opt/dockyard/app "}]
    assert environment_layer(_plan(), _Engine(history, ["l0", "l1", "l2"]), "x") == "l1"
    buildkit = [{"created_by": "COPY /opt/dockyard/env /opt/dockyard/env # buildkit"}]
    assert environment_layer(_plan(), _Engine(buildkit, ["e"]), "x") == "e"
    assert environment_layer(_plan(), _Engine(history, ["l0"]), "x") == ""  # cannot tell
