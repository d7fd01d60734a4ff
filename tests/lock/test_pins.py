"""Defect 1: lock entries split by markers are evaluated for the target before they bind.

The data are excerpts of corpus locks, kept in their shape: awslabs/fortuna's
poetry 2.1 lock (protobuf and urllib3 split by python_version, tensorflow-cpu /
tensorflow-macos by sys_platform, per-group markers), eodcgmbh/openeo-
argoworkflows' executor lock (poetry 1.4: no markers on entries, zarr split in
its dependent's constraint list, numcodecs by python-versions), karpathy/
nanochat's uv.lock (torch forked four ways by conflicting extras) and
huggingface/lerobot's (torch from the PyTorch index only on linux).
"""

# ruff: noqa: E501 (lock excerpts keep the real files' long lines)

from __future__ import annotations

import tomllib

from dockyard.lock import rules
from dockyard.lock.pins import TargetEnv, holds, lock_pins, target_pins
from dockyard.lock.resolve import bind_pins
from dockyard.sources import parse_pyproject
from dockyard.sources.locks import parse_poetry_lock, parse_uv_lock
from dockyard.spec import ProjectSpec, Settings

FORTUNA_PYPROJECT = """
[tool.poetry]
name = "aws-fortuna"
[tool.poetry.dependencies]
python = ">=3.9,<3.12"
tensorflow-cpu = { version = "^2.13.1", markers = "sys_platform != 'darwin'" }
tensorflow-macos = { version = "^2.13.1", markers = "sys_platform == 'darwin'" }
requests = "^2.31"
pandas = { version = "^2.0", optional = true }
[tool.poetry.extras]
docs = ["pandas"]
"""

FORTUNA_LOCK = '''
[[package]]
name = "protobuf"
version = "3.20.3"
optional = false
python-versions = ">=3.7"
groups = ["main", "docs"]
markers = "python_version <= \\"3.10\\""

[[package]]
name = "protobuf"
version = "4.25.3"
optional = false
python-versions = ">=3.8"
groups = ["main", "docs"]
markers = "python_version >= \\"3.11\\""

[[package]]
name = "tensorflow-cpu"
version = "2.13.1"
optional = false
python-versions = ">=3.8"
groups = ["main"]
markers = "sys_platform != \\"darwin\\""

[package.dependencies]
protobuf = ">=3.20.3,<4.21.0 || >4.21.0,<4.21.1 || >4.21.1,<4.21.2 || >4.21.2,<4.21.3 || >4.21.3,<4.21.4 || >4.21.4,<4.21.5 || >4.21.5,<5.0.0dev"
urllib3 = "*"

[[package]]
name = "tensorflow-macos"
version = "2.13.1"
optional = false
python-versions = ">=3.8"
groups = ["main"]
markers = "sys_platform == \\"darwin\\""

[[package]]
name = "urllib3"
version = "1.26.19"
optional = false
python-versions = "*"
groups = ["main"]
markers = "python_version < \\"3.10\\""

[[package]]
name = "urllib3"
version = "2.2.2"
optional = false
python-versions = ">=3.8"
groups = ["main"]
markers = "python_version >= \\"3.10\\""

[[package]]
name = "requests"
version = "2.32.3"
optional = false
python-versions = ">=3.8"
groups = ["main"]

[package.dependencies]
urllib3 = ">=1.21.1,<3"

[[package]]
name = "pandas"
version = "2.2.2"
optional = true
python-versions = ">=3.9"
groups = ["main"]
markers = {main = "extra == \\"docs\\""}

[metadata]
lock-version = "2.1"
python-versions = ">=3.9,<3.12"
'''


def spec_of(pyproject: str, lock: str, parse=parse_poetry_lock, file="poetry.lock",
            **settings) -> ProjectSpec:
    part = parse_pyproject(tomllib.loads(pyproject))
    project_lock = parse(tomllib.loads(lock), None, file)
    return ProjectSpec(root="/p", name=part.name, requires_python=part.requires_python,
                       pypi=part.pypi, optional_groups=part.optional_groups,
                       pins=tuple(p for p in project_lock.pins if not p.local),
                       locks=(project_lock,), settings=Settings(**settings))


