"""Facts about a base image, read from the image itself.

`probe_base(engine, ref)` inspects the image's config and runs one small
POSIX-sh script inside it (`--entrypoint /bin/sh`, no network, as the
image's own user). Parsing is pure (`parse_facts`) and unit-tested with
recorded outputs; bases built differently (no Python, no Jupyter, no
USERNAME) give facts that say so, not crashes.
"""

from __future__ import annotations

import logging

from ..engines import CliEngine
from ..errors import PlanError
from .facts import BaseFacts, CudaFacts, JupyterFacts, PythonFacts, UserFacts
from .parse import parse_facts
from .script import PROBE_SCRIPT

log = logging.getLogger(__name__)


def probe_base(engine: CliEngine, ref: str, *, pull: bool = True) -> BaseFacts:
    """Facts about `ref`, pulled first when the engine does not have it (and `pull`)."""
    if not engine.exists(ref) and not (pull and "/" in ref and engine.pull(ref)):
        raise PlanError(
            f"base image {ref!r} is not available to {engine.name}"
            + (" and could not be pulled" if pull and "/" in ref else ""),
            hint=f"check the name, log in to its registry (`{engine.name} login`), "
            f"or pull or build it first (`{engine.name} pull {ref}`)",
        )
    config = engine.inspect(ref)
    output = _cached_output(config)
    if output is None:
        done = engine.cli(
            "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", ref, "-c",
            PROBE_SCRIPT, timeout=300,
        )
        if not done.ok or "@@end" not in done.stdout:
            raise PlanError(
                f"could not run the probe inside {ref!r} (exit {done.returncode}): "
                + (done.stderr.strip().splitlines() or ["no output"])[-1],
                hint="dockyard needs /bin/sh in the base image to read its facts",
            )
        output = done.stdout
        _keep_output(config, output)
    facts = parse_facts(ref, config, output)
    log.info("probed %s: %s, glibc %s, %d pythons, jupyter=%s", ref, facts.os_name,
             facts.glibc, len(facts.pythons), bool(facts.jupyter))
    return facts


def _cache_path(config: dict):
    """Where the probe's output for this image is kept: an image id names its content, and
    the script's hash its questions, so the answer cannot go stale."""
    import hashlib

    from ..render.stage import cache_dir

    image_id = str(config.get("Id", "")).removeprefix("sha256:")
    if len(image_id) < 32:
        return None
    script = hashlib.sha256(PROBE_SCRIPT.encode()).hexdigest()[:12]
    return cache_dir() / "probes" / f"{image_id}-{script}.txt"


def _cached_output(config: dict) -> str | None:
    path = _cache_path(config)
    try:
        return path.read_text() if path is not None and path.is_file() else None
    except OSError:
        return None


def _keep_output(config: dict, output: str) -> None:
    from ..fsutil import write_atomic

    path = _cache_path(config)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, output)


__all__ = [
    "BaseFacts", "CudaFacts", "JupyterFacts", "PythonFacts", "UserFacts", "parse_facts",
    "probe_base",
]
