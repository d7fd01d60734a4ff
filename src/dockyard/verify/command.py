"""How the platform starts the image, read from its CMD (pure).

The platform's CMD is a shell string (`/bin/sh -c "jupyter lab --ip 0.0.0.0
--LabApp.token=password ..."`); the token and port live in it as traitlets
options. We read them from the command, never by guessing, and never print
the token.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Every spelling of the token option across Jupyter Server / Notebook versions.
_TOKEN_OPTIONS = (
    "--IdentityProvider.token", "--ServerApp.token", "--LabApp.token",
    "--NotebookApp.token", "--token",
)
_PORT_OPTIONS = ("--ServerApp.port", "--LabApp.port", "--NotebookApp.port", "--port")
_IP_OPTIONS = ("--ServerApp.ip", "--LabApp.ip", "--NotebookApp.ip", "--ip")
DEFAULT_PORT = 8888
# A generated token as Jupyter prints it in its log ("...lab?token=3f2a...").
_LOG_TOKEN = re.compile(r"[?&]token=([0-9a-f]{16,})")


@dataclass(frozen=True, slots=True)
class Launch:
    """What verify needs to know about the server the command starts."""

    argv: tuple[str, ...]  # the words after the image name ((): the image's own CMD)
    words: tuple[str, ...]  # the command's words, shell strings split
    token: str | None  # None: not in the command
    port: int
    ip: str | None



def split_words(command: Sequence[str]) -> tuple[str, ...]:
    """The words of a command, with `sh -c "..."` scripts split as a shell would."""
    words: list[str] = []
    for arg in command:
        try:
            words.extend(shlex.split(arg))
        except ValueError:  # unbalanced quotes: keep the word as it is
            words.append(arg)
    return tuple(words)


def option(words: Sequence[str], names: Sequence[str]) -> str | None:
    """The last value of any of `names` (`--x=v` or `--x v`), as traitlets takes it."""
    found = None
    for i, word in enumerate(words):
        for name in names:
            if word.startswith(name + "="):
                found = word[len(name) + 1:]
            elif word == name and i + 1 < len(words) and not words[i + 1].startswith("--"):
                found = words[i + 1]
    return found


def effective_command(config: Mapping, cmd: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(argv to pass after the image, the full command that runs) for an image config.

    With `cmd`, the platform's way: `/bin/sh -c CMD` replaces the image's CMD
    and goes to its ENTRYPOINT, if any. Without, the image's own.
    """
    entrypoint = tuple(config.get("Entrypoint") or ())
    if cmd is not None:
        argv = ("/bin/sh", "-c", cmd)
        return argv, entrypoint + argv
    return (), entrypoint + tuple(config.get("Cmd") or ())


def launch(config: Mapping, cmd: str | None = None, token: str | None = None) -> Launch:
    argv, full = effective_command(config, cmd)
    words = split_words(full)
    env = env_map(config.get("Env") or ())
    found = option(words, _TOKEN_OPTIONS)
    if found is None:
        found = env.get("JUPYTER_TOKEN")
    port = option(words, _PORT_OPTIONS)
    return Launch(
        argv=argv, words=words,
        token=token if token is not None else found,
        port=int(port) if port and port.isdigit() else DEFAULT_PORT,
        ip=option(words, _IP_OPTIONS),
    )


def token_from_log(log: str) -> str | None:
    """A token Jupyter generated and printed (when the command set none)."""
    found = _LOG_TOKEN.findall(log)
    return found[-1] if found else None


def env_map(env: Sequence[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in env if "=" in item)


def hide(text: str, secret: str | None) -> str:
    """`text` with `secret` replaced by *** (tokens are often plain words like 'password')."""
    if secret:
        text = text.replace(secret, "***")
    return text


# ---- what the running container says about its server (pure parsing) -------------------

@dataclass(frozen=True, slots=True)
class Server:
    """One entry of `jupyter server list --json` inside the container."""

    port: int
    hostname: str  # the address it listens on ("0.0.0.0", "localhost", "127.0.0.1", ...)
    base_url: str
    token: str  # "" when the server asks for none
    pid: int | None

    @property
    def loopback_only(self) -> bool:
        return self.hostname in ("localhost", "127.0.0.1", "::1") or \
            self.hostname.startswith("127.")


def parse_server_list(text: str) -> list[Server]:
    """The servers `jupyter server list --json` printed (one JSON object per line)."""
    import json

    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        port = doc.get("port")
        if not isinstance(port, int):
            continue
        out.append(Server(port=port, hostname=str(doc.get("hostname") or ""),
                          base_url=str(doc.get("base_url") or "/"),
                          token=str(doc.get("token") or ""),
                          pid=doc.get("pid") if isinstance(doc.get("pid"), int) else None))
    return out


@dataclass(frozen=True, slots=True)
class Process:
    """A process of the container as `podman top NAME user args` shows it."""

    user: str
    args: tuple[str, ...]

    @property
    def python(self) -> str | None:
        """The interpreter a Python script runs with (`/opt/conda/bin/python3 .../jupyter-lab`)."""
        first = self.args[0] if self.args else ""
        base = first.rsplit("/", 1)[-1]
        return first if base.startswith("python") and first.startswith("/") else None


def jupyter_processes(top: str) -> list[Process]:
    """The Jupyter server processes in `podman top NAME user args` output."""
    out = []
    for line in top.splitlines()[1:]:  # the first line is the header
        user, _, rest = line.strip().partition(" ")
        words = tuple(rest.split())
        if any(w.rsplit("/", 1)[-1] in ("jupyter-lab", "jupyter-server", "jupyter-notebook")
               for w in words[:3]) or ("-m" in words[:3] and "jupyter" in words[:4]):
            out.append(Process(user=user, args=words))
    return out
