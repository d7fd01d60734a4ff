"""The pure middle of `dockyard check` (and the layer reader) on layers made in memory."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from dockyard.audit import Policy, build_inventory, run_checks
from dockyard.audit.model import ImageConfig, RawImage
from dockyard.audit.registry import split_ref
from dockyard.audit.scan import HASH_MIN, scan_layer
from dockyard.audit.secrets import mask, scan_text
from dockyard.audit.sources import parse_ref, raw_image
from dockyard.audit.units import human, parse_size
from dockyard.errors import AuditError


def layer(files: dict[str, bytes | str | None], *, compress: str = "",
          links: dict[str, str] | None = None, fmt=tarfile.PAX_FORMAT,
          modes: dict[str, int] | None = None) -> io.BytesIO:
    """A layer tar: path -> content (None: a directory); links: path -> symlink target;
    modes: path -> permission bits (default 0o644, folders 0o755)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.mode = (modes or {}).get(path, 0o755 if data is None else 0o644)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
                continue
            raw = data.encode() if isinstance(data, str) else data
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
        for path, target in (links or {}).items():
            info = tarfile.TarInfo(path)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    data = buf.getvalue()
    if compress == "gzip":
        data = gzip.compress(data)
    elif compress == "zstd":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    return io.BytesIO(data)


def image(*layers: dict, config: dict | None = None, **kw) -> RawImage:
    scans = [scan_layer(layer(f, **kw), f"sha256:{i}") for i, f in enumerate(layers)]
    diff_ids = [f"sha256:{i:064x}" for i in range(len(layers))]
    conf = {"config": {}, "rootfs": {"diff_ids": diff_ids}, **(config or {})}
    return raw_image("test", conf, scans)


