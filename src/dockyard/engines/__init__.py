"""Container engines behind one Protocol, registered by name.

`get_engine(None)` picks the first engine present (podman, then docker);
`get_engine("nerdctl")` raises a BuildError listing the known ones. Nothing
is looked up at import time.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .. import lifecycle
from ..errors import BuildError
from ..redact import redact
from ..runner import Completed, Runner, SubprocessRunner, which


class Engine(Protocol):
    name: str

    def build(
        self, context: str, *, containerfile: str, tag: str,
        secrets: Mapping[str, str] = ..., build_args: Mapping[str, str] = ...,
        network: str | None = None, on_line: Callable[[str], None] | None = None,
        no_cache: bool = False,
    ) -> str: ...
    def inspect(self, ref: str) -> dict[str, Any]: ...
    def exists(self, ref: str) -> bool: ...
    def run(
        self, image: str, args: Sequence[str] = (), *, options: Sequence[str] = ()
    ) -> Completed: ...
    def cli(self, *args: str, on_line: Callable[[str], None] | None = None) -> Completed: ...


@dataclass
class CliEngine:
    """podman and docker share the CLI we use; the differences live in small flags."""

    name: str
    binary: str
    runner: Runner

    def cli(self, *args: str, on_line=None, input: str | None = None, timeout=None,
            env: Mapping[str, str] | None = None) -> Completed:
        """`ENGINE ARGS...`. A foreground `run` gets a name, and is removed if dockyard
        stops (or the call fails) while it runs: killing the client alone leaves it."""
        if args and args[0] == "run" and not ({"-d", "--detach"} & set(args)) and not any(
                a == "--name" or a.startswith("--name=") for a in args):
            name = f"dockyard-run-{uuid.uuid4().hex[:12]}"
            args = ("run", "--name", name, *args[1:])
            with lifecycle.on_failure(self.rm_args(name), what=f"container {name}"):
                return self.runner([self.binary, *args], on_line=on_line, input=input,
                                   timeout=timeout, env=env)
        return self.runner([self.binary, *args], on_line=on_line, input=input, timeout=timeout,
                           env=env)

    def rm_args(self, name: str) -> list[str]:
        """The command that removes container `name`, running or not, present or not."""
        extra = ("-t", "0") if self.name == "podman" else ()
        return [self.binary, "rm", "-f", *extra, name]

    def check(self, *args: str, on_line=None, what: str = "", timeout=None,
              env: Mapping[str, str] | None = None) -> Completed:
        done = self.cli(*args, on_line=on_line, timeout=timeout, env=env)
        if not done.ok:
            tail = "\n".join(redact(done.stderr or done.stdout).strip().splitlines()[-15:])
            raise BuildError(
                f"{self.name} {what or args[0]} failed (exit {done.returncode}):\n{tail}",
                hint=f"run `{self.name} {redact(' '.join(args[:3]))} ...` by hand to see more",
            )
        return done

    def build(self, context, *, containerfile, tag, secrets=None, build_args=None,
              network=None, on_line=None, no_cache: bool = False) -> str:
        args = ["build", "-f", containerfile, "-t", tag]
        if no_cache:
            args.append("--no-cache")
        for sid, path in sorted((secrets or {}).items()):
            args += ["--secret", f"id={sid},src={path}"]
        for key, value in sorted((build_args or {}).items()):
            args += ["--build-arg", f"{key}={value}"]
        if network:
            args += ["--network", network]
        if self.name != "podman":   # BuildKit cancels a build whose client goes away
            self.check(*args, context, on_line=on_line, what="build")
            return self.inspect(tag)["Id"]
        # A stopped `podman build` leaves its working containers and the processes of its
        # current RUN step. Mark them (a host name in /etc/hosts of RUN steps only: neither
        # the image nor the layer cache sees it; RUN bundles go to our temporary folder)
        # so that exactly this build's are removed if dockyard stops while it runs.
        marker = f"dockyard-build-{uuid.uuid4().hex[:12]}"
        # podman stages layers in TMPDIR: /var/tmp as podman does (/tmp is often a tmpfs)
        big = os.environ.get("TMPDIR") or ("/var/tmp" if os.path.isdir("/var/tmp") else None)
        with lifecycle.temp_dir(prefix="dockyard-build-", dir=big) as tmp:
            undo = [sys.executable, "-m", "dockyard.engines.leftovers", self.binary, marker,
                    str(tmp)]
            with lifecycle.on_failure(undo, what="the build's working containers"):
                self.check(*args, "--layers", "--add-host", f"{marker}:127.0.0.1", context,
                           on_line=on_line, what="build", env={"TMPDIR": str(tmp)})
        return self.inspect(tag)["Id"]

    def inspect(self, ref: str) -> dict[str, Any]:
        done = self.check("image", "inspect", ref, what="image inspect")
        data = json.loads(done.stdout)
        return data[0] if isinstance(data, list) else data

    def exists(self, ref: str) -> bool:
        return self.cli("image", "inspect", ref).ok

    def pull(self, ref: str, *, on_line=None) -> bool:
        """Pull `ref`; False (not an error) when the registry cannot give it."""
        return self.cli("pull", ref, on_line=on_line).ok

    def run(self, image, args=(), *, options=()) -> Completed:
        return self.cli("run", "--rm", *options, image, *args)

    def push(self, ref: str, dest: str, *, tls_verify: bool = True, on_line=None) -> None:
        """Push `ref` to `dest` (a registry reference, e.g. 127.0.0.1:5000/app:1)."""
        args = ["push"]
        if not tls_verify and self.name == "podman":  # docker trusts localhost registries
            args.append("--tls-verify=false")
        target = dest if self.name != "podman" or "://" in dest else f"docker://{dest}"
        if self.name == "docker":  # docker pushes a tag: give the image that name first
            self.check("tag", ref, dest, what="tag")
            ref, target = dest, ""
        self.check(*args, ref, *([target] if target else []), on_line=on_line, what="push")

    def history(self, ref: str) -> list[dict[str, Any]]:
        """The image's layers, newest first (as the engine reports them)."""
        return json.loads(self.check("history", "--format", "json", ref, what="history").stdout)

    def layers(self, ref: str) -> tuple[str, ...]:
        """The digests of the image's layers, base first (RootFS.Layers)."""
        return tuple(self.inspect(ref).get("RootFS", {}).get("Layers", ()))


def is_loopback(dest: str) -> bool:
    """True for a registry on this machine: the only place TLS verification may be skipped."""
    host = dest.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


ENGINES = ("podman", "docker")


def available() -> list[str]:
    return [name for name in ENGINES if which(name)]


def get_engine(name: str | None = None, runner: Runner | None = None) -> CliEngine:
    runner = runner or SubprocessRunner()
    if name is None:
        found = available()
        if not found:
            raise BuildError(
                "no container engine found (looked for podman, docker)",
                hint="install one: `apt-get install podman runc`",
            )
        name = found[0]
    if name not in ENGINES:
        raise BuildError(
            f"unknown engine {name!r}",
            hint="available engines: " + (", ".join(available()) or "none installed")
            + f" (known: {', '.join(ENGINES)})",
        )
    binary = which(name)
    if binary is None:
        raise BuildError(f"engine {name!r} is not installed", hint="install it or pick another "
                         "with --engine (" + ", ".join(available() or ["none found"]) + ")")
    return CliEngine(name=name, binary=binary, runner=runner)
