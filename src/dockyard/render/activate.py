"""Run in the builder stage: put a conda environment's activation into its kernel spec.

    python activate.py KERNEL_JSON_IN KERNEL_DIR_OUT PREFIX

conda packages may set variables when their environment is activated
(`etc/conda/activate.d/*.sh`: esmf sets ESMFMKFILE, which esmpy needs). A kernel
is started by the base's Jupyter, never through `conda activate`, so the
variables those scripts set are written into kernel.json's "env" instead.
Standard library only: it runs with the environment's own interpreter.
"""

import json
import os
import subprocess
import sys

IGNORED = {"PWD", "OLDPWD", "SHLVL", "_"}


def activation_env(prefix):
    scripts = os.path.join(prefix, "etc", "conda", "activate.d")
    found = sorted(f for f in os.listdir(scripts) if f.endswith(".sh")) \
        if os.path.isdir(scripts) else []
    if not found:
        return {}
    before = {**os.environ, "CONDA_PREFIX": prefix}
    script = "".join(f'. "{os.path.join(scripts, f)}"\n' for f in found) + "env -0\n"
    out = subprocess.run(["/bin/sh", "-c", script], env=before, capture_output=True,
                         check=True).stdout.decode()
    after = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    env = {k: v for k, v in after.items() if k not in IGNORED and before.get(k) != v}
    env["CONDA_PREFIX"] = prefix
    return env


def main(src, out_dir, prefix):
    with open(src) as fh:
        spec = json.load(fh)
    env = activation_env(prefix)
    if env:
        spec["env"] = dict(sorted(env.items()))
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "kernel.json"), "w") as fh:
        json.dump(spec, fh, indent=1, sort_keys=True)
        fh.write("\n")
    for name in ("kernel.json", ""):  # a fixed date: the same spec, the same layer
        os.utime(os.path.join(out_dir, name), (315532800, 315532800))
    print("kernel env:", ", ".join(sorted(env)) or "(none)")


if __name__ == "__main__":
    main(*sys.argv[1:4])
