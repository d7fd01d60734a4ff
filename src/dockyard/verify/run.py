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
) -> VerifyReport:
    """Run `image` with its CMD (or `cmd`, as `/bin/sh -c CMD`), as its own user, and check it.

    `lock`: a host lock file or Lock; without it, the file named by the
    image's `io.dockyard.lock` label is read inside the kernel. `kernel`:
    without it, the `io.dockyard.kernel` label, else the one non-default
    kernelspec. Raises VerifyError when the server or kernel cannot be
    reached; failed checks are in the report (`report.ok`).
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

    name = container_name or f"dockyard-verify-{uuid.uuid4().hex[:12]}"
    say(f"starting {image}")
    # registered before it exists: a signal during `run -d` still removes it
    container = lifecycle.register_command(_rm_args(engine, name), f"container {name}")
    try:
        _engine(engine.check, "run", "-d", "--name", name, "-p", f"127.0.0.1::{launch.port}",
                "--label", f"io.dockyard.pid={os.getpid()}", image, *launch.argv, what="run")
        say("waiting for Jupyter")
        client, port, version = _wait_for_jupyter(engine, name, image, launch, timeout)
        secret = client.token
        checks = [probe.check_as_base(config, base_config, base_ref),
                  Check("jupyter", "pass", f"Jupyter Server {version} answered on 127.0.0.1:"
                                           f"{port} (container port {launch.port})")]
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
            checks += _kernel_checks(engine, name, client, kernel_id, env, labels, lock,
                                     is_app=chosen != default, exec_timeout=exec_timeout)
        finally:
            client.stop_kernel(kernel_id)
    except VerifyError as exc:
        exc.message = cmdmod.hide(exc.message, secret)
        raise
    finally:
        lifecycle.release(container, run=True)
    return VerifyReport(image=image, kernel=chosen, command=shown, checks=tuple(checks))


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


def _wait_for_jupyter(engine, name, image, launch, timeout):
    token = launch.token
    port = _published_port(engine, name, launch.port)
    client = JupyterClient(f"http://127.0.0.1:{port}", token)
    deadline = time.monotonic() + timeout
    while True:
        running, code = _state(engine, name)
        if port is None and running:
            raise VerifyError(f"{engine.name} published no port for {launch.port}/tcp")
        if token is None:
            token = cmdmod.token_from_log(_logs(engine, name))
            client.token = token
        if token is not None or not running:
            answer = client.status() if running else None
            if answer is not None:
                about = client.request("GET", "/api") or {}
                return client, port, about.get("version", "?")
        if not running:
            raise _exited(engine, name, image, code, token)
        if time.monotonic() > deadline:
            hint = "raise --timeout if the image is slow to start"
            if not launch.listens_outside:
                hint = ("the command does not pass --ip 0.0.0.0, so Jupyter listens on the "
                        "container's loopback only and a published port cannot reach it")
            raise VerifyError(
                f"no Jupyter server answered on 127.0.0.1:{port} within {timeout:.0f} s; "
                f"the container's last lines:\n{_tail(_logs(engine, name), token)}", hint=hint)
        time.sleep(0.5)


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


def _kernel_checks(engine, name, client, kernel_id, env, labels, lock, *, is_app,
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
    checks.append(probe.check_user(facts, env.get("USERNAME")))
    if the_lock is not None:
        wanted = probe.wanted_distributions(the_lock)
        results = _run(client, kernel_id, probe.imports_code(wanted, exec_timeout),
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
