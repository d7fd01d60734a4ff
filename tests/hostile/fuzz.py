"""A seeded, time-bounded fuzzer of dockyard's readers (run by test_fuzz.py in a child process).

    python tests/hostile/fuzz.py SEED SECONDS WORKDIR [sources|images|all]

Inputs start from real files (the repository's test projects and example,
archives made with dockyard.testing.archives) and are mutated: bytes flipped,
inserted, deleted, duplicated, cut, lines shuffled, tokens that readers choke
on spliced in (deep nesting, huge numbers, NULs, YAML aliases, `-r` loops).
Each input goes through the public reader (`read_project`, `match_spec`,
`read_image`). A DockyardError is the expected outcome of bad input; anything
else is a bug: the input is saved under WORKDIR/crash-* and the run exits 1
with a JSON line naming it. Peak memory is the parent's to measure.
"""

from __future__ import annotations

import json
import random
import re
import resource
import shutil
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ENVIRONMENT = b"""name: fuzz
channels:
  - conda-forge
  - nodefaults
channel_priority: strict
dependencies:
  - python=3.12.1
  - numpy >=1.26,<2
  - conda-forge::esmpy 8.6.*
  - xesmf[version='>=0.8']
  - libgdal=3.9=*_1
  - pip
  - pip:
    - xarray>=2024.1
    - -r requirements.txt
    - git+https://github.com/example/xrpatcher@v1.0#egg=xrpatcher
"""
REQUIREMENTS = b"""# pinned by hand
--extra-index-url https://download.pytorch.org/whl/cu126
-c constraints.txt
numpy>=1.25,<2
xarray>=2024.1 \\
    --hash=sha256:4f4a8d1b1c56c2e6b6a8a1b2a1f1e2d3c4b5a6978877665544332211aabbccdd
torch==2.7.1 ; sys_platform == "linux"
-e ./local
pkg @ https://example.org/pkg-1.0.tar.gz
"""
SPECS = ["numpy", "numpy >=1.26,<2", "python=3.12.1", "conda-forge::esmpy 8.6.*",
         "libgdal=3.9=*_1", "xesmf[version='>=0.8']", "pytorch=2.5=cuda126*", "cuda-version 12.6.*"]
TOKENS = [b"\0", b"\n", b"\r\n", b'"', b"'", b"[", b"]", b"{", b"}", b"=", b":", b"-", b"#",
          b"\\", b"\t", b" " * 200, b"[" * 5000, b"{" * 5000, b"a" * 100_000, b"9" * 400,
          b"-1", b"1e999", b"nan", "é€𝄞".encode(), b"\xff\xfe", b"&a [*a, *a, *a]",
          b"!!python/object:os.system", b"-r requirements.txt", b"-r ../../../etc/passwd",
          b"-c /etc/shadow", b"git+https://user:s3cr3t-TOKEN@host/x.git", b"@", b"~=",
          b"python>=3.11.0,<3.14.0", b"[tool.poetry]", b"[[package]]", b"- pip:",
          b"dependencies:", b"version = ", b"markers = ", b"source = ", b"://[", b"http://[x]/",
          b"git+https://[::1", b"file:///", b"%", b"%zz", b"..", b"/", b"~", b"\\\n", b" @ ",
          b";", b" and ", b"extra == ", b"*", b"!=", b"||", b"^", b"==="]


