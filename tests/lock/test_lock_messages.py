"""Defect 7: what dockyard says when real projects go wrong, each message as a user meets it."""

from __future__ import annotations

import logging

import pytest
from rattler import MatchSpec

from dockyard.cli.lock import report_cuda
from dockyard.cuda.review import CudaReview, Finding, Fix
from dockyard.errors import SpecError
from dockyard.lock import pypi
from dockyard.sources import parse_environment, read_project
from dockyard.sources.conda import _suggest
from dockyard.spec import Origin, PypiRequirement
from dockyard.testing.cli import recording_ui, run_cli


def test_global_flags_work_after_the_command(tmp_path):
    (tmp_path / "requirements.txt").write_text("rich\n")
    code, out = run_cli("lock", "-v", "--check", "--project", str(tmp_path))
    assert code == 1 and "missing" in out  # not argparse's "unrecognized arguments" (2)
    code, _ = run_cli("-v", "lock", "--check", "--project", str(tmp_path))
    assert code == 1


def request_for(name="torch"):
    return pypi.Request((PypiRequirement(name, origin=Origin("pyproject.toml", 9)),),
                        pypi.Target("3.12"))


def test_uv_hint_tells_the_truth_about_verbose(caplog):
    short = pypi._uv_error("error: something odd happened to torch", request_for())
    assert "-v" not in (short.hint or "")
    long_text = "error: odd\n" + "\n".join(f"  cause {i}: torch" for i in range(40))
    with caplog.at_level(logging.INFO, logger="dockyard"):
        err = pypi._uv_error(long_text, request_for())
    assert "more lines of uv's message: `dockyard lock -v` logs them" in err.hint
    assert "cause 39" in caplog.text and "cause 39" not in err.message


def test_could_not_resolve_host_is_unreachable():
    text = ("error: Failed to download and build `elegantrl @ git+https://github.com/"
            "AI4Finance-Foundation/ElegantRL.git@b974a80`\n  Caused by: Git operation failed\n"
            "fatal: unable to access 'https://github.com/AI4Finance-Foundation/ElegantRL.git/':"
            " Could not resolve host: github.com")
    err = pypi._uv_error(text, request_for("elegantrl"))
    assert err.message.startswith("uv could not fetch elegantrl")
    assert "(unreachable)" in err.message
    assert err.where == "pyproject.toml:9"


def test_an_accepted_cuda_mismatch_is_said_once_as_accepted():
    review = CudaReview("12.6", "dockyard.toml ([target] cuda)", findings=(Finding(
        "torch", "2.6.0", "12.4", "12.6", "error", "torch 2.6.0 brings CUDA 12.4",
        ("poetry.lock pins torch==2.6.0",),
        (Fix("let the resolver move off poetry.lock's torch==2.6.0", "dockyard.toml",
             '[install]\nunpin = ["torch"]'),)),))
    ui, out, err = recording_ui()
    report_cuda(ui, review)
    text = out.export_text() + err.export_text()
    assert "warning: error:" not in text and "error:" not in text
    assert "mismatch accepted" in text and "torch 2.6.0 brings CUDA 12.4" in text


def test_a_suggested_url_can_be_pasted(tmp_path):
    (tmp_path / "requirements.txt").write_text(
        "https://deploy:s3cret@files.example/dl/thing?token=abc&arch=x86\n")
    with pytest.raises(SpecError) as info:
        read_project(tmp_path)
    hint = info.value.hint
    assert "***" not in hint and "s3cret" not in hint and "abc" not in hint
    assert hint == "name it: NAME @ https://files.example/dl/thing?arch=x86"
    assert "s3cret" not in info.value.message


@pytest.mark.parametrize("bad", ['python(">=3.11.0,<3.14.0")', "numpy >= 1.2 ; linux",
                                 "gdal(3.6)", "esmpy == 8.4 (conda)"])
def test_a_conda_hint_is_a_valid_spec_or_none(bad):
    suggestion = _suggest(bad)
    if suggestion:
        MatchSpec(suggestion)  # what the hint suggests parses


def test_pip_given_as_a_string_stops_instead_of_reading_characters():
    with pytest.raises(SpecError) as info:
        parse_environment({"dependencies": ["python", {"pip": "torch==2.3.1"}]})
    assert "expected a list" in info.value.message
    assert info.value.where == "environment.yml (dependencies[1].pip)"


def test_an_included_file_is_never_printed_whole(tmp_path):
    secret = "machine pypi.example login deploy password hunter2"
    (tmp_path / "requirements.txt").write_text("-r .netrc\n")
    (tmp_path / ".netrc").write_text(f"{secret} \\\n" + "more junk \\\n" * 200 + "end\n")
    with pytest.raises(SpecError) as info:
        read_project(tmp_path)
    text = f"{info.value.message} {info.value.hint}"
    assert len(info.value.message) < 400
    assert "junk junk" not in text and "hunter2" not in text
    assert info.value.where == ".netrc:1"


def test_uv_messages_never_name_dockyards_throwaway_files(tmp_path):
    work = tmp_path / "dockyard-uv-abc"
    text = (f"error: Failed to parse `{work}/pyproject.toml`\n"
            f"  Caused by: TOML parse error at line 8 in {work}/pyproject.toml")
    scrubbed = pypi._scrub(text, work)
    assert str(work) not in scrubbed and "dockyard's request to uv" in scrubbed
