"""Jupyter messaging protocol v5 over the server's kernel websocket (pure).

The websocket at `/api/kernels/<id>/channels` carries JSON messages with a
`channel` key. To run code we send one `execute_request` on `shell`, then
read the replies whose parent is our request: on `iopub`, `stream`
(stdout/stderr), `execute_result`, `error`; on `shell`, the `execute_reply`,
which ends the execution and carries the `user_expressions` we asked for.
iopub (a PUB/SUB channel) may drop messages while the server reconnects to
a kernel, so nothing verify needs travels only there.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import dataclass, field

PROTOCOL_VERSION = "5.3"


def execute_request(code: str, *, session: str, msg_id: str | None = None,
                    user_expressions: dict[str, str] | None = None) -> dict:
    return {
        "header": {
            "msg_id": msg_id or uuid.uuid4().hex,
            "msg_type": "execute_request",
            "username": "dockyard",
            "session": session,
            "date": _dt.datetime.now(_dt.UTC).isoformat(),
            "version": PROTOCOL_VERSION,
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": dict(user_expressions or {}),
            "allow_stdin": False,
            "stop_on_error": True,
        },
        "buffers": [],
        "channel": "shell",
    }


@dataclass
class Execution:
    """Collects the replies to one execute_request; `feed` each message until it says
    done (the execute_reply, or the server's notice that the kernel died)."""

    msg_id: str
    stdout: str = ""
    stderr: str = ""
    result: str | None = None
    error: str | None = None  # "Ename: evalue"
    traceback: tuple[str, ...] = ()
    done: bool = False
    reply_status: str | None = None
    expressions: dict = field(default_factory=dict)  # user_expressions name -> text/plain
    died: bool = False  # the kernel died (and the server restarts it) before finishing

    def feed(self, msg: dict) -> bool:
        """Take one message; True once the execution is over."""
        kind = (msg.get("header") or {}).get("msg_type") or msg.get("msg_type")
        content = msg.get("content") or {}
        # The server's own notices of a kernel death carry no parent.
        if kind == "status" and content.get("execution_state") in ("restarting", "dead"):
            self.died = self.done = True
            return True
        if (msg.get("parent_header") or {}).get("msg_id") != self.msg_id:
            return self.done
        if kind == "stream":
            if content.get("name") == "stderr":
                self.stderr += content.get("text", "")
            else:
                self.stdout += content.get("text", "")
        elif kind in ("execute_result", "display_data"):
            self.result = (content.get("data") or {}).get("text/plain")
        elif kind == "error":
            self.error = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"
            self.traceback = tuple(content.get("traceback") or ())
        elif kind == "execute_reply":
            self.reply_status = content.get("status")
            if self.reply_status == "error" and self.error is None:
                self.error = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"
                self.traceback = tuple(content.get("traceback") or ())
            for name, value in (content.get("user_expressions") or {}).items():
                if isinstance(value, dict) and value.get("status") == "ok":
                    self.expressions[name] = (value.get("data") or {}).get("text/plain")
            self.done = True
        return self.done
