"""Keep credentials out of locks, logs and messages.

Every URL or command line that leaves dockyard (a lock entry, a log record,
an error message) goes through `redact`. Credentials are read back from the
environment or netrc when a tool needs them, never from what we stored.
"""

from __future__ import annotations

import logging
import re

# scheme://user:secret@host  or  scheme://token@host. The lookbehind makes a scheme start
# where a word starts: without it, a long run of letters costs quadratic time (a hostile
# requirements line of 100,000 letters took 50 s to redact).
_USERINFO = re.compile(r"(?<![a-zA-Z0-9+.\-])(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)"
                       r"(?P<userinfo>[^/@\s]+)@")
# ?token=... &password=... in query strings
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&](?:token|access_token|password|passwd|secret|key|signature|sig)=)[^&\s]+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """Replace credentials in URLs inside `text` by `***`."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}***@", text)
    return _QUERY_SECRET.sub(lambda m: f"{m['key']}***", text)


def strip_credentials(url: str) -> str:
    """The URL without its userinfo: the form that may be stored in a lock."""
    text = _USERINFO.sub(lambda m: m["scheme"], url)
    return _QUERY_SECRET.sub(lambda m: f"{m['key']}***", text)


def has_credentials(text: str) -> bool:
    return bool(_USERINFO.search(text) or _QUERY_SECRET.search(text))


class RedactingFilter(logging.Filter):
    """Installed on dockyard's handlers so no record can carry a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True
