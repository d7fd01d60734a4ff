"""Defect 6: index options and the rest of pip's requirement-file syntax, as real files write it.

Lines from facebookresearch/dinov2 (two --extra-index-url mid-file, conda.yaml's pip:
section), keras-team/keras (-r per backend, --extra-index-url, inline markers),
corl-team/CORL (git @master#egg=, --find-links, extras with a +cu113 local version),
jax-ml/jax (uv-generated hashed lock with markers), nsidc/earthaccess (pip's --group).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dockyard.errors import LockError, SpecError
from dockyard.lock import pypi, rules
from dockyard.lock.pins import TargetEnv, target_pins
from dockyard.lock.resolve import indexes_of, pypi_request
from dockyard.runner import which
from dockyard.sources import parse_environment, parse_requirements, read_project
from dockyard.sources.requirements import index_name
from dockyard.spec import Origin, PypiRequirement

DINOV2 = """--extra-index-url https://download.pytorch.org/whl/cu117
torch==2.0.0
torchvision==0.15.0
omegaconf
xformers==0.0.18
--extra-index-url https://pypi.nvidia.com
cuml-cu11
"""


def test_extra_index_urls_become_indexes_uv_accepts():
    part = parse_requirements(DINOV2)
    assert [(i.name, i.url, i.default) for i in part.indexes] == [
        ("download-pytorch-org-whl-cu117", "https://download.pytorch.org/whl/cu117", False),
        ("pypi-nvidia-com", "https://pypi.nvidia.com", False)]
    assert str(part.indexes[1].origin) == "requirements.txt:6"
    assert index_name("https://user:tok@mirror.example/simple/") == "mirror-example"


@pytest.mark.skipif(which("uv") is None, reason="uv is a dependency of dockyard")
def test_uv_takes_those_indexes(tmp_path):
    """The defect: an index named after its URL, which uv rejects before resolving."""
    part = parse_requirements(DINOV2)
    request = pypi.Request(part.pypi, pypi.Target("3.11"), indexes=part.indexes)
    args = pypi.prepare(request, tmp_path)
    done = subprocess.run([*args, "--offline"], capture_output=True, text=True,
                          env={"UV_NO_CONFIG": "1", "PATH": "/usr/bin:/bin"})
    text = done.stdout + done.stderr
    assert "parse error" not in text.lower() and "invalid" not in text.lower(), text
    assert "download-pytorch-org-whl-cu117=https://download.pytorch.org/whl/cu117" in args


KERAS = {
    "requirements-common.txt": "namex>=0.1.0\nnumpy\nrich\n",
    "requirements.txt": (
        "# Tensorflow cpu-only version (needed for testing).\n"
        "tensorflow-cpu;sys_platform != 'darwin'\n"
        "--extra-index-url https://download.pytorch.org/whl/cpu\n"
        "torch\n"
        "--find-links https://storage.googleapis.com/jax-releases/libtpu_releases.html\n"
        "jax[cuda13]\n"
        "-r requirements-common.txt"),  # no final newline, as in the corpus
}


def test_keras_layers_markers_and_find_links(tmp_path):
    for name, text in KERAS.items():
        (tmp_path / name).write_text(text)
    spec = read_project(tmp_path)
    reqs = {r.name: r for r in spec.pypi}
    assert reqs["tensorflow-cpu"].marker == 'sys_platform != "darwin"'
    assert reqs["jax"].extras == ("cuda13",)
    assert reqs["namex"].origin.file == "requirements-common.txt"
    assert spec.find_links == ("https://storage.googleapis.com/jax-releases/libtpu_releases.html",)
    request = pypi_request(spec, rules.select(spec, ()), (), "3.11")
    (tmp_path / "uv").mkdir()
    args = pypi.prepare(request, tmp_path / "uv")
    assert args[args.index("--find-links") + 1].endswith("libtpu_releases.html")
    assert [i.name for i in indexes_of(spec)] == ["download-pytorch-org-whl-cpu"]


CORL = """# Main dependencies
git+https://github.com/tinkoff-ai/d4rl@master#egg=d4rl
gym[mujoco_py,classic_control]==0.23.0
--extra-index-url https://download.pytorch.org/whl/cu113
torch==1.11.0+cu113
--find-links https://storage.googleapis.com/jax-releases/jax_cuda_releases.html
jaxlib[cuda11_cudnn82]==0.4.1
"""


def test_corl_git_egg_local_versions_and_extras(tmp_path):
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "requirements.txt").write_text(CORL)
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 120\n")
    spec = read_project(tmp_path)  # the requirements/ folder, since pyproject is tool config
    reqs = {r.name: r for r in spec.pypi}
    d4rl = reqs["d4rl"]
    assert (d4rl.git.url, d4rl.git.ref) == ("https://github.com/tinkoff-ai/d4rl", "master")
    assert reqs["torch"].specifier == "==1.11.0+cu113"
    assert reqs["jaxlib"].extras == ("cuda11_cudnn82",)
    assert reqs["gym"].extras == ("classic_control", "mujoco_py")
    assert spec.indexes[0].name == "download-pytorch-org-whl-cu113"


def test_a_local_version_without_its_index_says_which_index():
    request = pypi.Request((PypiRequirement("torch", "==2.0.1+cu117", origin=Origin(
        "baseline_models/HSR/env/requirements.txt", 3)),), pypi.Target("3.10"))
    uv_says = ("error: No solution found when resolving dependencies:\n"
               "  Because there is no version of torch==2.0.1+cu117 and you require "
               "torch==2.0.1+cu117, we can conclude that your requirements are unsatisfiable.")
    err = pypi._uv_error(uv_says, request)
    assert err.where == "baseline_models/HSR/env/requirements.txt:3"
    assert "only the PyTorch index has" in err.message
    assert "--extra-index-url https://download.pytorch.org/whl/cu117" in err.hint


JAX_LOCK = """# This file was autogenerated by uv via the following command:
#    python build/update_requirements_uv.py
absl-py==2.5.0 \\
    --hash=sha256:0c996f25c0490700fadabe6351630f6111534fa0ae252cc6d2014ea3b141135f \\
    --hash=sha256:0f17b89f2a4eaaedc4f28c622998aa690564b3012a396a4ffad0821007fe03ba
    # via
    #   -r build/test-requirements.txt
