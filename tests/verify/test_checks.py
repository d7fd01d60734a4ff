"""The checks verify concludes from what the kernel printed, and the report (plain data)."""

import json
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
    assert check.detail == "1 top-level modules of 1 locked distributions import"


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


def test_app_env_check():
    assert probe.check_app_env(FACTS, "/opt/python", True).status == "pass"
    assert probe.check_app_env({**FACTS, "prefix": "/opt/python"}, "/opt/python", True).status \
        == "fail"
    assert probe.check_app_env(FACTS, None, True).status == "skip"
    assert probe.check_app_env(FACTS, "/opt/python", False).status == "skip"


def test_kernel_code_runs_on_a_real_interpreter(tmp_path):
    """The code verify sends to the kernel, run here by a real Python."""
    (tmp_path / "lock").write_text("x = 1\n")
    def python(code):
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True).stdout

    facts = probe.parse_marked(python(probe.facts_code(str(tmp_path / "lock"))))
    assert facts["lock_text"] == "x = 1\n" and facts["python"].startswith("3.")
    run = probe.parse_imports(python(probe.imports_code(
        ["packaging", "surely-not-installed", probe.Wanted("libfoo", required=False)])))
    assert run.finished and run.crashed_in is None
    results = run.results
    assert results[0]["dist"] == "packaging" and results[0]["modules"] == ["packaging"]
    assert results[0]["failures"] == {}
    assert results[1]["missing"] is True and results[1]["optional"] is False
    assert results[2]["missing"] is True and results[2]["optional"] is True


def test_an_import_that_kills_the_interpreter_is_named():
    stdout = "\n".join([
        probe.MARKER + json.dumps({"dist": "a", "version": "1", "modules": ["a"],
                                   "failures": {}}),
        probe.STARTING + json.dumps(["b", "2", "b_native"]),
        "some noise",
    ])
    run = probe.parse_imports(stdout)
    assert not run.finished and [r["dist"] for r in run.results] == ["a"]
    assert run.crashed_in == ("b", "2", "b_native")
    check = probe.check_imports([*run.results, probe.crash_result(run.crashed_in)])
    assert check.problems == ("import b_native (b 2): the kernel died during this import "
                              "(the interpreter crashed or exited)",)


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
