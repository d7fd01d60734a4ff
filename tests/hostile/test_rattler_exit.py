"""No abort at exit after a conda channel error (py-rattler's threads and finalization).

One channel answers slowly, the other is unreachable: the solve fails while a
tokio thread still completes the coroutine. Without `dockyard.aio.run` about 1
run in 10 ended in `Fatal Python error: PyGILState_Release` or a segfault.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import random
import subprocess
import sys
import threading
import time

import pytest

from dockyard.testing.channel import CondaPackage, build_channel

RUNS = 30

SCRIPT = """
import sys
from dockyard.errors import DockyardError
from dockyard.lock.conda import Request, solve
try:
    solve(Request(specs=("python",), channels=(sys.argv[1], sys.argv[2])))
except DockyardError as exc:
    print("clean error:", str(exc).splitlines()[0])
"""


class _Slow(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass

    def do_GET(self):
        time.sleep(random.random() * 0.2)
        super().do_GET()


@contextlib.contextmanager
def slow_channel(directory):
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Slow, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_channel_error_never_aborts_the_interpreter(tmp_path, closed_port):
    build_channel(tmp_path / "channel", [CondaPackage("python", "3.12.11")])
    random.seed(10)
    with slow_channel(tmp_path / "channel") as url:
        for i in range(RUNS):
            done = subprocess.run(
                [sys.executable, "-c", SCRIPT, url, f"http://127.0.0.1:{closed_port}/x"],
                capture_output=True, text=True, timeout=60,
                env={"XDG_CACHE_HOME": str(tmp_path / f"cache{i}"), "PATH": "/usr/bin:/bin"})
            assert done.returncode == 0, (i, done.returncode, done.stderr[-2000:])
            assert "clean error: " in done.stdout and "Fatal" not in done.stderr


@pytest.fixture
def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
