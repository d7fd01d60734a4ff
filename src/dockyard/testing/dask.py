"""Real Dask clusters and notebook kernels from role images, with Podman on loopback.

    with PodmanCluster(engine, "i11") as cluster:
        address = cluster.scheduler(scheduler_image)          # tcp://127.0.0.1:PORT
        cluster.worker(worker_image, hostname="worker-a")     # the image's own CMD
        with notebook_kernel(engine, notebook_image, "app") as run:
            run("import app; ...")                            # -> Execution

Every container runs on the host's network (so the scheduler, the workers,
the notebook's kernel and a client all reach each other on 127.0.0.1, on
ports picked free), under a name made unique by the prefix, and is removed
on exit whatever happened. Workers start with their image's own command
(`dask worker`), told the scheduler's address by DASK_SCHEDULER_ADDRESS, as
the Kubernetes operator does.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import time
import urllib.request
from collections.abc import Iterator

from ..engines import CliEngine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, ready, timeout: float, logs) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.3)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s:\n{logs()[-3000:]}")


class PodmanCluster:
    def __init__(self, engine: CliEngine, prefix: str):
        self.engine = engine
        self.prefix = f"{prefix}-{secrets.token_hex(3)}"
        self.names: list[str] = []
        self.address = ""

    def _run(self, name: str, image: str, args: list[str], options: list[str]) -> str:
        full = f"{self.prefix}-{name}"
        self.names.append(full)
        self.engine.check("run", "-d", "--name", full, "--network", "host", "--hostname", name,
                          *options, image, *args, what="run")
        return full

    def logs(self, name: str) -> str:
        done = self.engine.cli("logs", f"{self.prefix}-{name}")
        return (done.stdout or "") + (done.stderr or "")

    def scheduler(self, image: str, *, hostname: str = "scheduler",
                  timeout: float = 60) -> str:
        """Start a scheduler on a free loopback port; its address once it answers /health."""
        port, dash = free_port(), free_port()

        dask = self.engine.inspect(image)["Config"]["Labels"]["io.dockyard.python"]
        dask = dask.rsplit("/", 1)[0] + "/dask"
        self._run(hostname, image, [dask, "scheduler", "--host", "127.0.0.1", "--port",
                                    str(port), "--dashboard-address", f"127.0.0.1:{dash}"], [])

        def ready() -> bool:
            try:
                with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                        f"http://127.0.0.1:{dash}/health", timeout=2) as r:
                    return r.read() == b"ok"
            except OSError:
                return False

        _wait(f"scheduler {image}", ready, timeout, lambda: self.logs(hostname))
        self.address = f"tcp://127.0.0.1:{port}"
        return self.address

    def worker(self, image: str, *, hostname: str, address: str | None = None,
               timeout: float = 60) -> str:
        """Start a worker with its image's own command; wait until it has registered."""
        address = address or self.address
        self._run(hostname, image, [], ["-e", f"DASK_SCHEDULER_ADDRESS={address}"])
        _wait(f"worker {hostname}", lambda: "Registered to:" in self.logs(hostname), timeout,
              lambda: self.logs(hostname))
        return f"{self.prefix}-{hostname}"

    def stop(self, hostname: str) -> None:
        name = f"{self.prefix}-{hostname}"
        self.engine.cli("rm", "-f", "-t", "2", name)
        if name in self.names:
            self.names.remove(name)

    def __enter__(self) -> PodmanCluster:
        return self

    def __exit__(self, *exc) -> None:
        for name in reversed(self.names):
            self.engine.cli("rm", "-f", "-t", "2", name)
        self.names.clear()


@contextlib.contextmanager
def notebook_kernel(engine: CliEngine, image: str, kernel: str, *,
                    timeout: float = 120) -> Iterator:
    """The notebook image's Jupyter on the host's network, and a runner for its app kernel."""
    from ..verify.jupyter import JupyterClient

    port, token = free_port(), secrets.token_hex(16)
    name = f"dockyard-notebook-{secrets.token_hex(4)}"
    engine.check("run", "-d", "--name", name, "--network", "host", image, "jupyter", "lab",
                 "--no-browser", "--ip", "127.0.0.1", f"--port={port}",
                 f"--ServerApp.token={token}", what="run")
    try:
        client = JupyterClient(f"http://127.0.0.1:{port}", token)
        _wait("jupyter", lambda: client.status() is not None, timeout,
              lambda: engine.cli("logs", name).stderr or "")
        kernel_id = client.start_kernel(kernel)

        def run(code: str, timeout: float = 120):
            return client.execute(kernel_id, code, timeout=timeout)

        yield run
    finally:
        engine.cli("rm", "-f", "-t", "2", name)