def pinned(spec: ProjectSpec, python: str) -> dict[str, str]:
    pins, _ = bind_pins(spec, python)
    return {p.name: p.version for p in pins}


def test_poetry_21_markers_pick_one_protobuf_per_python():
    spec = spec_of(FORTUNA_PYPROJECT, FORTUNA_LOCK)
    assert pinned(spec, "3.11.9")["protobuf"] == "4.25.3"
    assert pinned(spec, "3.10.14")["protobuf"] == "3.20.3"
    assert pinned(spec, "3.9.19")["urllib3"] == "1.26.19"
    assert pinned(spec, "3.11.9")["urllib3"] == "2.2.2"


def test_platform_split_keeps_only_the_targets_package():
    spec = spec_of(FORTUNA_PYPROJECT, FORTUNA_LOCK)
    linux = pinned(spec, "3.11")
    assert "tensorflow-cpu" in linux and "tensorflow-macos" not in linux
    mac = spec_of(FORTUNA_PYPROJECT, FORTUNA_LOCK, platform="osx-arm64")
    assert "tensorflow-macos" in pinned(mac, "3.11")


def test_extras_gate_optional_entries():
    assert "pandas" not in pinned(spec_of(FORTUNA_PYPROJECT, FORTUNA_LOCK), "3.11")
    docs = spec_of(FORTUNA_PYPROJECT, FORTUNA_LOCK, extras=("docs",))
    assert pinned(docs, "3.11")["pandas"] == "2.2.2"


def test_only_the_targets_versions_become_constraints():
    """The defect: both protobufs became unconditional pins ("cannot be satisfied together")."""
    spec = spec_of(FORTUNA_PYPROJECT, FORTUNA_LOCK)
    pins, _ = bind_pins(spec, "3.11.9")
    constraints = rules.select(spec, (), pins).pypi_constraints
    assert "protobuf==4.25.3" in constraints and "protobuf==3.20.3" not in constraints
    assert not [c for c in constraints if c.startswith("tensorflow-macos")]


EXECUTOR_PYPROJECT = """
[tool.poetry]
name = "openeo-argoworkflows-executor"
[tool.poetry.dependencies]
python = ">=3.10,<3.12"
openeo-processes-dask-slim = {version = ">=2026.6.1", extras = ["implementations", "ml"]}
"""

EXECUTOR_LOCK = '''
[[package]]
name = "openeo-processes-dask-slim"
version = "2026.6.1"
category = "main"
optional = false
python-versions = ">=3.10"

[package.dependencies]
numpy = ">=1.26.3,<3"
xarray = {version = ">=2025.6.0", optional = true, markers = "extra == \\"implementations\\""}
xgboost = {version = ">=1.5.1", extras = ["dask"], optional = true, markers = "extra == \\"ml\\""}
zarr = [
    {version = ">=2.17.0,<2.18", markers = "python_version < \\"3.11\\""},
    {version = ">=2.18.7,<4", markers = "python_version >= \\"3.11\\""},
]

[package.extras]
implementations = ["xarray (>=2025.6.0)"]
ml = ["xgboost[dask] (>=1.5.1)"]

[[package]]
name = "numpy"
version = "1.26.4"
category = "main"
optional = false
python-versions = ">=3.9"

[[package]]
name = "xarray"
version = "2025.6.1"
category = "main"
optional = true
python-versions = ">=3.10"

[[package]]
name = "xgboost"
version = "2.1.4"
category = "main"
optional = true
python-versions = ">=3.8"

[[package]]
name = "zarr"
version = "2.17.2"
category = "main"
optional = false
python-versions = ">=3.9"

[package.dependencies]
numcodecs = ">=0.10.0"

[[package]]
name = "zarr"
version = "3.1.5"
category = "main"
optional = false
python-versions = ">=3.11"

[package.dependencies]
numcodecs = ">=0.14"

[[package]]
name = "numcodecs"
version = "0.13.1"
category = "main"
optional = false
python-versions = ">=3.10"

[[package]]
name = "numcodecs"
version = "0.16.5"
category = "main"
optional = false
python-versions = ">=3.11"

[[package]]
name = "dask"
version = "2025.1.0"
category = "main"
optional = true
python-versions = ">=3.10"

[metadata]
lock-version = "2.0"
python-versions = ">=3.10,<3.12"
'''


