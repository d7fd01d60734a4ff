"""Jupyter messaging protocol v5 over the server's kernel websocket (pure).

The websocket at `/api/kernels/<id>/channels` carries JSON messages with a
`channel` key. To run code we send one `execute_request` on `shell`, then
read `iopub` messages whose parent is our request: `stream` (stdout/stderr),
`execute_result`, `error`, until `status` goes `idle`.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import dataclass, field

PROTOCOL_VERSION = "5.3"


def execute_request(code: str, *, session: str, msg_id: str | None = None) -> dict:
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
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        "buffers": [],
        "channel": "shell",
    }


@dataclass
class Execution:
    """Collects the replies to one execute_request; `feed` each message, then read."""

    msg_id: str
    stdout: str = ""
    stderr: str = ""
    result: str | None = None
    error: str | None = None  # "Ename: evalue"
    traceback: tuple[str, ...] = ()
    done: bool = False
    reply_status: str | None = None
    died: bool = False  # the kernel died (and the server restarts it) before finishing
    _states: list[str] = field(default_factory=list)

    def feed(self, msg: dict) -> bool:
        """Take one message; True once the execution is over (iopub status idle)."""
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
        elif kind == "status":
            state = content.get("execution_state", "")
            self._states.append(state)
            if state == "idle":
                self.done = True
        return self.done
