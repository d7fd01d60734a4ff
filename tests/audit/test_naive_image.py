"""The naive image (system Python + conda + venv, planted problems) read from Podman storage."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.podman


def by_code(report, code):
    return [f for f in report.findings if f.code == code]


def test_numpy_in_three_environments_with_their_bytes(naive, naive_report):
    _, expected = naive
    inv = naive_report.inventory
    numpy = {d.env: d.size for d in inv.distributions if d.name == "numpy"}
    assert numpy == expected["numpy"]
    [dup] = [f for f in by_code(naive_report, "duplicate-distribution") if "numpy" in f.title]
    assert dup.severity == "warning"
    assert "3 environments" in dup.title
    sizes = sorted(expected["numpy"].values())
    assert dup.size == sum(sizes[:-1])          # all copies but the largest
    assert len(dup.details) == 3
    kinds = {e.prefix: e.kind for e in inv.environments}
    assert kinds == {"/usr/local": "system", "/opt/conda": "conda", "/opt/venv": "venv"}
    conda_numpy = next(d for d in inv.distributions if d.name == "numpy" and d.installer == "conda")
    assert conda_numpy.files == expected["conda_numpy_files"]


def test_conda_record_and_pip_dist_info_in_one_env(naive, naive_report):
    _, expected = naive
    [dup] = [f for f in by_code(naive_report, "duplicate-distribution") if "packaging" in f.title]
    assert dup.severity == "error"
    assert "twice in /opt/conda" in dup.title and "conda" in dup.title and "uv" in dup.title
    pip_copy = next(d for d in naive_report.inventory.distributions
                    if d.name == "packaging" and d.env == "/opt/conda" and d.installer != "conda")
    assert pip_copy.size == expected["packaging_pip_in_conda"]
    # packaging 25.0 overwrote 24.2's files in the same prefix: wasted bytes of layer 3
    wasted = by_code(naive_report, "wasted-bytes")[0]
    assert any(p.startswith("/opt/conda/lib/python3.13/site-packages/packaging/")
               for p in wasted.paths)
    assert naive_report.inventory.layers[3].wasted > 0


def test_token_in_deleted_pip_conf_is_found_redacted(naive_report):
    [hit] = [f for f in by_code(naive_report, "secret") if "/etc/pip.conf" in f.paths[0]]
    assert hit.severity == "error"
    assert "layer 2" in hit.title and "deleted" in hit.title
    assert hit.details == ("/etc/pip.conf:2: index-url = https://***@pypi.example.org/simple",)
    assert "/etc/pip.conf" not in naive_report.inventory.files


def test_contract_root_and_cmd(naive_report):
    assert by_code(naive_report, "runs-as-root")
    [cmd] = by_code(naive_report, "cmd-changed")
    assert cmd.severity == "error"
    assert "image: ['/opt/venv/bin/python', '-m', 'app']" in cmd.details
    assert not by_code(naive_report, "entrypoint-changed")
    assert not by_code(naive_report, "not-on-base")
    assert naive_report.inventory.base_layers == 1


def test_leftover_pip_cache(naive, naive_report):
    _, expected = naive
    [cache] = [f for f in by_code(naive_report, "cache") if "pip cache" in f.title]
    assert cache.severity == "warning"
    assert cache.size == expected["pip_cache"]


def test_cuda_libraries_owners_versions_and_duplicates(naive, naive_report):
    _, expected = naive
    cuda = {c.owner: c for c in naive_report.inventory.cuda}
    assert set(cuda) == {"wheel:nvidia-cuda-runtime-cu12", "toolkit"}
    assert {c.version for c in cuda.values()} == {"12.4.127"}
    assert cuda["toolkit"].sha256 == expected["cudart_sha256"]
    [dup] = by_code(naive_report, "duplicate-file")
    assert dup.size == expected["cudart"]
    assert len(dup.paths) == 2
    mismatches = by_code(naive_report, "cuda-mismatch")
    assert len(mismatches) == 2 and all("CUDA 12.4" in f.title for f in mismatches)


def test_budget_lists_largest_contributors(podman, naive, debian_trixie):
    from dockyard.audit import Policy, audit

    report = audit(naive[0], policy=Policy(budget=300_000_000), engine=podman)
    [over] = by_code(report, "over-budget")
    assert over.size == report.inventory.total - 300_000_000
    assert any("numpy" in d for d in over.details)
    assert report.failed("error")
