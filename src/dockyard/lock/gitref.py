"""Where a git branch (or tag, or the default branch) points now: `git ls-remote`.

Used to tell the developers that a branch moved since their lock recorded a
commit. git reads credentials from its helpers or netrc; nothing here sees them.
"""

from __future__ import annotations

import os

from ..redact import redact
from ..runner import Runner, SubprocessRunner, which


class HeadUnknown(Exception):
    """The remote could not be asked (unreachable, no such branch)."""


def remote_head(url: str, kind: str, ref: str | None, *, runner: Runner | None = None,
                timeout: float = 30) -> str:
    """The commit `ref` names on `url` now; raises HeadUnknown with git's reason."""
    git = which("git")
    if git is None:
        raise HeadUnknown("git is not installed")
    if kind == "branch" and ref:
        pattern = f"refs/heads/{ref}"
    elif kind == "tag" and ref:
        pattern = f"refs/tags/{ref}"
    else:
        pattern = "HEAD"
    run = runner or SubprocessRunner()
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        done = run([git, "ls-remote", url, pattern], env=env, timeout=timeout)
    except Exception as exc:  # a timeout or a missing binary: the head stays unknown
        raise HeadUnknown(redact(str(exc))) from None
    if not done.ok:
        lines = [x for x in (done.stderr or "").splitlines() if x.strip()]
        raise HeadUnknown(redact(lines[-1] if lines else f"git exited {done.returncode}"))
    refs = {}
    for line in done.stdout.splitlines():
        commit, _, name = line.partition("\t")
        refs[name.strip()] = commit.strip()
    # an annotated tag: the commit it points to is listed as `refs/tags/x^{}`
    found = refs.get(f"{pattern}^{{}}") or refs.get(pattern)
    if not found:
        raise HeadUnknown(f"{pattern} does not exist on the remote")
    return found
