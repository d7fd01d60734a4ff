"""A real OCI registry on loopback (Debian's `docker-registry`), for tests and demos.

    with local_registry() as reg:          # reg.host == "127.0.0.1:PORT"
        engine.cli("push", "--tls-verify=false", "img", f"docker://{reg.host}/app:1")
        check(f"docker://{reg.host}/app:1", tls_verify=False)

The registry stores blobs in a temporary directory, listens on a free port,
answers `/v2/` before the context is entered, and is stopped (and its storage
removed) on exit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""
AUTH = """\
auth:
  htpasswd:
    realm: dockyard-test
    path: {path}
"""


@dataclass(frozen=True, slots=True)
class Registry:
    host: str        # "127.0.0.1:PORT"
    root: Path       # where blobs live
    auth: tuple[str, str] | None = None  # (user, password) when basic auth is on

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def ref(self, name: str) -> str:
        """`docker://127.0.0.1:PORT/name:tag` for a name like "app:1"."""
        return f"docker://{self.host}/{name}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary() -> str:
    for candidate in ("docker-registry", "/usr/bin/docker-registry", "registry"):
        found = shutil.which(candidate)
        if found:
            return found
    raise RuntimeError("docker-registry is not installed (apt-get install docker-registry; "
                       "scripts/setup does it)")


def _htpasswd(path: Path, user: str, password: str) -> None:
    import bcrypt  # the registry reads bcrypt entries only

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"{user}:{hashed}\n")


@contextlib.contextmanager
def local_registry(timeout: float = 30.0,
                   auth: tuple[str, str] | None = None) -> Iterator[Registry]:
    """Start a registry on 127.0.0.1:<free port>; yield it once /v2/ answers; stop it.
    With `auth=(user, password)` it asks for HTTP basic auth (an htpasswd file)."""
    binary = _binary()
    root = Path(tempfile.mkdtemp(prefix="dockyard-registry-"))
    port = _free_port()
    config = root / "config.yml"
    (root / "storage").mkdir()
    text = CONFIG.format(root=root / "storage", port=port)
    if auth:
        _htpasswd(root / "htpasswd", *auth)
        text += AUTH.format(path=root / "htpasswd")
    config.write_text(text)
    log = open(root / "registry.log", "wb")
    # the registry reads REGISTRY_* variables as configuration (REGISTRY_AUTH_FILE, which
    # podman uses for its credentials, would become its `auth` section): none of those
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
                            env=env)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited ({proc.returncode}): "
                                   + (root / "registry.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as r:
                    if r.status == 200:
                        break
            except urllib.error.HTTPError as exc:
                if exc.code == 401 and auth:  # up, and asking for credentials
                    break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not answer on port {port} "
                                   f"within {timeout:.0f}s")
            time.sleep(0.1)
        yield Registry(host=f"127.0.0.1:{port}", root=root / "storage", auth=auth)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)
