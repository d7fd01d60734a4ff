"""A real Dask cluster from the role images (Podman, loopback): the graph runs, and
`cluster check` catches each way a cluster drifts, naming the role, the host and the package.

One scheduler and two workers from `dockyard cluster build`'s images; the client is the
notebook image's kernel (Jupyter started from the image, code run over its websocket),
which submits a graph calling the project's own module by reference. Then:
- a worker with one package at another version (toolz 1.0.0 installed over 1.2.0);
- a scheduler without the project's module (the case's "light" scheduler environment):
  the same graph fails with dask's deserialization error, which `cluster check` names first;
- a worker from an older image (another lock, the project at an older state).
"""

from __future__ import annotations

import json
import shutil

import pytest

from dockyard.testing.cli import run_cli
from dockyard.testing.dask import PodmanCluster, notebook_kernel

from .kit import derived_image, wheel

pytestmark = [pytest.mark.podman, pytest.mark.network]

GRAPH = """
import daskcase
from distributed import Client
client = Client({address!r}, timeout=30)
print("RESULT", client.submit(daskcase.total, [1, 2, 3], pure=False).result())
print("WORKERS", sorted(set(client.gather(client.map(daskcase.where, range(8), pure=False)))))
client.close()
"""


def _check(address: str, image: str, tmp_path, name: str) -> tuple[int, str, dict]:
    report = tmp_path / f"{name}.json"
    code, out = run_cli("cluster", "check", address, "--image", image, "--json", str(report),
                        width=250)
    return code, out, json.loads(report.read_text())


def _rows(doc: dict) -> set[tuple[str, str, str, str]]:
    return {(d["role"], d["host"].split(" ", 1)[0], d["package"], d["what"])
            for d in doc["differences"]}


def test_role_images_share_the_environment_layer(podman, dask_images):
    labels, layers, config = {}, {}, {}
    for role in ("notebook", "scheduler", "worker"):
        data = podman.inspect(dask_images[role])
        labels[role], layers[role], config[role] = (data["Config"].get("Labels") or {},
                                                    data["RootFS"]["Layers"], data["Config"])
    assert layers["scheduler"] == layers["notebook"] == layers["worker"]  # every layer
    env_layer = next(line.split(": ", 1)[1] for line in dask_images["output"].splitlines()
                     if line.startswith("environment layer:"))
    assert env_layer in layers["notebook"]
    assert config["scheduler"]["Cmd"] == ["/opt/dockyard/env/bin/dask", "scheduler"]
    assert config["worker"]["Cmd"] == ["/opt/dockyard/env/bin/dask", "worker"]
    assert not config["worker"].get("Entrypoint")
    assert config["worker"]["User"] == config["notebook"]["User"] == "1000"  # the platform's
    assert labels["worker"]["io.dockyard.role"] == "worker"
    assert labels["worker"]["io.dockyard.user"] == "1000:100"
    assert "jupyter lab" in " ".join(config["notebook"]["Cmd"])  # the platform's CMD, kept


