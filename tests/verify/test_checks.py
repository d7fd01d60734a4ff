"""The checks verify concludes from what the kernel printed, and the report (plain data)."""

import json
import os
import subprocess
import sys

import pytest

from dockyard.errors import VerifyError
from dockyard.lock.model import Lock, LockedPackage, Target
from dockyard.verify import Check, VerifyReport, choose_kernel, probe, render

FACTS = {"python": "3.12.11", "implementation": "CPython", "executable": "/opt/app/bin/python",
         "prefix": "/opt/app", "uid": 1000, "user": "onyxia"}


def _lock(python="3.12.11"):
    return Lock(inputs_hash="sha256:0", target=Target(python=python), packages=(
        LockedPackage("Numpy", "1.26.4", "pypi", "https://pypi.org/simple", "r"),
        LockedPackage("esmpy", "8.6.1", "conda", "file:///ch", "r", provides=("esmpy",)),
        LockedPackage("libnetcdf", "4.9.2", "conda", "file:///ch", "r"),
    ))


def test_interpreter_against_the_lock():
    assert probe.check_interpreter(FACTS, _lock()).status == "pass"
    assert probe.check_interpreter(FACTS, _lock("3.12")).status == "pass"
    bad = probe.check_interpreter(FACTS, _lock("3.13"))
    assert bad.status == "fail" and "lock targets Python 3.13" in bad.detail
    assert "no lock target" in probe.check_interpreter(FACTS, None).detail


def test_user_checks():
    assert probe.check_user(FACTS, "onyxia").status == "pass"
    assert probe.check_user({**FACTS, "uid": 0, "user": "root"}, "onyxia").status == "fail"
    other = probe.check_user({**FACTS, "user": "jovyan"}, "onyxia")
    assert other.status == "fail" and "USERNAME is 'onyxia'" in other.detail


def test_wanted_distributions_take_pypi_packages_and_what_conda_provides():
    wanted = probe.wanted_distributions(_lock())
    assert [(w.dist, w.version, w.required) for w in wanted] == [
        ("esmpy", "", True), ("libnetcdf", "", False), ("numpy", "1.26.4", True)]


def test_an_absent_conda_library_is_not_a_failure():
    results = [{"dist": "libnetcdf", "missing": True, "optional": True},
               {"dist": "numpy", "version": "1.26.4", "modules": ["numpy"], "failures": {}}]
    check = probe.check_imports(results)
    assert check.status == "pass"
    assert check.detail == ("1 top-level modules of 1 locked distributions import, each "
                            "distribution in its own interpreter")


def test_imports_and_versions_report_every_problem():
    results = [
        {"dist": "numpy", "version": "1.26.4", "modules": ["numpy"], "failures": {}},
        {"dist": "pyarrow", "version": "26.0.0", "modules": ["pyarrow"],
         "failures": {"pyarrow": "ImportError: pyarrow requires NumPy 2.0 or newer"}},
        {"dist": "esmpy", "missing": True},
    ]
    check = probe.check_imports(results)
    assert check.status == "fail"
    assert check.problems == (
        "import pyarrow (pyarrow 26.0.0): ImportError: pyarrow requires NumPy 2.0 or newer",
        "esmpy: locked but not installed in the kernel's environment",
    )
    versions = probe.check_versions(results, [probe.Wanted("numpy", "1.26.4"),
                                              probe.Wanted("pyarrow", "26.0")])
    assert versions.status == "pass"  # 26.0 == 26.0.0
    versions = probe.check_versions(results, [probe.Wanted("numpy", "2.1.0")])
    assert versions.problems == ("numpy: installed 1.26.4, locked 2.1.0",)
    assert probe.check_imports(None, "why").status == "skip"


def test_a_known_optional_peer_is_a_note_not_a_failure():
    results = [{"dist": "matplotlib-inline", "version": "0.2.2", "modules": ["matplotlib_inline"],
                "failures": {"matplotlib_inline": "ModuleNotFoundError: No module named 'x'"},
                "needs": {"matplotlib_inline": "matplotlib"}},
               {"dist": "xesmf", "version": "0.8", "modules": ["xesmf"],
                "failures": {"xesmf": "ModuleNotFoundError: No module named 'esmpy'"},
                "needs": {"xesmf": "esmpy"}}]
    check = probe.check_imports(results[:1])
    assert check.status == "pass" and "matplotlib_inline needs matplotlib" in check.detail
    check = probe.check_imports(results)  # esmpy missing is the founding case's real failure
    assert check.status == "fail"
    assert check.problems[0] == \
        "import xesmf (xesmf 0.8): ModuleNotFoundError: No module named 'esmpy'"


def test_app_env_check():
    assert probe.check_app_env(FACTS, "/opt/python", True).status == "pass"
    assert probe.check_app_env({**FACTS, "prefix": "/opt/python"}, "/opt/python", True).status \
        == "fail"
    assert probe.check_app_env(FACTS, None, True).status == "skip"
    assert probe.check_app_env(FACTS, "/opt/python", False).status == "skip"


