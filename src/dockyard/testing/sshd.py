"""SSH hosts for tests: containers running Debian's own openssh-server, on loopback ports.

    with ssh_hosts(engine, ["host1", "host2"], tmp) as hosts:
        hosts.config      # an ssh_config naming host1, host2 (port, user, key)
        hosts["host1"].exec("ls /opt/envs")   # as root, through the engine (for set-up)

The image (built once, tagged by its Containerfile's hash) is Debian trixie
minbase plus `openssh-server` and the shared libraries a CPython build links
(libffi, libssl, libsqlite3, readline: the bundled example's conda python
takes them from the system, as a distribution's python3 would), with a user
`dask` who owns /opt/envs. It has no Python at all: a pack brings its own. The key pair is
made for the test (ssh-keygen), the host keys are the image's, and every port
is published on 127.0.0.1 only. /opt/envs is a tmpfs (owned by `dask`): what
tests install there goes with the container at once (removing a container
whose own layer holds a few environments takes podman half a minute).
"""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..engines import CliEngine
from . import machine_lock
from .rootfs import debian_image

REPO = "localhost/dockyard-i12/sshd"
USER = "dask"

_CONTAINERFILE = """\
# dockyard test host: Debian's openssh-server, a user {user} who owns /opt/envs, no Python.
FROM {debian}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server \\
      libffi8 libssl3t64 libsqlite3-0 libreadline8t64 libbz2-1.0 \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \\
 && useradd --create-home --shell /bin/sh {user} \\
 && mkdir -p /run/sshd /opt/envs /home/{user}/.ssh && chown {user} /opt/envs /home/{user}/.ssh \\
 && chmod 700 /home/{user}/.ssh
CMD ["/usr/sbin/sshd", "-D", "-e"]
"""


def sshd_image(engine: CliEngine) -> str:
    debian = debian_image(engine, "trixie")
    text = _CONTAINERFILE.format(debian=debian, user=USER)
    tag = f"{REPO}:{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    if engine.exists(tag):
        return tag
    with machine_lock(Path(tempfile.gettempdir()) / "dockyard-test-sshd.lock"):
        if not engine.exists(tag):
            with tempfile.TemporaryDirectory(prefix="dockyard-sshd-") as ctx:
                Path(ctx, "Containerfile").write_text(text)
                engine.build(ctx, containerfile=str(Path(ctx, "Containerfile")), tag=tag)
    return tag


@dataclass
class TestHost:
    name: str
    container: str
    port: int
    engine: CliEngine = field(repr=False)

    def exec(self, script: str, *, user: str = "root", check: bool = True
             ) -> subprocess.CompletedProcess:
        done = subprocess.run([self.engine.binary, "exec", "--user", user, self.container,
                               "sh", "-c", script], capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"{self.name}: {script!r} failed: {done.stderr.strip()}")
        return done


@dataclass
class TestHosts:
    config: Path  # ssh_config with a Host entry per name
    key: Path
    hosts: dict[str, TestHost]

    def __getitem__(self, name: str) -> TestHost:
        return self.hosts[name]


@contextlib.contextmanager
def ssh_hosts(engine: CliEngine, names: Sequence[str], workdir: Path) -> Iterator[TestHosts]:
    image = sshd_image(engine)
    workdir = Path(workdir)
    key = workdir / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dockyard-test",
                    "-f", str(key)], check=True, capture_output=True)
    pub = key.with_suffix(".pub").read_text()
    hosts: dict[str, TestHost] = {}
    try:
        for name in names:
            container = f"dockyard-i12-sshd-{name}-{uuid.uuid4().hex[:8]}"
            engine.check("run", "-d", "--name", container, "-p", "127.0.0.1::22",
                         "--tmpfs", "/opt/envs:rw,size=4g,mode=0755", image,
                         what=f"starting the test host {name}")
            port = int(engine.check("port", container, "22/tcp").stdout.strip()
                       .rsplit(":", 1)[-1])
            host = TestHost(name, container, port, engine)
            hosts[name] = host
            host.exec(f"chown {USER} /opt/envs")
            subprocess.run([engine.binary, "exec", "-i", "--user", USER, container, "sh", "-c",
                            "cat > ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys"],
                           input=pub, text=True, check=True, capture_output=True)
        config = workdir / "ssh_config"
        config.write_text("".join(
            f"Host {h.name}\n  HostName 127.0.0.1\n  Port {h.port}\n  User {USER}\n"
            f"  IdentityFile {key}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n"
            f"  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n" for h in hosts.values()))
        for h in hosts.values():
            _wait(config, h.name)
        yield TestHosts(config, key, hosts)
    finally:
        for h in hosts.values():
            engine.cli("rm", "-f", "-t", "0", h.container)


def _wait(config: Path, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        done = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", name, "true"],
                              capture_output=True, text=True)
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"ssh to the test host {name} failed: {done.stderr.strip()}")
        time.sleep(0.3)
