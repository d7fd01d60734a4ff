"""Real test images for `dockyard check`, built once per machine (content-hash tags).

The "naive" image is built the way the founding case started, without network
in the build: the host installs real wheels (numpy, packaging,
nvidia-cuda-runtime-cu12) with uv and a real conda environment with py-rattler
from packages made by rattler-build, and the Containerfile COPYs them in:

    layer 0  debian trixie (the base)
    1  system Python: numpy, packaging in /usr/local/lib/python3.13/dist-packages (uv)
    2  /etc/pip.conf with a token in its index-url            (planted)
    3  conda env /opt/conda: numpy + packaging 24.2 as conda records
    4  packaging 25.0 pip-installed into /opt/conda too        (twice in one env)
    5  RUN rm /etc/pip.conf                                    (the token stays in layer 2)
    6  venv /opt/venv: numpy + nvidia-cuda-runtime-cu12 12.4.127
    7  a CUDA 12.4 "toolkit" copy of the same libcudart        (duplicate by content)
    8  a pip cache in /root/.cache/pip                         (planted)
    CMD changed, user root                                      (planted)

`expected` holds what the host computed independently from the staged files
(sizes from the host filesystem), for the tests to compare with.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TOKEN = "s3cr3t-7c41e2f9d0"
PIP_CONF = f"[global]\nindex-url = https://__token__:{TOKEN}@pypi.example.org/simple\n"
WHEELS = {
    "numpy": "numpy==2.2.6", "cudart": "nvidia-cuda-runtime-cu12==12.4.127",
    "packaging": "packaging==25.0", "packaging-old": "packaging==24.2",
}
ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".dockyard-cache" / "audit"
CONTAINERFILE = """\
FROM {base}
COPY system/ /usr/local/lib/python3.13/dist-packages/
COPY pip.conf /etc/pip.conf
COPY conda/ /opt/conda/
COPY conda-pip/ /opt/conda/lib/python3.13/site-packages/
RUN rm /etc/pip.conf
COPY venv/ /opt/venv/
COPY toolkit/ /usr/local/cuda-12.4/targets/x86_64-linux/lib/
COPY pipcache/ /root/.cache/pip/
CMD ["/opt/venv/bin/python", "-m", "app"]
"""


def wheels() -> dict[str, Path]:
    """Download the pinned wheels once (PyPI is reachable from the host)."""
    where = CACHE / "wheels"
    where.mkdir(parents=True, exist_ok=True)
    out = {}
    for key, req in WHEELS.items():
        name, _, version = req.partition("==")
        stem = name.replace("-", "_") + "-" + version + "-"
        found = [p for p in where.glob("*.whl") if p.name.startswith(stem)]
        if not found:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                            "--only-binary=:all:", "--python-version", "3.13",
                            "--platform", "manylinux_2_17_x86_64", "--platform",
                            "manylinux2014_x86_64", req, "-d", str(where)], check=True)
            found = [p for p in where.glob("*.whl") if p.name.startswith(stem)]
        out[key] = found[0]
    return out


def _uv_install(target: Path, *wheel_files: Path) -> None:
    uv = shutil.which("uv") or os.path.join(os.path.dirname(sys.executable), "uv")
    subprocess.run([uv, "pip", "install", "-q", "--target", str(target), "--python-platform",
                    "x86_64-manylinux_2_28", "--python-version", "3.13", "--no-deps",
                    "--offline", *map(str, wheel_files)], check=True)


def record_size(site: Path, dist: str) -> int:
    """Bytes of a dist-info's RECORD files, measured on the host filesystem."""
    info = next(site.glob(f"{dist}-*.dist-info"))
    total = 0
    with open(info / "RECORD", newline="") as f:
        for row in csv.reader(f):
            p = (site / row[0]).resolve()
            if row and p.is_file():
                total += p.stat().st_size
    return total


