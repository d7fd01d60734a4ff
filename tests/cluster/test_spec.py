"""`cluster spec`: manifests validated by the projects that consume them.

- dask-kubernetes: the DaskCluster against the operator's own published CRD schema (the
  openAPIV3Schema in the dask-kubernetes wheel from PyPI), with jsonschema, and strictly:
  a field the schema does not know (which the API server would silently prune) fails.
- dask-gateway: the extraConfig Python run by dask-gateway-server's own traitlets classes
  (KubeClusterConfig), in a venv made for it: unknown or mistyped settings fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from dockyard.cluster.settings import read_cluster_settings
from dockyard.cluster.spec import (
    Images,
    RoleRef,
    dask_gateway,
    dask_kubernetes,
    gateway_config,
    render_spec,
)
from dockyard.errors import ClusterError

PROJECT = Path(__file__).parents[1] / "projects" / "daskcase"
DASK_KUBERNETES = "2026.3.0"
DASK_GATEWAY = "2026.3.0"
CRD = "dask_kubernetes/operator/deployment/helm/dask-kubernetes-operator/crds/daskcluster.yaml"
REG = "registry.example:5000/daskcase"
DIGEST = "sha256:" + "ab" * 32


def _images() -> Images:
    py = "/opt/dockyard/env/bin/python"
    return Images(RoleRef("notebook", f"{REG}@{DIGEST}", py, "1000:100", f"{REG}:1"),
                  RoleRef("scheduler", f"{REG}@sha256:{'cd' * 32}", py, "1000:100",
                          f"{REG}:1-scheduler"),
                  RoleRef("worker", f"{REG}@sha256:{'ef' * 32}", py, "1000:100",
                          f"{REG}:1-worker"))


def test_dask_kubernetes_manifests():
    configmap, cluster = dask_kubernetes(read_cluster_settings(PROJECT), _images(), "research")
    assert configmap["kind"] == "ConfigMap" and configmap["metadata"]["name"] == "daskcase-env"
    assert configmap["data"]["SCHEDULER_IP"] == "tcp://daskcase-scheduler.research:8786"
    assert configmap["data"]["PROJECT_PATH"] == "/mnt/infocentre/projets/p42/"
    sched = cluster["spec"]["scheduler"]["spec"]["containers"][0]
    worker = cluster["spec"]["worker"]["spec"]["containers"][0]
    assert sched["image"] == f"{REG}@sha256:{'cd' * 32}"
    assert worker["image"] == f"{REG}@sha256:{'ef' * 32}"
    assert sched["command"] == ["/opt/dockyard/env/bin/dask", "scheduler"]
    assert worker["command"] == ["/opt/dockyard/env/bin/dask", "worker"]
    assert worker["args"] == ["--name", "$(DASK_WORKER_NAME)", "--dashboard",
                              "--dashboard-address", "8788", "--nthreads", "2",
                              "--memory-limit", "4GiB", "--lifetime", "24h"]
    assert worker["resources"] == {"requests": {"cpu": "2", "memory": "4Gi"},
                                   "limits": {"cpu": "2", "memory": "4Gi"}}
    assert worker["securityContext"] == {"runAsUser": 1000, "runAsNonRoot": True,
                                         "runAsGroup": 100}
    env = {e["name"]: e["value"] for e in worker["env"]}
    assert env["SCHEDULER_IP"] == "tcp://daskcase-scheduler.research:8786"
    assert env["COMMUN_PATH"] == "/mnt/commun/"
    assert cluster["spec"]["worker"]["replicas"] == 2


def _strict(value, schema: dict, path: str = "") -> list[str]:
    """Fields the schema does not declare (the API server prunes them without a word)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    out = []
    if isinstance(value, dict) and "properties" in schema:
        for key, sub in value.items():
            if key not in schema["properties"]:
                out.append(f"{path}.{key}")
            else:
                out += _strict(sub, schema["properties"][key], f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += _strict(item, schema["items"], f"{path}[{i}]")
    return out


@pytest.fixture(scope="session")
def daskcluster_schema(tmp_path_factory) -> dict:
    dest = tmp_path_factory.mktemp("dask-kubernetes")
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(dest),
                    f"dask-kubernetes=={DASK_KUBERNETES}"], check=True)
    (whl,) = dest.glob("dask_kubernetes-*.whl")
    crd = yaml.safe_load(zipfile.ZipFile(whl).read(CRD))
    assert crd["spec"]["names"]["kind"] == "DaskCluster"
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


