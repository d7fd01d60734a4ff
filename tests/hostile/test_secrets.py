"""Secrets found by content, whatever the file is called: before building, and by check.

The founding case's `gee_credentials.json` (a Google service-account key inside
the package directory) is made here with a key generated for the test.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest

from dockyard.audit import audit
from dockyard.audit.secrets import classify, mask, refuse_secrets, scan_file
from dockyard.errors import BuildError
from dockyard.testing import archives as A

KEY_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7hunter2"


def service_account(key_body: str = KEY_BODY) -> bytes:
    """A Google service-account key file, as `gcloud iam service-accounts keys create` writes."""
    return json.dumps({
        "type": "service_account", "project_id": "oeil-nc", "private_key_id": "0123abcd" * 5,
        "private_key": f"-----BEGIN PRIVATE KEY-----\n{key_body}\n-----END PRIVATE KEY-----\n",
        "client_email": "gee@oeil-nc.iam.gserviceaccount.com", "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token"}, indent=2).encode()


# (file name, content, kind): names say nothing; the content gives it away
CASES = [
    ("gee_credentials.json", service_account(), "gcp-service-account-key"),
    ("notes.txt", b"key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1hunter2\n"
                  b"-----END OPENSSH PRIVATE KEY-----\n", "private-key"),
    (".env.production", b"DEBUG=0\nDATABASE_PASSWORD=hunter2-prod\n", "config-password"),
    ("settings.py", b'AWS = "AKIAIOSFODNN7HUNTER2"\n', "aws-access-key"),
    ("deploy.sh", b"pip install git+https://me:hunter2pat0123456789abcdefghijklmnopqrstuv"
                  b"@dev.azure.com/org/proj/_git/bilbo-packages@main#subdirectory=x\n",
     "azure-devops-token"),
    ("ci.yml", b"token: ghp_hunter2hunter2hunter2hunter2hunter2a\n", "git-token"),
    ("conf.ini", b"url = https://gitlab-ci-token:glpat-hunter2hunter2hunt@gitlab.example/x\n",
     "url-credentials"),
    ("app.cfg", b"conn = DefaultEndpointsProtocol=https;AccountName=x;AccountKey="
                + b"hunter2" * 10 + b"==;EndpointSuffix=core.windows.net\n",
     "azure-storage-key"),
    ("maps.js", b'const k = "AIzaSyHunter2Hunter2Hunter2Hunter2Hunt0";\n', "gcp-api-key"),
    ("pat.txt", b"a" * 52 + b"JQQJ9" + b"b" * 19 + b"AZDO" + b"c" * 4 + b"\n",
     "azure-devops-token"),
]


@pytest.mark.parametrize("name, data, kind", CASES, ids=[c[0] for c in CASES])
def test_found_by_content_and_never_kept(name, data, kind):
    hits = scan_file(f"pkg/{name}", data)
    assert kind in {h.kind for h in hits}, hits
    for hit in hits:
        assert "hunter2" not in hit.preview and "HUNTER2" not in hit.preview, hit
        assert hit.where.startswith(f"pkg/{name}:")


@pytest.mark.parametrize("text", [
    b"engine = create_engine('postgresql://user:password@localhost/db')\n",
    b"url = 'https://${GITHUB_TOKEN}@github.com/org/repo'\n",
    b"git clone ssh://git@github.com/org/repo.git\n",
    b"see https://user:<password>@host/path in the docs\n",
    b"redis://:{password}@cache:6379/0\n",
    b"https://example.org/simple\n",
    b"\x7fELF\x02\x01\x00\x00 -----BEGIN RSA PRIVATE KEY----- binary\n",
])
def test_placeholders_and_binaries_are_not_credentials(text):
    assert scan_file("src/app.py", text) == []


def test_mask_hides_what_it_finds():
    line = "pip install git+https://me:tok3n-hunter2@dev.azure.com/org/_git/x AKIAIOSFODNN7HUNTER2"
    assert "hunter2" not in mask(line) and "HUNTER2" not in mask(line)


# ---- before building --------------------------------------------------------------------

def _oeilnc(root: Path) -> Path:
    """The founding case's layout: three sub-packages, the key inside one of them."""
    for pkg in ("oeilnc_config", "oeilnc_geoindicator", "oeilnc_utils"):
        (root / pkg).mkdir(parents=True)
        (root / pkg / "__init__.py").write_text("")
    (root / "oeilnc_geoindicator" / "gee_credentials.json").write_bytes(service_account())
    (root / "oeilnc_config" / "settings.py").write_text(
        "import os\nSCHEDULER_IP = os.environ.get('SCHEDULER_IP')\n")
    (root / "tests" / "data").mkdir(parents=True)
    (root / "tests" / "data" / "test_key.pem").write_bytes(CASES[1][1])
    return root


def test_the_build_stops_on_the_service_account_key(tmp_path, caplog):
    root = _oeilnc(tmp_path / "project")
    with caplog.at_level(logging.WARNING, logger="dockyard"):
        logging.getLogger("dockyard").addHandler(caplog.handler)
        try:
            with pytest.raises(BuildError) as err:
                refuse_secrets({"": root})
        finally:
            logging.getLogger("dockyard").removeHandler(caplog.handler)
    message = str(err.value)
    assert "oeilnc_geoindicator/gee_credentials.json:5: gcp-service-account-key" in message
    assert "hunter2" not in message and "MIIE" not in message
    assert "[secrets] allow" in err.value.hint
    assert "test_key.pem" not in message   # under tests/: a warning, not a stop
    assert any("tests/data/test_key.pem" in r.getMessage() for r in caplog.records)


