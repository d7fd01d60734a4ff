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
    done = engine.cli(
        "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", ref, "-c", PROBE_SCRIPT,
        timeout=300,
    )
    if not done.ok or "@@end" not in done.stdout:
        raise PlanError(
            f"could not run the probe inside {ref!r} (exit {done.returncode}): "
            + (done.stderr.strip().splitlines() or ["no output"])[-1],
            hint="dockyard needs /bin/sh in the base image to read its facts",
        )
    facts = parse_facts(ref, config, done.stdout)
    log.info("probed %s: %s, glibc %s, %d pythons, jupyter=%s", ref, facts.os_name,
             facts.glibc, len(facts.pythons), bool(facts.jupyter))
    return facts


__all__ = [
    "BaseFacts", "CudaFacts", "JupyterFacts", "PythonFacts", "UserFacts", "parse_facts",
    "probe_base",
]