def test_old_poetry_locks_split_through_the_dependents_constraints():
    spec = spec_of(EXECUTOR_PYPROJECT, EXECUTOR_LOCK)
    old, new = pinned(spec, "3.10.14"), pinned(spec, "3.11.9")
    assert (old["zarr"], old["numcodecs"]) == ("2.17.2", "0.13.1")
    assert (new["zarr"], new["numcodecs"]) == ("3.1.5", "0.16.5")
    # extras asked of a dependency turn on its optional dependencies
    assert old["xarray"] == "2025.6.1" and old["xgboost"] == "2.1.4"
    assert "dask" not in old  # listed in the lock, reached by nothing


NANOCHAT_PYPROJECT = """
[project]
name = "nanochat"
requires-python = ">=3.10"
dependencies = ["numpy>=1.26.0", "torch==2.9.1"]
[project.optional-dependencies]
cpu = ["torch==2.9.1"]
gpu = ["torch==2.9.1"]
[tool.uv.sources]
torch = [
    { index = "pytorch-cpu", extra = "cpu" },
    { index = "pytorch-cu128", extra = "gpu" },
]
[[tool.uv.index]]
name = "pytorch-cpu"
url = "https://download.pytorch.org/whl/cpu"
explicit = true
[[tool.uv.index]]
name = "pytorch-cu128"
url = "https://download.pytorch.org/whl/cu128"
explicit = true
"""

NANOCHAT_LOCK = '''
version = 1
revision = 3
requires-python = ">=3.10"

[[package]]
name = "nanochat"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "numpy" },
    { name = "torch", version = "2.9.1", source = { registry = "https://download.pytorch.org/whl/cpu" }, marker = "(sys_platform == 'darwin' and extra == 'extra-8-nanochat-cpu') or (extra == 'extra-8-nanochat-cpu' and extra == 'extra-8-nanochat-gpu')" },
    { name = "torch", version = "2.9.1", source = { registry = "https://pypi.org/simple" }, marker = "(extra == 'extra-8-nanochat-cpu' and extra == 'extra-8-nanochat-gpu') or (extra != 'extra-8-nanochat-cpu' and extra != 'extra-8-nanochat-gpu')" },
    { name = "torch", version = "2.9.1+cpu", source = { registry = "https://download.pytorch.org/whl/cpu" }, marker = "(sys_platform != 'darwin' and extra == 'extra-8-nanochat-cpu') or (extra == 'extra-8-nanochat-cpu' and extra == 'extra-8-nanochat-gpu')" },
    { name = "torch", version = "2.9.1+cu128", source = { registry = "https://download.pytorch.org/whl/cu128" }, marker = "extra == 'extra-8-nanochat-gpu'" },
]

[package.optional-dependencies]
gpu = [
    { name = "torch", version = "2.9.1+cu128", source = { registry = "https://download.pytorch.org/whl/cu128" } },
]

[[package]]
name = "numpy"
version = "2.3.5"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "torch"
version = "2.9.1"
source = { registry = "https://download.pytorch.org/whl/cpu" }
resolution-markers = ["sys_platform == 'darwin' and extra == 'extra-8-nanochat-cpu'"]

[[package]]
name = "torch"
version = "2.9.1"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "nvidia-cuda-runtime-cu12", marker = "platform_machine == 'x86_64' and sys_platform == 'linux' and extra != 'extra-8-nanochat-cpu'" },
]

[[package]]
name = "torch"
version = "2.9.1+cpu"
source = { registry = "https://download.pytorch.org/whl/cpu" }

[[package]]
name = "torch"
version = "2.9.1+cu128"
source = { registry = "https://download.pytorch.org/whl/cu128" }
dependencies = [
    { name = "nvidia-cuda-runtime-cu12", marker = "platform_machine == 'x86_64' and sys_platform == 'linux'" },
]

[[package]]
name = "nvidia-cuda-runtime-cu12"
version = "12.8.90"
source = { registry = "https://pypi.org/simple" }
'''