def _project_seeds() -> list[dict[str, bytes]]:
    seeds = []
    folders = sorted((ROOT / "tests" / "projects").iterdir())
    for folder in [*folders, ROOT / "examples" / "minicase"]:
        if not folder.is_dir():
            continue
        files = {p.name: p.read_bytes() for p in folder.iterdir()
                 if p.is_file() and p.suffix in (".toml", ".lock", ".txt", ".yml", ".yaml")}
        if files:
            seeds.append(files)
    seeds.append({"environment.yml": ENVIRONMENT, "requirements.txt": REQUIREMENTS,
                  "constraints.txt": b"pyarrow<26\n"})
    seeds.append({"requirements.txt": b"-r requirements.txt\n-r other.txt\n",
                  "other.txt": b"-r requirements.txt\nnumpy\n"})
    seeds.append({"environment.yml": b"a: &a ['x','x','x','x','x','x','x','x','x']\n"
                  + b"".join(b"%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n"
                             % ((98 + i,) * 2 + (97 + i,) * 9) for i in range(9))
                  + b"dependencies: *j\nchannels: *j\n"})
    return seeds


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        how = rng.randrange(9)
        pos = rng.randint(0, len(out))
        if how == 0 and out:                      # flip a byte
            out[min(pos, len(out) - 1)] = rng.randrange(256)
        elif how == 1:                            # splice a token
            out[pos:pos] = rng.choice(TOKENS)
        elif how == 2 and out:                    # delete a range
            del out[pos: pos + rng.randint(1, 64)]
        elif how == 3 and out:                    # duplicate a range
            end = min(len(out), pos + rng.randint(1, 512))
            out[pos:pos] = out[pos:end] * rng.randint(1, 20)
        elif how == 4:                            # cut
            del out[pos:]
        elif how == 5:                            # shuffle lines
            lines = bytes(out).split(b"\n")
            rng.shuffle(lines)
            out = bytearray(b"\n".join(lines))
        elif how == 6:                            # a line repeated
            lines = bytes(out).split(b"\n")
            if lines:
                i = rng.randrange(len(lines))
                lines[i:i] = [lines[i]] * rng.randint(2, 50)
            out = bytearray(b"\n".join(lines))
        elif how == 7 and out:                    # a number made absurd
            out[pos:pos] = str(rng.choice([-1, 0, 2**31, 2**64, 10**30])).encode()
        else:                                     # random bytes
            out[pos:pos] = rng.randbytes(rng.randint(1, 32))
    return bytes(out)


# ---- targets -----------------------------------------------------------------------------

def fuzz_sources(rng: random.Random, work: Path, deadline: float, report) -> int:
    from dockyard.sources import match_spec, read_project
    from dockyard.spec import Origin

    seeds = _project_seeds()
    n = 0
    while time.monotonic() < deadline:
        n += 1
        files = dict(rng.choice(seeds))
        for name in rng.sample(sorted(files), k=rng.randint(1, len(files))):
            files[name] = mutate(rng, files[name])
        root = work / "project"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        for name, data in files.items():
            (root / name).write_bytes(data)
        report("read_project", files, lambda root=root: read_project(root))
        spec = mutate(rng, rng.choice(SPECS).encode()).decode("utf-8", "replace")
        report("match_spec", {"spec": spec.encode()},
               lambda spec=spec: match_spec(spec, Origin("environment.yml", 7)))
    return n


def _image_seeds() -> list[tuple[str, bytes]]:
    from dockyard.testing import archives as A

    files = {"etc/os-release": b"ID=debian\n", "usr/lib/python3.12/site-packages/x.py": b"x=1\n",
             "opt/" + "d" * 120 + "/long.txt": b"long", "root/.netrc": b"machine h password p\n",
             "app/": b""}
    tar = A.tar(files) + A.pax({"path": "pax/name.txt"}) + A.header("ignored", size=0)
    tar2 = A.tar({"usr/lib/.wh.old": b"", "var/.wh..wh..opq": b"", "big": bytes(300_000)})
    work = Path(tempfile_dir())
    oci = A.oci_archive(work / "seed-oci.tar", [A.compress(tar, "gzip"),
                                                A.compress(tar2, "zstd")]).read_bytes()
    docker = A.docker_archive(work / "seed-docker.tar", [tar, tar2]).read_bytes()
    return [("layer", A.compress(tar, "gzip")), ("layer", tar2), ("oci-archive", oci),
            ("docker-archive", docker), ("oci", oci)]


def tempfile_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="dockyard-fuzz-seeds-")


