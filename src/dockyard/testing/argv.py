"""Every call of some commands recorded, by shims put first on PATH (tests).

    rec = ArgvRecorder(tmp, ["ssh", "git"])
    monkeypatch.setenv("PATH", rec.path())
    ...                                   # run dockyard: it, uv and git find the shims
    rec.calls("ssh")                      # [["ssh", "-o", "BatchMode=yes", ...], ...]

A shim is a POSIX sh script that writes its argv (NUL-separated) to a file of
its own, then execs the real command, found on PATH when the recorder was
made. So a call is recorded as the kernel passed it, whichever process made
it (dockyard, uv, git), and then runs for real.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterable
from pathlib import Path

_SHIM = """\
#!/bin/sh
# records its arguments (dockyard tests), then runs the real {name}
log=$(mktemp {logs}/{name}.XXXXXXXX)
{{ printf '%s\\0' "$0" "$@"; }} > "$log"
exec {real} "$@"
"""


class ArgvRecorder:
    def __init__(self, workdir: str | os.PathLike[str], names: Iterable[str]):
        self.bin = Path(workdir) / "argv-bin"
        self.logs = Path(workdir) / "argv-logs"
        self.bin.mkdir(parents=True)
        self.logs.mkdir(parents=True)
        self.base_path = os.environ.get("PATH", "")
        for name in names:
            real = shutil.which(name, path=self.base_path)
            if real is None:
                raise RuntimeError(f"{name} is not on PATH: nothing to record")
            shim = self.bin / name
            shim.write_text(_SHIM.format(name=name, real=shlex.quote(real),
                                         logs=shlex.quote(str(self.logs))))
            shim.chmod(0o755)

    def path(self) -> str:
        """PATH with the shims first."""
        return f"{self.bin}{os.pathsep}{self.base_path}"

    def calls(self, name: str) -> list[list[str]]:
        """Every recorded call of `name`, oldest first; argv[0] is the name."""
        files = sorted(self.logs.glob(f"{name}.*"), key=lambda p: p.stat().st_mtime_ns)
        out = []
        for f in files:
            args = f.read_bytes().split(b"\0")[:-1]
            out.append([name] + [a.decode(errors="replace") for a in args[1:]])
        return out

    def raw(self) -> bytes:
        """Every recorded byte, for a search."""
        return b"".join(f.read_bytes() for f in sorted(self.logs.iterdir()))