def test_uv_fork_by_conflicting_extras():
    plain = spec_of(NANOCHAT_PYPROJECT, NANOCHAT_LOCK, parse_uv_lock, "uv.lock")
    assert pinned(plain, "3.12")["torch"] == "2.9.1"
    gpu = spec_of(NANOCHAT_PYPROJECT, NANOCHAT_LOCK, parse_uv_lock, "uv.lock", extras=("gpu",))
    assert pinned(gpu, "3.12")["torch"] == "2.9.1+cu128"
    cpu = spec_of(NANOCHAT_PYPROJECT, NANOCHAT_LOCK, parse_uv_lock, "uv.lock", extras=("cpu",))
    assert pinned(cpu, "3.12")["torch"] == "2.9.1+cpu"
    assert pinned(gpu, "3.12")["nvidia-cuda-runtime-cu12"] == "12.8.90"
    assert "nvidia-cuda-runtime-cu12" not in pinned(cpu, "3.12")


def test_uv_fork_constraints_never_hold_two_torches():
    """The defect: "the project depends on torch==2.9.1+cpu and torch==2.9.1+cu128"."""
    spec = spec_of(NANOCHAT_PYPROJECT, NANOCHAT_LOCK, parse_uv_lock, "uv.lock")
    pins, _ = bind_pins(spec, "3.12")
    torch = [c for c in rules.select(spec, (), pins).pypi_constraints if c.startswith("torch")]
    assert torch == ["torch==2.9.1"]


LEROBOT_LOCK = '''
version = 1
requires-python = ">=3.12"

[[package]]
name = "lerobot"
version = "0.4.0"
source = { editable = "." }
dependencies = [
    { name = "torch", version = "2.11.0", source = { registry = "https://pypi.org/simple" }, marker = "sys_platform != 'linux'" },
    { name = "torch", version = "2.11.0+cu128", source = { registry = "https://download.pytorch.org/whl/cu128" }, marker = "sys_platform == 'linux'" },
]

[[package]]
name = "torch"
version = "2.11.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "torch"
version = "2.11.0+cu128"
source = { registry = "https://download.pytorch.org/whl/cu128" }
'''


def test_uv_platform_fork_gives_linux_the_pytorch_index_build():
    pyproject = '[project]\nname = "lerobot"\ndependencies = ["torch>=2.7,<2.12"]\n'
    linux = spec_of(pyproject, LEROBOT_LOCK, parse_uv_lock, "uv.lock")
    assert pinned(linux, "3.12")["torch"] == "2.11.0+cu128"
    mac = spec_of(pyproject, LEROBOT_LOCK, parse_uv_lock, "uv.lock", platform="osx-arm64")
    assert pinned(mac, "3.12")["torch"] == "2.11.0"


def test_target_env_never_the_build_machine():
    env = TargetEnv("3.12.11", "linux-aarch64", frozenset({"gpu"}))
    assert holds("platform_machine == 'aarch64' and python_full_version >= '3.12.4'", env)
    assert not holds("sys_platform == 'darwin'", env)
    assert holds("extra == 'gpu'", env, {"gpu"}) and not holds("extra == 'cpu'", env, {"gpu"})
    assert holds("this is not a marker", env)  # unreadable: kept, never silently dropped


def test_a_stale_lock_is_told_and_pins_what_it_can():
    pyproject = FORTUNA_PYPROJECT.replace('requests = "^2.31"', 'requests = "^2.31"\nrich = "*"')
    spec = spec_of(pyproject, FORTUNA_LOCK)
    pins, notes = bind_pins(spec, "3.11")
    assert "requests" in {p.name for p in pins}
    assert any("no entry for rich" in n.message and "poetry lock" in n.message for n in notes)


def test_a_python_outside_the_lock_is_told():
    spec = spec_of(FORTUNA_PYPROJECT, FORTUNA_LOCK)
    env = TargetEnv("3.12", "linux-64")
    _, notes = lock_pins(spec.locks[0], spec, env, rules.wanted_groups(spec))
    assert any("made for Python >=3.9,<3.12" in n.message for n in notes)
    pins, _ = target_pins(spec, env, rules.wanted_groups(spec))
    assert {p.name for p in pins} >= {"tensorflow-cpu", "requests"}