def test_dockyard_toml_allows_a_file_meant_to_ship(tmp_path):
    root = _oeilnc(tmp_path / "project")
    refuse_secrets({"": root}, ("oeilnc_geoindicator/gee_credentials.json",))
    refuse_secrets({"": root}, ("*/gee_credentials.json",))
    dep = tmp_path / "dep"
    dep.mkdir()
    (dep / "key.json").write_bytes(service_account())
    with pytest.raises(BuildError, match="xrpatch:key.json:5"):
        refuse_secrets({"xrpatch": dep})
    refuse_secrets({"xrpatch": dep}, ("xrpatch:key.json",))


def test_allow_is_read_from_dockyard_toml(tmp_path):
    from dockyard.sources import read_settings

    path = tmp_path / "dockyard.toml"
    path.write_text('[secrets]\nallow = ["tests/data/*.pem"]\n')
    assert read_settings(path).allow_secrets == ("tests/data/*.pem",)
    path.write_text('[secrets]\nallow = "x"\n')
    with pytest.raises(Exception, match="secrets.allow: expected a list"):
        read_settings(path)


@pytest.mark.network
@pytest.mark.podman
def test_dockyard_build_refuses_before_building_and_leaves_nothing(tmp_path, platform_base):
    """The whole command on the bundled example with a key dropped in its package."""
    import shutil

    from dockyard.testing.cli import run_cli
    from dockyard.testing.example import default_dest, example_env, make_example

    dest = default_dest()
    project = tmp_path / "minicase"
    shutil.copytree(make_example(dest), project)
    (project / "minicase" / "gee_credentials.json").write_bytes(service_account())
    env = example_env(dest)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        code, out = run_cli("lock", "--project", str(project))
        assert code == 0, out
        out_dir = tmp_path / "context"
        code, out = run_cli("build", "--base", platform_base, "--project", str(project),
                            "--containerfile-only", str(out_dir))
    assert code == 2, out
    assert "minicase/gee_credentials.json:5: gcp-service-account-key" in out
    assert "hunter2" not in out
    assert not out_dir.exists(), "a half-written context was left"


# ---- check: a live credential, a package's own test key, a cached copy --------------------

def _record(site: str, dist: str, files: list[str]) -> bytes:
    return "".join(f"{f},sha256=x,1\n" for f in files).encode()


def test_check_tells_live_keys_from_test_keys_and_caches(tmp_path):
    key = CASES[1][1]
    site = "usr/local/lib/python3.12/site-packages"
    files = {
        f"{site}/tornado/test/test.key": key,                        # tornado's own test key
        f"{site}/tornado-6.4.dist-info/RECORD": _record(site, "tornado",
                                                        ["tornado/test/test.key"]),
        f"{site}/tornado-6.4.dist-info/METADATA": b"Name: tornado\nVersion: 6.4\n",
        "root/.cache/uv/archive-v0/Ab12/tornado/test/test.key": key,  # a copy in uv's cache
        "app/tests/fixtures/dev.pem": key,                           # a project's fixture
        "app/oeilnc_geoindicator/gee_credentials.json": service_account(),  # live
        "app/config.yaml": b"storage: https://u:hunter2-live@minio.example/bucket\n",   # live
    }
    archive = A.docker_archive(tmp_path / "img.tar", [A.tar(files)])
    report = audit(f"docker-archive:{archive}")
    secret = [f for f in report.findings if f.code == "secret"]
    errors = [f for f in secret if f.severity == "error"]
    assert {p for f in errors for p in f.paths} == {
        "/app/oeilnc_geoindicator/gee_credentials.json:5", "/app/config.yaml:1"}
    assert all("rotate it now" in f.hint for f in errors)
    by_title = {f.title: f for f in secret if f.severity != "error"}
    package = next(f for t, f in by_title.items() if "installed packages" in t)
    assert package.severity == "info" and any("tornado" in d for d in package.details)
    cache = next(f for t, f in by_title.items() if "package caches" in t)
    assert cache.severity == "info" and "uv/archive-v0" in cache.paths[0]
    fixture = next(f for t, f in by_title.items() if "test or example" in t)
    assert fixture.severity == "warning" and fixture.paths == ("/app/tests/fixtures/dev.pem",)
    assert "hunter2" not in repr(report)


def test_a_key_deleted_by_a_later_layer_is_still_reported(tmp_path):
    first = A.tar({"app/gee_credentials.json": service_account()})
    second = A.tar({"app/.wh.gee_credentials.json": b""})
    archive = A.docker_archive(tmp_path / "img.tar", [first, second])
    report = audit(f"docker-archive:{archive}")
    [finding] = [f for f in report.findings if f.code == "secret"]
    assert finding.severity == "error" and "deleted by a later layer" in finding.title


def test_classify():
    assert classify("/x/site-packages/a/k.pem", "tornado")[0] == "package"
    assert classify("/root/.cache/pip/http-v2/a/b")[0] == "cache"
    assert classify("/opt/conda/pkgs/tornado-6.4/info/test/k.pem")[0] == "cache"
    assert classify("/app/tests/k.pem")[0] == "test"
    assert classify("/app/k.pem")[0] == "live"


def test_the_check_command_names_path_and_kind_never_the_value(tmp_path):
    archive = A.docker_archive(tmp_path / "img.tar",
                               [A.tar({"srv/gee_credentials.json": service_account()})])
    from .procs import DOCKYARD

    done = subprocess.run([*DOCKYARD, "check", f"docker-archive:{archive}"],
                          capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "gcp-service-account-key" in out and "/srv/gee_credentials.json" in out
    assert "hunter2" not in out and "MIIE" not in out