@pytest.mark.network
def test_daskcluster_validates_against_the_operators_crd(daskcluster_schema, tmp_path):
    import jsonschema

    text = render_spec("dask-kubernetes", read_cluster_settings(PROJECT), _images())
    docs = list(yaml.safe_load_all(text))
    cluster = next(d for d in docs if d["kind"] == "DaskCluster")
    assert cluster["apiVersion"] == "kubernetes.dask.org/v1"
    jsonschema.validate(cluster, daskcluster_schema)
    spec_schema = daskcluster_schema["properties"]["spec"]  # apiVersion/kind/metadata: k8s'
    assert _strict(cluster["spec"], spec_schema, ".spec") == []
    # the check can fail: a misspelt field and a wrong type are caught
    bad = json.loads(json.dumps(cluster))
    bad["spec"]["worker"]["spec"]["containers"][0]["imagePullPolise"] = "Always"
    assert _strict(bad["spec"], spec_schema, ".spec") == [
        ".spec.worker.spec.containers[0].imagePullPolise"]
    bad["spec"]["worker"]["replicas"] = "two"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, daskcluster_schema)


_GATEWAY_CHECK = """
import json, sys
from traitlets.config import Config
from dask_gateway_server.backends.kubernetes.backend import KubeClusterConfig
c = Config()
exec(open(sys.argv[1]).read(), {"c": c})
known = set(KubeClusterConfig.class_trait_names(config=True))
cfg = KubeClusterConfig(config=c)
print(json.dumps({
    "unknown": sorted(set(c.KubeClusterConfig) - known),
    "image": cfg.image, "scheduler_cmd": cfg.scheduler_cmd, "worker_cmd": cfg.worker_cmd,
    "environment": cfg.environment, "worker_memory": cfg.worker_memory,
    "worker_cores": cfg.worker_cores, "worker_threads": cfg.worker_threads,
    "scheduler_extra_container_config": cfg.scheduler_extra_container_config,
}))
"""


@pytest.fixture(scope="session")
def gateway_python(tmp_path_factory) -> str:
    import shutil

    venv = tmp_path_factory.mktemp("gateway") / "venv"
    uv = shutil.which("uv")
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                    f"dask-gateway-server[kubernetes]=={DASK_GATEWAY}"], check=True)
    return str(venv / "bin" / "python")


@pytest.mark.network
def test_gateway_config_is_read_by_dask_gateway_server(gateway_python, tmp_path):
    settings = read_cluster_settings(PROJECT)
    values = yaml.safe_load(render_spec("dask-gateway", settings, _images()))
    assert values["gateway"]["backend"]["image"] == {"name": REG, "tag": "1-worker"}
    config = tmp_path / "dockyard_config.py"
    config.write_text(values["gateway"]["extraConfig"]["dockyard"])
    done = subprocess.run([gateway_python, "-c", _GATEWAY_CHECK, str(config)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["unknown"] == []
    assert got["image"] == f"{REG}@sha256:{'ef' * 32}"
    assert got["scheduler_cmd"] == ["/opt/dockyard/env/bin/dask", "scheduler"]
    assert got["worker_cmd"] == ["/opt/dockyard/env/bin/dask", "worker"]
    assert got["environment"]["PROJECT_PATH"] == "/mnt/infocentre/projets/p42/"
    assert got["worker_memory"] == 4 * 2**30 and got["worker_cores"] == 2.0
    assert got["worker_threads"] == 2
    assert got["scheduler_extra_container_config"]["image"] == f"{REG}@sha256:{'cd' * 32}"
    # and it can fail: a misspelt setting is reported by the same check
    config.write_text(config.read_text() + "c.KubeClusterConfig.worker_memroy = 1\n")
    done = subprocess.run([gateway_python, "-c", _GATEWAY_CHECK, str(config)],
                          capture_output=True, text=True)
    assert json.loads(done.stdout)["unknown"] == ["worker_memroy"]


def test_gateway_needs_dask_gateway_in_the_lock():
    settings = read_cluster_settings(PROJECT)
    with pytest.raises(ClusterError, match="no dask-gateway"):
        gateway_config(settings, _images(), frozenset({"dask", "distributed"}))
    assert "KubeClusterConfig" in str(dask_gateway(settings, _images(),
                                                   frozenset({"dask-gateway"})))