def _dist(site, name, init):
    """A real installed distribution (a package and its dist-info) under `site`."""
    (site / name).mkdir()
    (site / name / "__init__.py").write_text(init)
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "RECORD").write_text(f"{name}/__init__.py,,\n{name}-1.0.dist-info/METADATA,,\n")


def _kernel_run(code, site=None):
    """The code verify sends to the kernel, run here by a real Python; its answer back."""
    env = {**os.environ, "PYTHONPATH": str(site)} if site else None
    done = subprocess.run([sys.executable, "-c", code + f"\nprint({probe.RESULT})"],
                          capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_facts_code_on_a_real_interpreter(tmp_path):
    (tmp_path / "lock").write_text("x = 1\n")
    facts = _kernel_run(probe.facts_code(str(tmp_path / "lock")))
    assert facts["lock_text"] == "x = 1\n" and facts["python"].startswith("3.")
    assert facts["uid"] == os.getuid()
    missing = _kernel_run(probe.facts_code(str(tmp_path / "nope")))
    assert missing["lock_error"].startswith("FileNotFoundError")


def test_imports_code_names_failures_and_crashes_and_goes_on(tmp_path):
    _dist(tmp_path, "aaa_ok", "VALUE = 1\n")
    _dist(tmp_path, "bbb_broken", "raise ImportError('needs NumPy 2.0 or newer')\n")
    _dist(tmp_path, "ccc_crash", "import os, signal\nprint('half a line', end='')\n"
                                 "os.kill(os.getpid(), signal.SIGSEGV)\n")
    _dist(tmp_path, "ddd_exit", "import os\nos._exit(3)\n")
    _dist(tmp_path, "eee_needs", "import surely_absent_peer\n")
    (tmp_path / "eee_needs.libs").mkdir()  # a wheel's vendored-libraries folder: no module
    record = tmp_path / "eee_needs-1.0.dist-info" / "RECORD"
    record.write_text(record.read_text() + "eee_needs.libs/libx.so,,\n")
    names = ["eee-needs", "aaa-ok", "bbb-broken", "ccc-crash", "ddd-exit", "packaging", "not-there",
             probe.Wanted("libfoo", required=False)]
    results = {r["dist"]: r for r in _kernel_run(probe.imports_code(names), site=tmp_path)}
    assert results["aaa-ok"]["modules"] == ["aaa_ok"] and results["aaa-ok"]["failures"] == {}
    assert results["bbb-broken"]["failures"] == {
        "bbb_broken": "ImportError: needs NumPy 2.0 or newer"}
    assert results["ccc-crash"]["failures"] == {
        "ccc_crash": "during this import, the interpreter was killed by SIGSEGV"}
    assert results["ddd-exit"]["failures"] == {
        "ddd_exit": "during this import, the interpreter exited with code 3"}
    assert results["packaging"]["failures"] == {}  # checked after two crashes
    assert results["eee-needs"]["modules"] == ["eee_needs"]
    assert results["eee-needs"]["needs"] == {"eee_needs": "surely_absent_peer"}
    assert results["not-there"]["missing"] and not results["not-there"]["optional"]
    assert results["libfoo"]["missing"] and results["libfoo"]["optional"]
    check = probe.check_imports(results.values())
    assert check.status == "fail" and len(check.problems) == 5


def test_as_the_base():
    base = {"Cmd": ["/bin/sh", "-c", "jupyter lab"], "User": "1000"}
    assert probe.check_as_base(dict(base), base, "base@sha256:1").status == "pass"
    changed = probe.check_as_base({**base, "Cmd": ["python"], "User": "root"}, base, "b")
    assert changed.status == "fail"
    assert changed.problems == ("CMD is ['python'], the base's is ['/bin/sh', '-c', 'jupyter lab']",
                                "USER is 'root', the base's is '1000'")
    assert probe.check_as_base(base, None, "b").status == "skip"
    assert probe.check_as_base(base, None, None).status == "skip"


def test_choose_kernel():
    assert choose_kernel(["app", "python3"], "python3", None, None)[0] == "app"
    assert choose_kernel(["app", "python3"], "python3", "python3", None)[0] == "python3"
    assert choose_kernel(["a", "b", "python3"], "python3", None, "b") == \
        ("b", "named by the image label io.dockyard.kernel")
    with pytest.raises(VerifyError, match="several kernelspecs"):
        choose_kernel(["a", "b", "python3"], "python3", None, None)
    with pytest.raises(VerifyError, match="only the base's default kernel"):
        choose_kernel(["python3"], "python3", None, None)
    with pytest.raises(VerifyError, match="the server lists: a, python3"):
        choose_kernel(["a", "python3"], "python3", "zz", None)


def test_report_rendering_and_json():
    report = VerifyReport(image="app:1", kernel="app", command="sh -c jupyter lab", checks=(
        Check("interpreter", "pass", "CPython 3.12.11"),
        Check("imports", "fail", "2 problem(s)", ("import a: boom", "b: missing")),
        Check("versions", "skip", "no lock"),
    ))
    assert not report.ok and [c.name for c in report.failed] == ["imports"]
    assert render(report) == [
        "image app:1, kernel 'app'",
        "command: sh -c jupyter lab",
        "✓ interpreter: CPython 3.12.11",
        "✗ imports: 2 problem(s)",
        "    import a: boom",
        "    b: missing",
        "- versions: no lock",
        "1 check(s) failed",
    ]
    assert json.loads(json.dumps(report.to_dict()))["checks"][1]["problems"] == \
        ["import a: boom", "b: missing"]


def test_each_distribution_imports_in_its_own_interpreter_and_blame_goes_to_the_culprit(
        tmp_path):
    """The founding case's argopy/pyarrow: a failure inside another distribution names it,
    and that other distribution's own import is not hidden by the first failure."""
    _dist(tmp_path, "arrowish", "import sys\nsys.modules.setdefault('arrowish.lib', sys)\n"
                                "raise ImportError('arrowish requires NumPy 2.0 or newer')\n")
    _dist(tmp_path, "argoish", "import arrowish\n")
    _dist(tmp_path, "jsonnetish", "X = 1\n")
    info = tmp_path / "jsonnetish-1.0.dist-info"
    (info / "top_level.txt").write_text("jsonnetish\ntestdata\n")  # testdata is not installed
    ns = tmp_path / "nsroot" / "inner"  # a namespace folder holding a real package
    ns.mkdir(parents=True)
    (ns / "__init__.py").write_text("")
    (tmp_path / "nsroot" / "data.txt").write_text("not a module")
    record = info / "RECORD"
    record.write_text(record.read_text() + "nsroot/inner/__init__.py,,\nnsroot/data.txt,,\n")
    names = ["argoish", "arrowish", "jsonnetish"]
    results = {r["dist"]: r for r in _kernel_run(probe.imports_code(names, jobs=2),
                                                 site=tmp_path)}
    assert results["argoish"]["blame"]["argoish"][:2] == ["arrowish", "1.0"]
    assert results["arrowish"]["failures"] == {
        "arrowish": "ImportError: arrowish requires NumPy 2.0 or newer"}
    assert "blame" not in results["arrowish"]
    assert results["jsonnetish"]["modules"] == ["jsonnetish", "nsroot.inner"]  # RECORD wins
    check = probe.check_imports(results.values())
    assert check.problems == (
        "import arrowish (arrowish 1.0): ImportError: arrowish requires NumPy 2.0 or newer",
        "import argoish (argoish 1.0): ImportError: arrowish requires NumPy 2.0 or newer; "
        "at fault: arrowish 1.0 (arrowish/__init__.py), which fails to import on its own too",
    )


def test_a_failure_behind_a_lazy_import_names_the_distribution_loaded_that_fails_alone(
        tmp_path):
    """The founding case at full size: argopy loads pyarrow lazily (importlib's LazyLoader),
    pyarrow 26 refuses NumPy 1.26, and argopy then fails with "module 'xarray' has no
    attribute 'Dataset'": no frame of pyarrow's files is in argopy's traceback."""
    _dist(tmp_path, "arrowlazy", "raise ImportError('arrowlazy requires NumPy 2.0 or newer')\n")
    _dist(tmp_path, "fineish", "X = 1\n")
    _dist(tmp_path, "argolazy", (
        "import importlib.util, sys\n"
        "import fineish\n"
        "spec = importlib.util.find_spec('arrowlazy')\n"
        "spec.loader = importlib.util.LazyLoader(spec.loader)\n"
        "mod = importlib.util.module_from_spec(spec)\n"
        "sys.modules['arrowlazy'] = mod\n"
        "spec.loader.exec_module(mod)\n"
        "try:\n    mod.VERSION\nexcept ImportError:\n    pass\n"
        "raise AttributeError(\"module 'xarrayish' has no attribute 'Dataset'\")\n"))
    names = ["argolazy", "arrowlazy", "fineish"]
    results = {r["dist"]: r for r in _kernel_run(probe.imports_code(names, jobs=2),
                                                 site=tmp_path)}
    assert "blame" not in results["argolazy"]
    assert "arrowlazy" in results["argolazy"]["loaded"]["argolazy"]
    check = probe.check_imports(results.values())
    assert check.problems == (
        "import arrowlazy (arrowlazy 1.0): ImportError: arrowlazy requires NumPy 2.0 or newer",
        "import argolazy (argolazy 1.0): AttributeError: module 'xarrayish' has no attribute "
        "'Dataset'; loaded while it failed: arrowlazy 1.0, which fails to import on its own "
        "(the likely cause)",
    )
    # loaded modules that import on their own are not blamed
    alone = [r for r in results.values() if r["dist"] != "arrowlazy"]
    assert probe.check_imports(alone).problems == (
        "import argolazy (argolazy 1.0): AttributeError: module 'xarrayish' has no attribute "
        "'Dataset'",)
