"""A small client for a Jupyter server's REST API and kernel websocket (an edge: network).

Only what verify needs: `status`, `kernelspecs`, start/stop a kernel, and run
code in it. Requests go straight to loopback (no proxy), with the token in
an `Authorization` header, never in a URL that could be logged.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid

from ..errors import VerifyError
from .messages import Execution, execute_request


class JupyterClient:
    def __init__(self, base_url: str, token: str | None, *, request_timeout: float = 10):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.request_timeout = request_timeout
        # No proxy for loopback, whatever the environment says.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"} if self.token else {}

    def request(self, method: str, path: str, body: dict | None = None):
        """One REST call; an HTTP error becomes a VerifyError with the server's message."""
        try:
            return self._request(method, path, body)
        except urllib.error.HTTPError as exc:
            raise VerifyError(f"the Jupyter server answered {method} {path} with "
                              f"HTTP {exc.code}: {_server_message(exc)}") from None

    def _request(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {**self._headers(), "Content-Type": "application/json"}
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers=headers)
        with self._opener.open(req, timeout=self.request_timeout) as resp:
            text = resp.read().decode() or "null"
        return json.loads(text)

    def probe(self) -> tuple[str, int | None]:
        """How /api/status answers: ("up", 200), ("auth", 401/403): up, but the token is
        missing or refused, or ("down", None): nothing answers yet (or an HTTP error)."""
        try:
            self._request("GET", "/api/status")
            return "up", 200
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                return "auth", exc.code
            return "down", exc.code
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError):
            return "down", None

    def status(self) -> dict | None:
        """The server's /api/status, or None while it does not answer; a refused token is
        a VerifyError (for callers that know their token; verify itself uses `probe`)."""
        state, code = self.probe()
        if state == "auth":
            raise VerifyError(f"the Jupyter server refused the token (HTTP {code})",
                              hint="pass the token the platform uses with --token")
        return self._request("GET", "/api/status") if state == "up" else None

    def kernelspecs(self) -> dict:
        return self.request("GET", "/api/kernelspecs")

    def start_kernel(self, name: str) -> str:
        return self.request("POST", "/api/kernels", {"name": name})["id"]

    def stop_kernel(self, kernel_id: str) -> None:
        try:
            self.request("DELETE", f"/api/kernels/{kernel_id}")
        except (VerifyError, urllib.error.URLError, OSError, ValueError):
            pass  # the container goes away next anyway

    def execute(self, kernel_id: str, code: str, *, timeout: float,
                user_expressions: dict[str, str] | None = None) -> Execution:
        """Run `code` in the kernel over its websocket and collect what it sends back."""
        import websocket  # websocket-client, imported only when verify runs

        url = self.base_url.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
        session = uuid.uuid4().hex
        msg = execute_request(code, session=session, user_expressions=user_expressions)
        run = Execution(msg_id=msg["header"]["msg_id"])
        deadline = time.monotonic() + timeout
        # the handshake waits for the kernel's channels: slow on a busy machine
        ws = websocket.create_connection(
            url + f"?session_id={session}", header=self._headers(),
            timeout=max(60.0, self.request_timeout), http_no_proxy=["127.0.0.1", "localhost"],
        )
        try:
            ws.send(json.dumps(msg))
            while not run.done:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise VerifyError(
                        f"the kernel did not finish running the checks within {timeout:.0f} s",
                        hint="raise --timeout if the environment is large (imports take time)",
                    )
                ws.settimeout(min(left, 30))
                try:
                    raw = ws.recv()
                except websocket.WebSocketTimeoutException:
                    continue
                except websocket.WebSocketConnectionClosedException:
                    run.died = run.done = True  # the kernel went away with its channels
                    break
                if isinstance(raw, bytes):  # binary frames: buffers we do not ask for
                    continue
                run.feed(json.loads(raw))
        finally:
            ws.close()
        return run


def _server_message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read().decode() or "{}")
    except (ValueError, OSError):
        return exc.reason or ""
    return body.get("message") or body.get("reason") or str(exc.reason)
