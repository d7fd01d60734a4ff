"""dockyard.toml [cluster]: parsed with file:line errors, kept out of the lock's inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dockyard.cluster.settings import (
    dask_memory,
    memory_bytes,
    parse_cluster,
    read_cluster_settings,
)
from dockyard.errors import ClusterError
from dockyard.lock.resolve import inputs_hash
from dockyard.sources import read_project

PROJECT = Path(__file__).parents[1] / "projects" / "daskcase"


def test_the_test_projects_settings():
    s = read_cluster_settings(PROJECT)
    assert (s.cluster_name, s.workers, s.scheduler_variable) == ("daskcase", 2, "SCHEDULER_IP")
    assert dict(s.env)["PROJECT_PATH"] == "/mnt/infocentre/projets/p42/"  # expanded
    assert [k for k, _ in s.env] == ["PATH_INFOCENTRE_APP", "PROJECT_ID", "PROJECT_PATH",
                                     "COMMUN_PATH"]
    assert (s.worker.cpu, s.worker.memory, s.worker.nthreads) == ("2", "4Gi", 2)
    assert s.worker.args == ("--lifetime", "24h")
    assert dict(s.scheduler.env) == dict(s.env)


def test_defaults_without_a_settings_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "My_Proj"\n')
    s = read_cluster_settings(tmp_path)
    assert (s.cluster_name, s.workers, s.light_scheduler, s.env) == ("my-proj", 2, False, ())


def test_role_env_overrides_and_expands():
    s = parse_cluster({"cluster": {
        "env": {"ROOT": "/data/", "OUT": "${ROOT}out", "LIT": "$${HOME}"},
        "worker": {"env": {"ROOT": "/scratch/"}}}})
    assert dict(s.worker.env) == {"ROOT": "/scratch/", "OUT": "/scratch/out", "LIT": "${HOME}"}
    assert dict(s.env)["OUT"] == "/data/out"


def _err(text: str, tmp_path) -> ClusterError:
    (tmp_path / "dockyard.toml").write_text(text)
    with pytest.raises(ClusterError) as info:
        read_cluster_settings(tmp_path)
    return info.value


@pytest.mark.parametrize("text, where, message", [
    ('[cluster]\nworkerz = 2\n', "dockyard.toml:2 (cluster.workerz)", "unknown key 'workerz'"),
    ('[cluster.env]\nA = "${B}"\n', "dockyard.toml:2 (cluster.env.A)", "${B}, which is not"),
    ('[cluster.env]\nA = "${B}"\nB = "${A}"\n', "dockyard.toml:", "in a loop: A -> B -> A"),
    ('[cluster.worker]\nmemory = "4 GB"\n', "dockyard.toml:2 (cluster.worker.memory)",
     "Kubernetes quantity"),
    ('[cluster.scheduler]\nnthreads = 2\n', "dockyard.toml:2 (cluster.scheduler.nthreads)",
     "unknown key 'nthreads'"),
    ('[cluster]\nname = "Not_OK"\n', "dockyard.toml:2 (cluster.name)", "not a valid cluster"),
    ('[cluster.env]\n"1X" = "a"\n', "dockyard.toml:2 (cluster.env.1X)", "not an environment"),
])
def test_errors_name_the_line(tmp_path, text, where, message):
    err = _err(text, tmp_path)
    assert err.where.startswith(where) and message in err.message, (err.where, err.message)
    assert err.hint


def test_quantities():
    assert dask_memory("4Gi") == "4GiB" and dask_memory("500M") == "500MB"
    assert memory_bytes("2Gi") == 2 * 2**30 and memory_bytes("1.5G") == 1_500_000_000


def test_cluster_tables_are_not_lock_inputs(tmp_path):
    """Changing where the images run does not make the lock stale; the rest still does."""
    root = tmp_path / "p"
    shutil.copytree(PROJECT, root)
    before = inputs_hash(read_project(root))
    toml = root / "dockyard.toml"
    toml.write_text(toml.read_text().replace('COMMUN_PATH = "/mnt/commun/"',
                                             'COMMUN_PATH = "/mnt/other/"\nX = "1"')
                    .replace("workers = 2", "workers = 8"))
    assert inputs_hash(read_project(root)) == before
    toml.write_text(toml.read_text().replace('python = "3.13"', 'python = "3.12"'))
    assert inputs_hash(read_project(root)) != before


def test_files_without_cluster_tables_hash_as_before(tmp_path):
    import hashlib

    from dockyard.sources.settings import lock_digest

    text = '[target]\npython = "3.12"\n'
    assert lock_digest(text, {"target": {"python": "3.12"}}) == \
        hashlib.sha256(text.encode()).hexdigest()
    # a [cluster] the line cut cannot separate (a dotted key at the top) hashes the whole file
    odd = 'cluster.name = "x"\n[target]\npython = "3.12"\n'
    doc = {"cluster": {"name": "x"}, "target": {"python": "3.12"}}
    assert lock_digest(odd, doc) == hashlib.sha256(odd.encode()).hexdigest()