def _oci_dir(data: bytes, dest: Path) -> None:
    """An OCI layout directory from the members of an (mutated) OCI archive."""
    import io
    import tarfile

    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            for m in t.getmembers():
                if m.isfile() and ".." not in m.name and not m.name.startswith("/"):
                    f = t.extractfile(m)
                    if f is not None:
                        (dest / m.name).parent.mkdir(parents=True, exist_ok=True)
                        (dest / m.name).write_bytes(f.read(m.size))
    except (tarfile.TarError, EOFError, OSError, ValueError):
        (dest / "index.json").write_bytes(data[:4096])


def fuzz_images(rng: random.Random, work: Path, deadline: float, report) -> int:
    import io

    from dockyard.audit.scan import scan_layer
    from dockyard.audit.sources import parse_ref, read_image

    seeds = _image_seeds()
    n = 0
    while time.monotonic() < deadline:
        n += 1
        kind, data = rng.choice(seeds)
        data = mutate(rng, data)
        if kind == "layer":
            report("scan_layer", {"layer": data},
                   lambda data=data: scan_layer(io.BytesIO(data), "sha256:fuzz"))
        elif kind == "oci":
            _oci_dir(data, work / "layout")
            report("read_image oci:", {"archive": data},
                   lambda: read_image(parse_ref(f"oci:{work / 'layout'}")))
        else:
            path = work / "image.tar"
            path.write_bytes(data)
            report(f"read_image {kind}:", {"archive": data},
                   lambda kind=kind, path=path: read_image(parse_ref(f"{kind}:{path}")))
    return n


def main(argv: list[str]) -> int:
    from dockyard.errors import DockyardError

    seed, seconds, work = int(argv[0]), float(argv[1]), Path(argv[2])
    which = argv[3] if len(argv) > 3 else "all"
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    crashes: list[dict] = []

    slowest: list[tuple[float, str, str]] = []
    peak = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]

    def report(target: str, inputs: dict[str, bytes], call) -> None:
        t0 = time.monotonic()
        try:
            call()
        except DockyardError:
            pass
        except RecursionError as exc:   # a bug too: nesting must be refused, not recursed
            crashes.append(_save(work, target, inputs, exc))
        except Exception as exc:  # noqa: BLE001 - what the fuzzer is for
            crashes.append(_save(work, target, inputs, exc))
        took = time.monotonic() - t0
        grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak[0]
        if grew > 32 << 10:   # KiB: an input that made the process grow is worth a look
            peak[0] += grew
            slowest.append((0.0, f"{target} grew {grew >> 10} MiB",
                            str(_save(work, target, inputs, None)["inputs"])))
        if took > 1.0:   # slow is a finding too: save it to look at
            slowest.append((round(took, 2), target, str(_save(work, target, inputs, None)
                                                       ["inputs"])))
        if crashes:
            print(json.dumps(crashes[0]), flush=True)
            raise SystemExit(1)

    start = time.monotonic()
    counts = {}
    parts = ["sources", "images"] if which == "all" else [which]
    for i, part in enumerate(parts):
        deadline = start + seconds * (i + 1) / len(parts)
        fn = fuzz_sources if part == "sources" else fuzz_images
        counts[part] = fn(rng, work, deadline, report)
    print(json.dumps({"ok": True, "seed": seed, "inputs": counts,
                      "look_at": sorted(slowest, reverse=True)[:8]}), flush=True)
    return 0


def _save(work: Path, target: str, inputs: dict[str, bytes], exc: BaseException | None
          ) -> dict:
    kind = "crash" if exc is not None else "look"
    folder = work / f"{kind}-{len(list(work.glob(kind + '-*')))}"
    folder.mkdir()
    for name, data in inputs.items():
        (folder / name).write_bytes(data)
    if exc is None:
        return {"target": target, "inputs": str(folder)}
    trace = re.sub(r"(.)\1{20,}", lambda m: m[1] * 5 + "...", traceback.format_exc())
    return {"target": target, "error": f"{type(exc).__name__}: {str(exc)[:300]}",
            "inputs": str(folder), "traceback": trace[-4000:]}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