astunparse==1.6.3 ; python_full_version < '3.14' \\
    --hash=sha256:5ad93a8456f0d084c3456d059fd9a92cce667963232cbf763eac3bc5b7940872
    # via tensorflow
nvidia-cublas-cu12==12.9.1.4 ; sys_platform == 'linux' \\
    --hash=sha256:1e5fee10662e6e52bd71dec533fbbd4971bb70a5f24f3bc3793e5c2e9dc640bf
"""


def test_hashed_lines_are_pins_that_apply_by_their_markers():
    part = parse_requirements(JAX_LOCK, "requirements.txt")
    (lock,) = part.locks
    assert [(p.name, p.version, p.line) for p in lock.pins] == [
        ("absl-py", "2.5.0", 3), ("astunparse", "1.6.3", 8),
        ("nvidia-cublas-cu12", "12.9.1.4", 11)]
    from dockyard.spec import ProjectSpec
    spec = ProjectSpec(root="/p", pypi=part.pypi, locks=part.locks, pins=lock.pins)
    on_314, _ = target_pins(spec, TargetEnv("3.14.0", "linux-64"), {"main"})
    assert "astunparse" not in {p.name for p in on_314}
    mac, _ = target_pins(spec, TargetEnv("3.12", "osx-arm64"), {"main"})
    assert "nvidia-cublas-cu12" not in {p.name for p in mac}


def test_pip_group_flags_in_an_environment_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "earthaccess"\nversion = "1"\ndependencies = ["requests"]\n'
        '[dependency-groups]\ndev = ["ruff"]\ntest = ["pytest"]\ndocs = ["mkdocs"]\n')
    (tmp_path / "environment.yml").write_text(
        "name: earthaccess\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.12\n"
        "  - pip\n  - pip:\n    - --group dev --group test --group docs --editable .\n")
    spec = read_project(tmp_path)
    assert spec.selected_groups == ("dev", "test", "docs")
    requests = rules.select(spec, ("pip",))
    assert {r.name for r in requests.pypi} == {"requests", "ruff", "pytest", "mkdocs"}
    assert any("installs the project itself" in n.message for n in requests.notes)


def test_options_that_cannot_be_honoured_stop_at_their_line():
    with pytest.raises(SpecError) as info:
        parse_requirements("numpy\n--prefer-binary\n--install-option=--x\n", "req.txt")
    assert info.value.where == "req.txt:3" and "--install-option" in info.value.message
    with pytest.raises(SpecError) as info:
        parse_requirements("--group ../other/pyproject.toml:dev\n", "req.txt")
    assert "only the project's own pyproject.toml" in info.value.message


def test_pip_section_in_a_conda_file_with_an_index():
    pip = ["submitit @ git+https://github.com/facebookincubator/submitit",
           "--extra-index-url https://pypi.nvidia.com", "cuml-cu11"]
    part = parse_environment({"channels": ["conda-forge"], "dependencies": [
        "python=3.9", "pip", {"pip": pip}]}, base="")
    assert [r.name for r in part.conda_pip] == ["submitit", "cuml-cu11"]
    assert part.indexes[0].name == "pypi-nvidia-com"


def test_an_unnamed_git_url_stops_with_the_line_and_the_fix():
    """dinov2's conda.yaml: pip builds it to learn its name; dockyard does not guess one."""
    with pytest.raises(SpecError) as info:
        parse_environment({"dependencies": [{"pip": [
            "git+https://github.com/facebookincubator/submitit"]}]})
    assert info.value.where == "environment.yml (dependencies[0].pip[0])"
    assert info.value.hint == "name it: NAME @ git+https://github.com/facebookincubator/submitit"


