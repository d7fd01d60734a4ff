"""A private git server on loopback: `git http-backend` behind HTTP basic auth.

    with private_git_server() as server:          # a random user and token
        url, commit = server.add_repo("bilbo/privutils", {"pyproject.toml": ..., ...})
        server.credential_env()                   # git (and uv, through git) authenticate

Like the founding case's Azure DevOps server: every request without the right
`Authorization: Basic` header is answered 401 with a challenge, so a client
that has no credential fails, and one that has it (from git's credential
helpers, netrc, or the environment) fetches over the smart HTTP protocol. The
server counts what it refused; its access log never records headers.

`credential_env()` is one way to give the credential through the
environment: git's `credential.helper` set by GIT_CONFIG_* variables to a
shell function that prints $DOCKYARD_TEST_GIT_USER / $DOCKYARD_TEST_GIT_TOKEN,
so the token is in no file, no URL and no command line.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

USER_VAR, TOKEN_VAR = "DOCKYARD_TEST_GIT_USER", "DOCKYARD_TEST_GIT_TOKEN"
_GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "dockyard", "GIT_AUTHOR_EMAIL": "dockyard@example.org",
            "GIT_COMMITTER_NAME": "dockyard", "GIT_COMMITTER_EMAIL": "dockyard@example.org",
            "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
            "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}


def _git(*args: str, cwd: str | Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **_GIT_ENV})
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base's name
        self.server.log.append(f"{self.command} {self.path.split('?', 1)[0]}")

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        if self.headers.get("Authorization") != self.server.expected:
            self.server.refused += 1
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="private git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self._body()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root), "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": urllib.parse.unquote(path), "QUERY_STRING": query,
            "REQUEST_METHOD": self.command, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": self.server.user,
            "REMOTE_ADDR": self.client_address[0],
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
        head, sep, payload = done.stdout.partition(b"\r\n\r\n")
        if not sep:
            head, _, payload = done.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status if done.returncode == 0 else 500)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, user: str, token: str):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root, self.user = root, user
        self.expected = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        self.refused = 0
        self.log: list[str] = []


class GitServer:
    def __init__(self, server: _Server, token: str):
        self._server = server
        self.user, self.token = server.user, token
        self.url = f"http://127.0.0.1:{server.server_address[1]}"

    @property
    def refused(self) -> int:
        return self._server.refused

    @property
    def log(self) -> list[str]:
        return list(self._server.log)

    def add_repo(self, name: str, files: dict[str, str], branch: str = "main") -> tuple[str, str]:
        """A bare repository `name`.git with one commit of `files`; (its URL, the commit)."""
        bare = self._server.root / f"{name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        _git("init", "--quiet", "--bare", f"--initial-branch={branch}", str(bare))
        with tempfile.TemporaryDirectory(prefix="dockyard-gitwork-") as work:
            _git("init", "--quiet", f"--initial-branch={branch}", work)
            for rel, text in files.items():
                path = Path(work, rel)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            _git("add", "-A", cwd=work)
            _git("commit", "--quiet", "-m", "the private package", cwd=work)
            _git("push", "--quiet", str(bare), branch, cwd=work)
            commit = _git("rev-parse", "HEAD", cwd=work)
        return f"{self.url}/{name}.git", commit

    def credential_env(self) -> dict[str, str]:
        """The credential through the environment: a git credential helper reading two
        variables (set here), configured by GIT_CONFIG_* variables."""
        helper = f'!f() {{ echo "username=${USER_VAR}"; echo "password=${TOKEN_VAR}"; }}; f'
        return {USER_VAR: self.user, TOKEN_VAR: self.token, "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "credential.helper", "GIT_CONFIG_VALUE_0": helper}


@contextlib.contextmanager
def private_git_server(user: str = "deploy", token: str | None = None) -> Iterator[GitServer]:
    token = token or "tok" + secrets.token_hex(16)
    if not shutil.which("git"):
        raise RuntimeError("git is not installed (scripts/setup installs it)")
    with tempfile.TemporaryDirectory(prefix="dockyard-gitserver-") as root:
        server = _Server(Path(root), user, token)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield GitServer(server, token)
        finally:
            server.shutdown()
            server.server_close()