def test_live_cluster_and_its_three_failures(podman, dask_images, older_images, tmp_path):
    toolz = wheel("toolz", "1.0.0", tmp_path / "wheels")
    uv = shutil.which("uv")
    assert uv, "uv is a dockyard dependency: it should be on PATH"
    other_toolz = derived_image(podman, "localhost/dockyard-test/daskcase:1-worker-toolz", f"""\
FROM {dask_images['worker']}
USER root
RUN --mount=type=bind,source=.,target=/ctx /ctx/uv pip install --offline --no-deps \\
    --python /opt/dockyard/env/bin/python /ctx/{toolz.name}
USER 1000
""", {"uv": uv, toolz.name: toolz}, tmp_path)
    no_project = derived_image(podman, "localhost/dockyard-test/daskcase:1-scheduler-noproj", f"""\
FROM {dask_images['scheduler']}
USER root
RUN rm -rf /opt/dockyard/app/daskcase /opt/dockyard/app/daskcase-*.dist-info
USER 1000
""", {}, tmp_path)
    try:
        with PodmanCluster(podman, "dockyard-test-cluster") as cluster, \
                notebook_kernel(podman, dask_images["notebook"], "daskcase") as kernel:
            address = cluster.scheduler(dask_images["scheduler"], hostname="sched-1")
            cluster.worker(dask_images["worker"], hostname="worker-a")
            cluster.worker(dask_images["worker"], hostname="worker-b")

            run = kernel(GRAPH.format(address=address))
            assert run.error is None, run.error
            assert "RESULT 9" in run.stdout  # (1+1) + (2+1) + (3+1), computed on a worker
            assert "WORKERS ['worker-a', 'worker-b']" in run.stdout

            code, out, doc = _check(address, dask_images["notebook"], tmp_path, "ok")
            assert code == 0, out
            assert "no difference" in out and len(doc["members"]) == 4
            assert doc["lock"].startswith("the client's lock")

            # 1. a worker with one package at another version
            cluster.worker(other_toolz, hostname="worker-c")
            code, out, doc = _check(address, dask_images["notebook"], tmp_path, "toolz")
            assert code == 1
            assert _rows(doc) == {("worker", "worker-c", "toolz", "version")}, out
            (d,) = doc["differences"]
            assert (d["found"], d["lock"], d["client"]) == ("1.0.0", "1.2.0", "1.2.0")
            assert "worker-c" in out and "toolz" in out and "1.0.0" in out
            cluster.stop("worker-c")

            # 3. a worker from an older image
            cluster.worker(older_images["worker"], hostname="worker-old")
            code, out, doc = _check(address, dask_images["notebook"], tmp_path, "older")
            assert code == 1
            rows = _rows(doc)
            assert {r[1] for r in rows} == {"worker-old"}, out
            assert rows == {("worker", "worker-old", "lock", "lock"),
                            ("worker", "worker-old", "daskcase", "content")}, out
            cluster.stop("worker-old")

        # 2. a scheduler without the project's module
        with PodmanCluster(podman, "dockyard-test-noproj") as cluster, \
                notebook_kernel(podman, dask_images["notebook"], "daskcase") as kernel:
            address = cluster.scheduler(no_project, hostname="sched-light")
            cluster.worker(dask_images["worker"], hostname="worker-a")
            code, out, doc = _check(address, dask_images["notebook"], tmp_path, "noproj")
            assert code == 1
            assert _rows(doc) == {("scheduler", "sched-light", "daskcase", "missing")}, out
            assert "the project's own package" in out
            run = kernel(GRAPH.format(address=address))
            assert run.error is not None
            text = run.error + "\n".join(run.traceback)
            assert "Error during deserialization of the task graph" in text
            assert "Scheduler and Client have different environments" in text
    finally:
        podman.cli("rmi", "-f", other_toolz, no_project)


def test_light_scheduler(podman, platform_base, dask_project, dask_images, made_images,
                         tmp_path):
    """Only as light as is safe: the graph still runs, and `cluster check` knows what was
    left out on purpose."""
    from .kit import REPO, build

    tags, out = build(dask_project, platform_base, f"{REPO}:light", "--light-scheduler")
    made_images.extend([tags["scheduler"]])
    left = out.split("light scheduler: keeps", 1)[1].split("leaves out", 1)[1]
    left = left.split("light scheduler keeps", 1)[0]
    assert "humanize" in left and "ipykernel" in left  # lazily imported; the kernel's
    assert "toolz" not in left and " lz4" not in left and "distributed" not in left
    assert "light scheduler keeps toolz: every Dask scheduler needs it" in out
    assert "light scheduler keeps lz4: every Dask scheduler needs it" in out
    light = podman.inspect(tags["scheduler"])
    assert light["Config"]["Labels"]["io.dockyard.light"] == "true"
    assert podman.inspect(tags["worker"])["Id"] == podman.inspect(dask_images["worker"])["Id"]
    done = podman.run(tags["scheduler"], ["/opt/dockyard/env/bin/python", "-c",
                                          "import daskcase, toolz, lz4, distributed\n"
                                          "import importlib.util as u\n"
                                          "print(u.find_spec('humanize'), "
                                          "u.find_spec('ipykernel'))"])
    assert done.ok and done.stdout.strip() == "None None", done.stderr
    with PodmanCluster(podman, "dockyard-test-light") as cluster, \
            notebook_kernel(podman, dask_images["notebook"], "daskcase") as kernel:
        address = cluster.scheduler(tags["scheduler"], hostname="sched-light")
        cluster.worker(dask_images["worker"], hostname="worker-a")
        run = kernel(GRAPH.format(address=address))
        assert run.error is None and "RESULT 9" in run.stdout, run.error
        code, out, doc = _check(address, dask_images["notebook"], tmp_path, "light")
        assert code == 0, out
        assert any("leaves out" in n and "light scheduler" in n for n in doc["notes"])
