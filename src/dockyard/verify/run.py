"""`verify_image`: start an image as the platform would, and check it from inside its kernel.

The edges (engine, HTTP, websocket) are here; what to conclude lives in the
pure modules beside it (command, messages, probe, report).
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .. import lifecycle
from ..engines import CliEngine
from ..errors import VerifyError
from ..lock.model import Lock, loads
from ..redact import redact
from . import command as cmdmod
from . import probe
from .jupyter import JupyterClient
from .report import Check, VerifyReport

log = logging.getLogger(__name__)

LABEL_KERNEL = "io.dockyard.kernel"
LABEL_LOCK = "io.dockyard.lock"
LABEL_BASE = "io.dockyard.base"

ENGINE_TIMEOUT = 60.0  # no engine call of verify may hang the run (a busy machine is slow)


def verify_image(
    engine: CliEngine,
    image: str,
    *,
    cmd: str | None = None,
    kernel: str | None = None,
    lock: str | os.PathLike[str] | Lock | None = None,
    token: str | None = None,
    timeout: float = 120.0,
    exec_timeout: float = 600.0,
    progress: Callable[[str], None] | None = None,
    container_name: str | None = None,
    user: str | None = None,
    home_volume: bool = False,
) -> VerifyReport:
    """Run `image` with its CMD (or `cmd`, as `/bin/sh -c CMD`), as its own user, and check it.

    `lock`: a host lock file or Lock; without it, the file named by the
    image's `io.dockyard.lock` label is read inside the kernel. `kernel`:
    without it, the `io.dockyard.kernel` label, else the one non-default
    kernelspec. `user` ("UID[:GID]") runs it as the platform's user instead of the
    image's USER; `home_volume` mounts an empty volume over the image's $HOME, owned by
    the user it runs as, as platforms do. Raises VerifyError when the server or kernel
    cannot be reached; failed checks are in the report (`report.ok`).
    """
    say = progress or (lambda _line: None)
    if not engine.exists(image):
        raise VerifyError(f"no image {image!r} on this machine",
                          hint=f"build it (`dockyard build`) or pull it (`{engine.name} pull`)")
    config = engine.inspect(image).get("Config") or {}
    labels = config.get("Labels") or {}
    base_ref = labels.get(LABEL_BASE)
    base_config = (engine.inspect(base_ref).get("Config") or {}
                   if base_ref and engine.exists(base_ref) else None)
    env = cmdmod.env_map(config.get("Env") or ())
    launch = cmdmod.launch(config, cmd, token)
    secret = launch.token
    shown = cmdmod.hide(redact(" ".join(launch.words)), secret)
    expected = probe.ExpectedUser(user if user else str(config.get("User") or ""),
                                  variables=tuple((k, env[k]) for k in ("USERNAME", "NB_USER")
                                                  if env.get(k)),
                                  given=bool(user))

    name = container_name or f"dockyard-verify-{uuid.uuid4().hex[:12]}"
    options: list[str] = ["--user", user] if user else []
    port = launch.port
    # registered before they exist: a signal during `run -d` still removes them
    container = lifecycle.register_command(_rm_args(engine, name), f"container {name}")
    volume = lifecycle.register_command(
        [engine.binary, "volume", "rm", "-f", f"{name}-home"], f"volume {name}-home") \
        if home_volume else None
    try:
        if home_volume:
            _, mount = make_home_volume(engine, image, name, env, user)
            options += ["-v", mount]
        for attempt in (1, 2):
            say(f"starting {image}")
            _engine(engine.check, "run", "-d", "--name", name, "-p", f"127.0.0.1::{port}",
                    "--label", f"io.dockyard.pid={os.getpid()}", *options, image,
                    *launch.argv, what="run")
            try:
                say("waiting for Jupyter")
                client, host_port, version, how_token = _wait_for_jupyter(
                    engine, name, image, replace(launch, port=port), timeout)
                break
            except _WrongPort as moved:
                if attempt == 2:
                    raise VerifyError(f"the server moved from port {port} to {moved.port} "
                                      "between two starts") from None
                say(f"the server listens on container port {moved.port}: starting again")
                port = moved.port
                _engine(engine.cli, *_rm_args(engine, name)[1:], timeout=120)
        secret = client.token
        checks = [probe.check_as_base(config, base_config, base_ref),
                  Check("jupyter", "pass", f"Jupyter Server {version} answered on 127.0.0.1:"
                                           f"{host_port} (container port {port}){how_token}"
                                           + (", as " + user if user else "")
                                           + (f", an empty volume over {env.get('HOME')}"
                                              if home_volume else ""))]
        specs = client.kernelspecs()
        default = specs.get("default") or ""
        names = sorted(specs.get("kernelspecs") or {})
        chosen, how = choose_kernel(names, default, kernel, labels.get(LABEL_KERNEL))
        display = (specs["kernelspecs"][chosen].get("spec") or {}).get("display_name", chosen)
        say(f"starting kernel {chosen!r}")
        kernel_id = client.start_kernel(chosen)
        checks.append(Check("kernel", "pass", f"{chosen!r} ({display}) started, {how}"))
        try:
            say("running checks in the kernel")
            checks += _kernel_checks(engine, name, client, kernel_id, expected, labels, lock,
                                     is_app=chosen != default, exec_timeout=exec_timeout)
        finally:
            client.stop_kernel(kernel_id)
    except VerifyError as exc:
        exc.message = cmdmod.hide(exc.message, secret)
        raise
    finally:
        lifecycle.release(container, run=True)
        if volume is not None:
            lifecycle.release(volume, run=True)
    return VerifyReport(image=image, kernel=chosen, command=shown, checks=tuple(checks))


def make_home_volume(engine: CliEngine, image: str, name: str, env: dict[str, str],
                     user: str | None) -> tuple[str, str]:
    """An empty volume for $HOME, owned by the user the container runs as (a platform's
    persistent volume): (volume name, the -v argument)."""
    ids = _engine(engine.cli, "run", "--rm", *(["--user", user] if user else []),
                  "--entrypoint", "/bin/sh", image, "-c", 'echo "$(id -u):$(id -g) $HOME"')
    owner, _, home = ids.stdout.strip().rpartition("\n")[-1].partition(" ")
    home = env.get("HOME") or home
    if not ids.ok or ":" not in owner or not home.startswith("/") or home == "/":
        raise VerifyError(f"cannot tell which HOME to mount a volume over in {image!r} "
                          f"(HOME={home or 'unset'})",
                          hint="set HOME in the image, or verify without --home-volume")
    uid, gid = owner.split(":")
    volume = f"{name}-home"
    _engine(engine.check, "volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
            "--opt", f"o=uid={uid},gid={gid},mode=0770", volume, what="volume create")
    return volume, f"{volume}:{home}:nocopy"


def choose_kernel(names: Sequence[str], default: str, requested: str | None,
                  label: str | None) -> tuple[str, str]:
    """The kernel to check and why it was chosen (pure)."""
    listing = ", ".join(names) or "none"
    for wanted, how in ((requested, "asked for with --kernel"),
                        (label, f"named by the image label {LABEL_KERNEL}")):
        if wanted:
            if wanted not in names:
                raise VerifyError(f"no kernelspec {wanted!r} in the image ({how}); "
                                  f"the server lists: {listing}",
                                  hint="check where the build registered the kernel: "
                                       "`jupyter kernelspec list` in the image")
            return wanted, how
    others = [n for n in names if n != default]
    if len(others) == 1:
        return others[0], f"the one kernelspec beside the base's default {default!r}"
    if not others:
        raise VerifyError(f"the image has only the base's default kernel ({listing}): "
                          "no app kernel is registered",
                          hint=f"pass --kernel {default or 'NAME'} to check that one anyway")
    raise VerifyError(f"several kernelspecs and none chosen: {listing}",
                      hint=f"pass --kernel NAME, or label the image {LABEL_KERNEL}=NAME")


def _published_port(engine: CliEngine, name: str, port: int) -> int | None:
    """The host port on 127.0.0.1 the engine chose (None once the container is gone)."""
    lines = _engine(engine.cli, "port", name, f"{port}/tcp").stdout.strip().splitlines()
    return int(lines[0].rsplit(":", 1)[1]) if lines else None


def _state(engine: CliEngine, name: str) -> tuple[bool, int]:
    done = _engine(engine.cli, "container", "inspect", "--format",
                   "{{.State.Running}} {{.State.ExitCode}}", name)
    running, _, code = done.stdout.strip().partition(" ")
    return running == "true", int(code or 0)


def _logs(engine: CliEngine, name: str) -> str:
    done = _engine(engine.cli, "logs", name)
    return (done.stdout or "") + (done.stderr or "")


def _tail(log: str, token: str | None, n: int = 15) -> str:
    lines = cmdmod.hide(redact(log), token).strip().splitlines()[-n:]
    return "\n".join("    " + line for line in lines) or "    (no output)"


class _WrongPort(Exception):
    """The server listens on another port than the one published: start again with it."""

    def __init__(self, port: int):
        super().__init__(port)
        self.port = port


@dataclass
class _Seen:
    """What verify observed of the server while waiting (every hint comes from here)."""

    answer: str = "down"  # last /api/status answer: "down", "up", "auth"
    code: int | None = None
    servers: tuple[cmdmod.Server, ...] = ()
    asked: str = ""  # how the container was asked ("`jupyter server list` as jovyan")
    token_from: str = ""


def _ask_container(engine: CliEngine, name: str) -> tuple[list[cmdmod.Server], str]:
    """`jupyter server list --json` inside the container, as the user who runs the server
    (the container's own user first), with the server's own interpreter when found."""
    top = _engine(engine.cli, "top", name, "user", "args")
    procs = cmdmod.jupyter_processes(top.stdout) if top.ok else []
    tries: list[tuple[list[str], list[str], str]] = [([], ["jupyter"], "the container's user")]
    for p in procs:
        cmd = [p.python, "-m", "jupyter"] if p.python else ["jupyter"]
        tries.append((["--user", p.user], cmd, p.user))
    for user, cmd, who in tries:
        done = _engine(engine.cli, "exec", *user, name, *cmd, "server", "list", "--json")
        servers = cmdmod.parse_server_list(done.stdout) if done.ok else []
        if servers:
            return servers, f"`jupyter server list` as {who}"
    return [], ("`jupyter server list` as " + ", as ".join(w for _, _, w in tries)
                + " lists no server" if procs else "no Jupyter server process runs in it")


def _wait_for_jupyter(engine, name, image, launch, timeout):
    """Wait until the server answers; find its token and base URL as a person would."""
    token = launch.token
    seen = _Seen(token_from="the command" if token is not None else "")
    port = _published_port(engine, name, launch.port)
    client = JupyterClient(f"http://127.0.0.1:{port}", token)
    deadline = time.monotonic() + timeout
    started, asked_at = time.monotonic(), 0.0
    while True:
        running, code = _state(engine, name)
        if not running:
            raise _exited(engine, name, image, code, token)
        if port is None:
            raise VerifyError(f"{engine.name} published no port for {launch.port}/tcp")
        seen.answer, seen.code = client.probe()
        if seen.answer == "up":
            about = client.request("GET", "/api") or {}
            how = f", token from {seen.token_from}" if client.token else ", no token needed"
            return client, port, about.get("version", "?"), how
        # Up but refusing (403: no or wrong token), or not answering for a while: ask it.
        now = time.monotonic()
        if (seen.answer == "auth" or now - started > 3) and now - asked_at > 3:
            asked_at = now
            servers, seen.asked = _ask_container(engine, name)
            seen.servers = tuple(servers)
            mine = [s for s in servers if s.port == launch.port]
            if servers and not mine and seen.answer == "down":
                raise _WrongPort(servers[0].port)
            for s in mine:
                base = f"http://127.0.0.1:{port}{s.base_url.rstrip('/')}"
                if (s.token or None) != client.token or base != client.base_url:
                    client = JupyterClient(base, s.token or None)
                    seen.token_from = seen.asked
        if seen.answer == "auth" and not seen.servers and token is None:
            found = cmdmod.token_from_log(_logs(engine, name))
            if found and found != client.token:
                client.token, seen.token_from = found, "the server's log"
        if now > deadline:
            raise _no_answer(engine, name, port, launch, timeout, seen, client.token)
        time.sleep(0.5)


def _no_answer(engine, name, port, launch, timeout, seen: _Seen, token) -> VerifyError:
    """Why nothing usable answered, from what was observed (never from a guess)."""
    tail = _tail(_logs(engine, name), token)
    if seen.answer == "auth":
        what = f"the Jupyter server on 127.0.0.1:{port} answers HTTP {seen.code}: it is up " \
               "and needs a token"
        if seen.token_from:
            what += f", and refused the one from {seen.token_from}"
            hint = "pass the token the platform uses with --token"
        else:
            what += f"; none was found (not in the command or JUPYTER_TOKEN; {seen.asked})"
            hint = "pass it with --token, or give the platform's command with --cmd"
        return VerifyError(f"{what}. The container's last lines:\n{tail}", hint=hint)
    loop = [s for s in seen.servers if s.port == launch.port and s.loopback_only]
    if loop:
        return VerifyError(
            f"nothing answered on 127.0.0.1:{port} within {timeout:.0f} s: {seen.asked} shows "
            f"the server listening on {loop[0].hostname}:{loop[0].port}, the container's "
            "loopback only, which a published port cannot reach. The container's last "
            f"lines:\n{tail}",
            hint="the platform's command (or the image's Jupyter config) must make it listen "
                 "on all interfaces: --ip 0.0.0.0 (c.ServerApp.ip = '0.0.0.0')")
    listed = f"; {seen.asked}" if seen.asked else ""
    return VerifyError(
        f"no Jupyter server answered on 127.0.0.1:{port} (container port {launch.port}) "
        f"within {timeout:.0f} s{listed}. The container's last lines:\n{tail}",
        hint="raise --timeout if the image is slow to start; otherwise see its log above")


def _exited(engine, name, image, code, token) -> VerifyError:
    log = _logs(engine, name)
    found = _engine(engine.cli, "run", "--rm", "--entrypoint", "/bin/sh", image, "-c",
                       "command -v jupyter || { echo \"PATH=$PATH\"; exit 3; }")
    if found.returncode == 3:
        path = found.stdout.strip().rpartition("PATH=")[2]
        why = f"the image has no `jupyter` on PATH ({path})"
        hint = ("the platform's CMD starts `jupyter lab` from the base image: build on a "
                "base that provides Jupyter, or give the command that starts it with --cmd")
    else:
        why = "its command failed"
        hint = "run the image by hand to see why the server does not start"
    return VerifyError(
        f"no Jupyter server answered: the container exited with code {code}; {why}. "
        f"Its last lines:\n{_tail(log, token)}", hint=hint)


def _engine(call, *args, timeout: float = ENGINE_TIMEOUT, **kwargs):
    try:
        return call(*args, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired:
        raise VerifyError(f"`{redact(' '.join(args[:2]))} ...` did not return within "
                          f"{timeout:.0f} s", hint="is the container engine overloaded?") from None


def _rm_args(engine: CliEngine, name: str) -> list[str]:
    extra = ("-t", "0") if engine.name == "podman" else ()
    return [engine.binary, "rm", "-f", *extra, name]


def _kernel_checks(engine, name, client, kernel_id, expected, labels, lock, *, is_app,
                   exec_timeout) -> list[Check]:
    host_lock, lock_where = _host_lock(lock)
    image_lock_path = None if host_lock is not None else labels.get(LABEL_LOCK)
    facts = _run(client, kernel_id, probe.facts_code(image_lock_path), exec_timeout,
                 "read the interpreter's facts")
    checks: list[Check] = []
    the_lock = host_lock
    if image_lock_path:
        lock_where = f"{image_lock_path} in the image (label {LABEL_LOCK})"
        if facts.get("lock_error"):
            checks.append(Check("lock", "fail", f"cannot read {lock_where}: {facts['lock_error']}"))
        else:
            the_lock = loads(facts["lock_text"], filename=image_lock_path)
    if the_lock is not None:
        checks.append(Check("lock", "pass", f"{lock_where}: {len(the_lock.packages)} packages"))
    checks.append(probe.check_interpreter(facts, the_lock))
    checks.append(probe.check_user(facts, expected))
    if the_lock is not None:
        wanted = probe.wanted_distributions(the_lock)
        results = _run(client, kernel_id, probe.imports_code(wanted, min(300, exec_timeout)),
                       exec_timeout + 30, "imported the locked distributions")
        checks.append(probe.check_imports(results))
        checks.append(probe.check_versions(results, wanted))
    else:
        checks.append(probe.check_imports(
            None, f"no lock: pass --lock FILE or label the image {LABEL_LOCK}=PATH"))
    checks.append(probe.check_app_env(facts, facts.get("server_prefix"), is_app))
    return checks


def _host_lock(lock) -> tuple[Lock | None, str]:
    if lock is None or isinstance(lock, Lock):
        return lock, "the lock given"
    path = Path(lock)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise VerifyError(f"cannot read the lock: {exc.strerror}", where=str(path),
                          hint="pass the dockyard.lock the image was built from") from None
    return loads(text, filename=str(path)), str(path)


def _run(client: JupyterClient, kernel_id: str, code: str, timeout: float, what: str):
    """Run verify's code in the kernel; its JSON answer comes back in the execute_reply."""
    run = client.execute(kernel_id, code, timeout=timeout,
                         user_expressions={"result": probe.RESULT})
    if run.died:
        raise VerifyError(f"the kernel died while verify {what}",
                          hint="see the container's log, or start the kernel by hand in the image")
    if run.error:
        raise VerifyError(f"verify's own code failed in the kernel while it {what}: {run.error}",
                          hint="\n".join(run.traceback[-3:]) or None)
    data = probe.parse_result(run.expressions.get("result"))
    if data is None:
        raise VerifyError(f"the kernel ran verify's code ({what}) but returned no result",
                          hint=f"kernel stderr: {run.stderr[-500:]}")
    return data