@pytest.mark.parametrize("compress", ["", "gzip", "zstd"])
def test_scan_reads_plain_gzip_and_zstd_layers(compress):
    big = bytes(range(256)) * (HASH_MIN // 256 + 10)
    long_name = "opt/" + "d" * 120 + "/file.txt"
    scan = scan_layer(layer({"usr/": None, "usr/lib/big.so": big, long_name: "x" * 10,
                             "etc/.wh.old.conf": "", "var/cache/.wh..wh..opq": ""},
                            compress=compress, links={"usr/lib/link.so": "big.so"}), "l0")
    by_path = {e.path: e for e in scan.entries}
    assert by_path["/usr/lib/big.so"].sha256 == hashlib.sha256(big).hexdigest()
    assert by_path["/" + long_name].size == 10
    assert by_path["/usr/lib/link.so"].link == "big.so"
    assert scan.whiteouts == ("/etc/old.conf",) and scan.opaques == ("/var/cache",)
    assert scan.size == len(big) + 10


def test_scan_of_gnu_format_and_broken_layer():
    scan = scan_layer(layer({"a/" + "n" * 150: "abc"}, fmt=tarfile.GNU_FORMAT), "l0")
    assert scan.entries[0].path == "/a/" + "n" * 150
    with pytest.raises(AuditError, match="not a readable tar"):
        scan_layer(io.BytesIO(b"garbage" * 200), "bad")


def test_overlay_overwrites_whiteouts_and_opaque_dirs():
    raw = image({"app/": None, "app/a.bin": "a" * 100, "app/sub/b.bin": "b" * 50,
                 "cache/x": "x" * 30, "keep": "k"},
                {"app/a.bin": "A" * 10, "app/.wh.sub": "", "cache/.wh..wh..opq": "",
                 "cache/y": "y"})
    inv = build_inventory(raw)
    assert inv.total == 100 + 50 + 30 + 1 + 10 + 1
    assert inv.final == 10 + 1 + 1
    how = {(r.path, r.how, r.layer, r.by) for r in inv.removed}
    assert how == {("/app/a.bin", "overwritten", 0, 1), ("/app/sub/b.bin", "deleted", 0, 1),
                   ("/cache/x", "deleted", 0, 1)}
    assert inv.layers[0].wasted == 180 and inv.layers[1].wasted == 0
    [wasted] = [f for f in run_checks(inv, Policy()) if f.code == "wasted-bytes"]
    assert wasted.size == 180


SITE = "opt/py/lib/python3.13/site-packages"


def dist(site: str, name: str, version: str, files: dict[str, str], installer: str = "pip"):
    info = f"{site}/{name}-{version}.dist-info"
    record = "".join(f"{p},,\n" for p in files) + f"{name}-{version}.dist-info/RECORD,,\n"
    out = {f"{site}/{p}": c for p, c in files.items()}
    out[f"{info}/RECORD"] = record
    out[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody"
    out[f"{info}/INSTALLER"] = installer + "\n"
    return out


def test_kernel_missing_then_registered():
    base = {**dist(SITE, "jupyterlab", "4.3.0", {"jupyterlab/__init__.py": "x" * 10}),
            "opt/py/share/jupyter/kernels/python3/kernel.json":
                json.dumps({"argv": ["/opt/py/bin/python", "-m", "ipykernel_launcher"]})}
    app = {**dist("opt/app/lib/python3.12/site-packages", "numpy", "2.0", {"numpy/a.so": "n" * 99}),
           "opt/app/pyvenv.cfg": "home = /usr/bin\n"}
    base_raw = image(base)
    base_conf = base_raw.config
    inv = build_inventory(image(base, app), base_conf)
    codes = {f.code for f in run_checks(inv, Policy(base_ref="base"))}
    assert "kernel-missing" in codes and "cmd-changed" not in codes
    kernel = {"opt/py/share/jupyter/kernels/app/kernel.json":
              json.dumps({"argv": ["/opt/app/bin/python", "-m", "ipykernel_launcher"]})}
    hidden = {"opt/app/share/jupyter/kernels/app/kernel.json":
              json.dumps({"argv": ["/opt/app/bin/python", "-m", "ipykernel_launcher"]})}
    inv = build_inventory(image(base, app, hidden), base_conf)
    [missing] = [f for f in run_checks(inv, Policy(base_ref="b")) if f.code == "kernel-missing"]
    assert any("not where the base's Jupyter looks" in d for d in missing.details)
    inv = build_inventory(image(base, app, kernel), base_conf)
    assert "kernel-missing" not in {f.code for f in run_checks(inv, Policy(base_ref="base"))}
    envs = {e.prefix: (e.kind, e.from_base, e.python) for e in inv.environments}
    assert envs == {"/opt/py": ("python", True, "3.13"), "/opt/app": ("venv", False, "3.12")}


def test_contract_against_a_non_root_base_and_not_on_base():
    base = ImageConfig(user="1000", cmd=("jupyter", "lab"), diff_ids=("sha256:" + "0" * 64,))
    raw = image({"a": "1"}, config={"config": {"User": "root", "Cmd": ["jupyter", "lab"],
                                               "Entrypoint": ["/bin/sh"]}})
    found = {f.code: f for f in run_checks(build_inventory(raw, base), Policy(base_ref="b"))}
    assert found["runs-as-root"].severity == "error"
    assert found["entrypoint-changed"].severity == "error"
    assert "cmd-changed" not in found
    other = ImageConfig(user="1000", diff_ids=("sha256:" + "9" * 64,))
    found = {f.code for f in run_checks(build_inventory(raw, other), Policy(base_ref="b"))}
    assert "not-on-base" in found


SECRETS = {
    ".netrc": "machine pypi.example.org login me password hunter2-netrc\n",
    "pip.ini": "[global]\nextra-index-url = https://me:hunter2-url@example.org/simple\n",
    ".condarc": "channels: [x]\npassword: hunter2-conda\n",
    "credentials": "[default]\naws_access_key_id = AKIAABCDEFGHIJKLMNOP\n"
                   "aws_secret_access_key = hunter2hunter2hunter2hunter2hunter2hunt\n",
    "id_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----\nhunter2key\n"
                  "-----END OPENSSH PRIVATE KEY-----\n",
    "service-account.json": '{"type": "service_account", "private_key_id": "x",\n'
                            '"private_key": "-----BEGIN PRIVATE KEY-----\\nhunter2\\n"}\n',
    "uv.toml": '[[index]]\nurl = "https://user:hunter2-uv@example.org/simple"\n',
}


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_secrets_found_and_never_kept(name):
    path = f"root/.aws/{name}" if name == "credentials" else f"root/{name}"
    raw = image({path: SECRETS[name]})
    hits = raw.layers[0].secrets
    assert hits, name
    for hit in hits:
        assert "hunter2" not in hit.preview and "ABCDEFGHIJKLMNOP" not in hit.preview
    inv = build_inventory(raw)
    text = repr(run_checks(inv, Policy())) + repr(inv)
    assert "hunter2" not in text and "ABCDEFGHIJKLMNOP" not in text


def test_env_and_history_secrets_are_masked():
    config = {"config": {"Env": ["PIP_INDEX_URL=https://u:hunter2@x.org/simple",
                                 "HF_TOKEN=hunter2hf", "PATH=/usr/bin"]},
              "history": [{"created_by": "RUN curl -H 'x' https://tok:hunter2@h.org/f"}]}
    raw = image({"a": "1"}, config=config)
    assert {h.where for h in raw.secrets} == {"ENV PIP_INDEX_URL", "ENV HF_TOKEN", "history[0]"}
    inv = build_inventory(raw)
    assert "hunter2" not in repr(inv) + repr(run_checks(inv, Policy()))
    assert "PATH=/usr/bin" in inv.config.env
    assert mask("token = abc123") == "token = ***"
    assert scan_text("x", "nothing here") == []


def test_sizes_and_refs():
    assert parse_size("20GB") == 20 * 10**9 and parse_size("1.5GiB") == int(1.5 * 2**30)
    with pytest.raises(AuditError):
        parse_size("big")
    assert human(1_234_567) == "1.2 MB"
    assert parse_ref("myapp:1").transport == "containers-storage"
    assert parse_ref("oci:dir:tag").name == "tag"
    assert parse_ref("docker://h:5000/a/b:1").target == "h:5000/a/b:1"
    assert split_ref("h:5000/a/b:1") == ("h:5000", "a/b", "1")
    assert split_ref("h:5000/a/b") == ("h:5000", "a/b", "latest")
    with pytest.raises(AuditError):
        split_ref("noregistry/x")


def test_budget_and_duplicate_library_checks():
    lib = b"L" * (HASH_MIN + 1)
    raw = image({"usr/local/cuda-12.6/lib64/libcublas.so.12.6.4.1": lib},
                {**dist(SITE, "nvidia-cublas-cu12", "12.4.5.8",
                        {"nvidia/cublas/lib/libcublas.so.12": lib.decode()}),
                 f"{SITE}/nvidia/cuda_runtime/lib/libcudart.so.12": "c"},
                {**dist(SITE, "nvidia-cuda-runtime-cu12", "12.4.127", {})})
    inv = build_inventory(raw)
    found = {f.code: f for f in run_checks(inv, Policy(budget=1000, cuda="12.6"))}
    assert found["duplicate-file"].size == len(lib)
    assert found["over-budget"].size == inv.total - 1000
    owners = {c.lib: c.owner for c in inv.cuda}
    assert owners["cublas"] in ("toolkit", "wheel:nvidia-cublas-cu12")


def test_debian_python_packages_are_sized_by_dpkg_lists():
    deb_files = {"usr/lib/python3/dist-packages/numpy/__init__.py": "n" * 300,
                 "usr/lib/python3/dist-packages/numpy/core.so": "c" * 700,
                 "usr/lib/python3/dist-packages/numpy-1.26.4.dist-info/METADATA":
                     "Name: numpy\nVersion: 1.26.4\n\n",
                 "usr/lib/x86_64-linux-gnu/libcudart.so.12.0.146": "r" * 10,
                 "usr/lib/python3.13/os.py": "o" * 5}
    listed = "\n".join(["/usr/lib/python3/dist-packages/numpy",
                        "/usr/lib/python3/dist-packages/numpy-1.26.4.dist-info",
                        *("/" + p for p in deb_files if "numpy" in p)]) + "\n"
    base = {**deb_files, "var/lib/dpkg/info/python3-numpy.list": listed,
            "var/lib/dpkg/info/libcudart12:amd64.list":
                "/usr/lib/x86_64-linux-gnu/libcudart.so.12.0.146\n"}
    pip = dist("usr/local/lib/python3.13/dist-packages", "numpy", "2.2.6", {"numpy/x.so": "x" * 90})
    inv = build_inventory(image(base, pip))
    numpy = {(d.env, d.installer): d.size for d in inv.distributions if d.name == "numpy"}
    metadata = len("Name: numpy\nVersion: 1.26.4\n\n")
    assert numpy[("/usr", "apt:python3-numpy")] == 300 + 700 + metadata
    assert ("/usr/local", "pip") in numpy
    assert {e.prefix: e.python for e in inv.environments} == {"/usr": "3.13", "/usr/local": "3.13"}
    [cudart] = inv.cuda
    assert cudart.owner == "apt:libcudart12" and cudart.version == "12.0.146"
    [dup] = [f for f in run_checks(inv, Policy()) if f.code == "duplicate-distribution"]
    assert "2 environments" in dup.title


def test_caches_and_build_tools():
    base = {"usr/include/stdio.h": "h" * 40, "var/lib/apt/lists/deb.debian.org_main_Packages": "p"}
    app = {"root/.cache/uv/archive-v0/x/a.so": "u" * 70,
           "opt/conda/conda-meta/history": "",
           "opt/conda/pkgs/numpy-2.2.6-py313_0.conda": "c" * 50,
           "opt/conda/pkgs/numpy-2.2.6-py313_0/info/index.json": "{}",
           "usr/bin/gcc-14": "g" * 30, "usr/share/doc/libssl-dev/copyright": "d",
           "var/cache/apt/archives/gcc_14_amd64.deb": "a" * 20}
    raw = image(base, app)
    inv = build_inventory(raw, ImageConfig(diff_ids=raw.config.diff_ids[:1]))
    found = {(f.code, f.title.split(" left")[0]): f for f in run_checks(inv, Policy())}
    assert found[("cache", "uv cache")].size == 70
    assert found[("cache", "conda package cache")].size == 50 + 2
    assert found[("cache", "apt cache")].size == 20
    assert found[("cache", "apt lists")].severity == "info"       # from the base
    tools = next(f for (code, _), f in found.items() if code == "build-tools")
    assert tools.severity == "warning" and tools.size == 40 + 30 + 1
    assert "-dev package: libssl-dev" in tools.details


def test_cuda_versions_from_toolkit_json_and_torch():
    raw = image({"usr/local/cuda-12.6/version.json": json.dumps({"cuda": {"version": "12.6.3"}}),
                 "usr/local/cuda-12.6/lib64/libcudart.so.12": "r" * 10,
                 f"{SITE}/torch/version.py": "__version__ = '2.6.0+cu124'\ncuda = '12.4'\n"})
    inv = build_inventory(raw)
    [lib] = inv.cuda
    assert (lib.owner, lib.version) == ("toolkit", "12.6.3")
    assert inv.torch_cuda == ((f"/{SITE}/torch/version.py", "12.4"),)
    found = run_checks(inv, Policy(cuda="12.6"))
    [mismatch] = [f for f in found if f.code == "cuda-mismatch"]
    assert "torch build" in mismatch.title and "12.4" in mismatch.title
    assert [f for f in found if f.code == "cuda-inconsistent"]


def test_a_dist_info_that_a_conda_record_owns_is_not_a_second_install():
    """conda's esmpy ships a dist-info without RECORD: its conda record lists it."""
    site = "opt/dockyard/env/lib/python3.12/site-packages"
    files = ["lib/python3.12/site-packages/esmpy/__init__.py",
             "lib/python3.12/site-packages/esmpy-8.6.1.dist-info/METADATA",
             "lib/python3.12/site-packages/esmpy-8.6.1.dist-info/INSTALLER"]
    app = {f"{site}/esmpy/__init__.py": "e" * 40,
           f"{site}/esmpy-8.6.1.dist-info/METADATA":
               "Metadata-Version: 2.1\nName: esmpy\nVersion: 8.6.1\n",
           f"{site}/esmpy-8.6.1.dist-info/INSTALLER": "pip\n",  # what conda-build left there
           "opt/dockyard/env/conda-meta/esmpy-8.6.1-py312_0.json":
               json.dumps({"name": "esmpy", "version": "8.6.1", "files": files})}
    inv = build_inventory(image(app))
    assert [(d.name, d.installer) for d in inv.distributions] == [("esmpy", "conda")]
    assert not [f for f in run_checks(inv, Policy()) if f.code == "duplicate-distribution"]


def test_world_writable_files_the_image_adds():
    base = {"tmp/": None, "var/tmp/": None, "opt/base-open": "b"}
    app = {"opt/dockyard/env/": None, "opt/dockyard/env/.lock": "", "opt/dockyard/ok": "x"}
    scans = [scan_layer(layer(base, modes={"tmp/": 0o1777, "var/tmp/": 0o1777,
                                           "opt/base-open": 0o666}), "sha256:0"),
             scan_layer(layer(app, modes={"opt/dockyard/env/.lock": 0o666}), "sha256:1")]
    raw = raw_image("t", {"config": {}, "rootfs": {"diff_ids": ["sha256:" + "0" * 64,
                                                               "sha256:" + "1" * 64]}}, scans)
    inv = build_inventory(raw, ImageConfig(diff_ids=raw.config.diff_ids[:1]))
    found = [f for f in run_checks(inv, Policy()) if f.code == "world-writable"]
    assert [(f.severity, f.paths) for f in found] == [
        ("warning", ("/opt/dockyard/env/.lock",)), ("info", ("/opt/base-open",))]


PASSWD = ("root:x:0:0:root:/root:/bin/bash\n"
          "jovyan:x:1000:100::/home/jovyan:/bin/bash\n")


def _users(user, base_user, env=()):
    base = ImageConfig(user=base_user, diff_ids=("sha256:" + "0" * 64,))
    raw = image({"etc/passwd": PASSWD},
                config={"config": {"User": user, "Env": list(env)},
                        "rootfs": {"diff_ids": ["sha256:" + "0" * 64]}})
    inv = build_inventory(raw, base)
    return {f.code: f for f in run_checks(inv, Policy(base_ref="b"))
            if f.code in ("runs-as-root", "user-changed")}


def test_users_against_the_base_and_the_platform_variables():
    assert _users("jovyan", "1000") == {}  # a name and its uid are the same user
    [changed] = _users("1001", "1000").values()
    assert changed.severity == "error" and "`USER 1000`" in changed.hint
    root = _users("root", "1000")["runs-as-root"]
    assert root.severity == "error" and "`USER 1000`" in root.hint
    assert "USERNAME" not in root.hint  # the advice fits this base, which has no USERNAME
    as_base = _users("", "", ["NB_USER=jovyan"])["runs-as-root"]
    assert as_base.severity == "warning" and "NB_USER is jovyan" in as_base.title
    assert "`USER jovyan`" in as_base.hint
    other = _users("1000", "1000", ["USERNAME=onyxia"])["user-changed"]
    assert other.severity == "warning" and "USERNAME is onyxia" in other.title


def test_cuda_library_versions_are_their_own():
    """triton ships CUPTI and a cudart of its own: its 3.3.1 is not their version, and
    CUPTI's year-numbered soname (2025.1.0) is no CUDA version."""
    triton = dist(SITE, "triton", "3.3.1", {
        "triton/backends/nvidia/lib/cupti/libcupti.so.2025.1.0": "c" * 10,
        "triton/backends/nvidia/lib/libcudart.so.12": "r" * 10})
    cublas = dist(SITE, "nvidia-cublas-cu12", "12.6.4.1",
                  {"nvidia/cublas/lib/libcublas.so.12": "b" * 10})
    inv = build_inventory(image({**triton, **cublas}))
    versions = {c.path.rsplit("/", 1)[1]: (c.version, c.owner) for c in inv.cuda}
    assert versions == {"libcupti.so.2025.1.0": ("", "wheel:triton"),
                        "libcudart.so.12": ("12", "wheel:triton"),
                        "libcublas.so.12": ("12.6.4.1", "wheel:nvidia-cublas-cu12")}