def _conda_env(work: Path, prefix: Path, staged: dict[str, tuple[str, Path]]) -> None:
    """Real conda packages (rattler-build) installed by py-rattler into `prefix`."""
    import rattler
    from rattler.index import index_fs
    from rattler_build import assemble_package

    channel = work / "channel"
    (channel / "linux-64").mkdir(parents=True)
    (channel / "noarch").mkdir(parents=True)
    for name, (version, files) in staged.items():
        assemble_package(name=name, version=version, target_platform="linux-64",
                         build_string="py313_0", output_dir=str(channel / "linux-64"),
                         files_dir=str(files), compression_level=1)

    async def go() -> None:
        await index_fs(channel_directory=channel, target_platform=rattler.Subdir("linux-64"))
        await index_fs(channel_directory=channel, target_platform=rattler.Subdir("noarch"))
        records = await rattler.solve(sources=[channel.as_uri()], specs=list(staged),
                                      platforms=["linux-64", "noarch"])
        await rattler.install(records, target_prefix=str(prefix), cache_dir=work / "pkgs",
                              execute_link_scripts=False, show_progress=False)

    asyncio.run(go())


def prepare(context: Path) -> dict:
    """Stage the build context; return the sizes computed on the host."""
    w = wheels()
    work = Path(tempfile.mkdtemp(prefix="dockyard-naive-"))
    try:
        system = context / "system"
        _uv_install(system, w["numpy"], w["packaging"])
        (context / "pip.conf").write_text(PIP_CONF)
        staged = {}
        for name, key, version in (("numpy", "numpy", "2.2.6"),
                                   ("packaging", "packaging-old", "24.2")):
            site = work / f"stage-{name}" / "lib" / "python3.13" / "site-packages"
            _uv_install(site, w[key])
            for inst in site.glob("*.dist-info/INSTALLER"):
                inst.write_text("conda\n")
            shutil.rmtree(site / "bin", ignore_errors=True)
            staged[name] = (version, work / f"stage-{name}")
        conda = context / "conda"
        _conda_env(work, conda, staged)
        _uv_install(context / "conda-pip", w["packaging"])
        venv_site = context / "venv" / "lib" / "python3.13" / "site-packages"
        _uv_install(venv_site, w["numpy"], w["cudart"])
        (context / "venv" / "pyvenv.cfg").write_text(
            "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.13.5\n")
        (context / "venv" / "bin").mkdir(exist_ok=True)
        os.symlink("/usr/bin/python3", context / "venv" / "bin" / "python")
        cudart = venv_site / "nvidia" / "cuda_runtime" / "lib" / "libcudart.so.12"
        (context / "toolkit").mkdir()
        shutil.copy(cudart, context / "toolkit" / "libcudart.so.12.4.127")
        cache = context / "pipcache" / "http-v2" / "8" / "3" / "f" / "a" / "c"
        cache.mkdir(parents=True)
        shutil.copy(w["numpy"], cache / "83fac0e1d2b4.body")

        conda_site = conda / "lib" / "python3.13" / "site-packages"
        record = json.loads(next((conda / "conda-meta").glob("numpy-*.json")).read_text())
        return {
            "numpy": {
                "/usr/local": record_size(system, "numpy"),
                "/opt/venv": record_size(venv_site, "numpy"),
                "/opt/conda": sum((conda / f).stat().st_size for f in record["files"]),
            },
            "conda_numpy_files": len(record["files"]),
            "packaging_pip_in_conda": record_size(context / "conda-pip", "packaging"),
            "cudart": cudart.stat().st_size,
            "cudart_sha256": hashlib.sha256(cudart.read_bytes()).hexdigest(),
            "pip_cache": w["numpy"].stat().st_size,
            "conda_site": str(conda_site.relative_to(context)),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def naive_image(engine, base: str) -> tuple[str, dict]:
    """Build (or reuse) the naive image; return its tag and the host-computed sizes."""
    base_id = engine.inspect(base)["Id"]
    key = hashlib.sha256((CONTAINERFILE + json.dumps(WHEELS) + PIP_CONF + base_id
                          + Path(__file__).read_text()).encode()).hexdigest()[:16]
    tag = f"localhost/dockyard-test/naive:{key}"
    facts = CACHE / f"naive-{key}.json"
    if engine.exists(tag) and facts.exists():
        return tag, json.loads(facts.read_text())
    context = Path(tempfile.mkdtemp(prefix="dockyard-naive-ctx-"))
    try:
        expected = prepare(context)
        (context / "Containerfile").write_text(CONTAINERFILE.format(base=base))
        engine.build(str(context), containerfile=str(context / "Containerfile"), tag=tag)
        facts.write_text(json.dumps(expected))
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return tag, expected