def test_lock_error_for_a_bad_index_name_never_happens_again():
    with pytest.raises(LockError):
        raise pypi._uv_error("error: Failed to fetch: `https://pypi.nvidia.com/cuml-cu11/`\n"
                             "  Caused by: dns error", pypi.Request((), pypi.Target("3.11")))


def test_relative_paths_in_included_files_start_from_their_folder(tmp_path: Path):
    (tmp_path / "reqs").mkdir()
    (tmp_path / "libs" / "vcm").mkdir(parents=True)
    (tmp_path / "libs" / "vcm" / "pyproject.toml").write_text('[project]\nname = "vcm"\n')
    (tmp_path / "requirements.txt").write_text("-r reqs/base.txt\n")
    (tmp_path / "reqs" / "base.txt").write_text("-e ../libs/vcm\n")
    (vcm,) = read_project(tmp_path).pypi
    assert (vcm.name, vcm.path) == ("vcm", "libs/vcm")


def test_uv_dependency_metadata_goes_to_uv(tmp_path):
    """stanford-cs336's flash-attn: an sdist uv cannot build to read; the project states
    its metadata in [[tool.uv.dependency-metadata]], and uv must get it."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "alignment"\nversion = "1"\n'
        'dependencies = ["flash-attn==2.7.4.post1"]\n'
        '[[tool.uv.dependency-metadata]]\nname = "flash-attn"\nversion = "2.7.4.post1"\n'
        'requires-dist = ["torch", "einops", "setuptools"]\n')
    spec = read_project(tmp_path)
    request = pypi_request(spec, rules.select(spec, ()), (), "3.12")
    (tmp_path / "uv").mkdir()
    args = pypi.prepare(request, tmp_path / "uv")
    config = args[args.index("--config-file") + 1]
    import tomllib
    doc = tomllib.loads(Path(config).read_text())
    assert doc["dependency-metadata"] == [{"name": "flash-attn", "version": "2.7.4.post1",
                                           "requires-dist": ["torch", "einops", "setuptools"]}]
