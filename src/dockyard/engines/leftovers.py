"""Remove what a stopped `podman build` left: its RUN step's processes and working containers.

    python -m dockyard.engines.leftovers PODMAN MARKER TMPDIR

`CliEngine.build` runs this (itself, or through dockyard's watchdog when
dockyard was killed) only when a build did not finish. The build was started
with `--add-host MARKER:127.0.0.1` and `TMPDIR=TMPDIR`, so:

- its RUN steps are OCI runtime containers whose bundle lies under TMPDIR:
  they are deleted with `RUNTIME delete --force` (which kills them);
- its working containers record MARKER in their buildah.json
  (`CommonBuildOpts.AddHost`): they are removed with `podman rm -f`.

Nothing else is touched, so builds running beside it are safe. A command,
not a function, so that the watchdog can run it after dockyard is gone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

RUNTIMES = ("runc", "crun")


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL)


def runtime_containers(runtime: str, tmpdir: str) -> list[str]:
    """IDs of the runtime's containers whose bundle is under `tmpdir`."""
    done = _run([runtime, "list", "--format", "json"])
    if done.returncode != 0 or not done.stdout.strip():
        return []
    try:
        listed = json.loads(done.stdout) or []
    except ValueError:
        return []
    root = os.path.realpath(tmpdir) + os.sep
    return [c["id"] for c in listed if isinstance(c, dict) and "id" in c
            and os.path.realpath(str(c.get("bundle", ""))).startswith(root)]


def marked_containers(podman: str, marker: str) -> list[str]:
    """IDs of the working containers whose build options carry `marker`."""
    info = _run([podman, "info", "--format", "{{.Store.GraphRoot}}|{{.Store.GraphDriverName}}"])
    root, _, driver = info.stdout.strip().partition("|")
    listed = _run([podman, "ps", "-a", "--external", "--no-trunc", "--format", "{{.ID}}"])
    if info.returncode != 0 or listed.returncode != 0 or not root:
        return []
    out = []
    for cid in listed.stdout.split():
        path = Path(root, f"{driver}-containers", cid, "userdata", "buildah.json")
        try:
            opts = json.loads(path.read_text()).get("CommonBuildOpts") or {}
        except (OSError, ValueError):
            continue
        if any(str(h).split(":", 1)[0] == marker for h in opts.get("AddHost") or ()):
            out.append(cid)
    return out


def clean(podman: str, marker: str, tmpdir: str) -> list[str]:
    """Remove them; what was removed, for the log."""
    removed = []
    for runtime in RUNTIMES:
        path = shutil.which(runtime) or (f"/usr/sbin/{runtime}"
                                         if os.access(f"/usr/sbin/{runtime}", os.X_OK) else None)
        if path is None:
            continue
        for cid in runtime_containers(path, tmpdir):
            if _run([path, "delete", "--force", cid]).returncode == 0:
                removed.append(f"{runtime} {cid}")
    for cid in marked_containers(podman, marker):
        if _run([podman, "rm", "-f", cid]).returncode == 0:
            removed.append(f"working container {cid[:12]}")
    return removed


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    for line in clean(*argv):
        print(f"removed {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
