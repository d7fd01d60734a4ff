"""environment.yml: name, channels, channel_priority, conda match specs, the pip: section.

Every match spec is checked with rattler's parser, so what the resolver gets
is known to parse; `nodefaults` is understood (no implicit `defaults`
channel, which dockyard never adds anyway) and not passed on as a channel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import SpecError
from ..spec import CondaRequirement, Origin
from .locate import OriginOf, no_positions
from .model import Partial
from .pep508 import clean_channel, safe_text
from .requirements import LineReader, NameOfPath, ReadInclude

KNOWN_KEYS = ("name", "channels", "channel_priority", "dependencies", "prefix", "variables",
              "platforms", "category")
PRIORITIES = ("strict", "flexible", "disabled")
_CALL = re.compile(r"^([A-Za-z0-9_.\-]+)\s*\(\s*[\"']?(.*?)[\"']?\s*\)$")


def _suggest(text: str) -> str:
    """A conda-style rewrite of common mistakes, e.g. `python(">=3.11")` -> `python >=3.11`."""
    m = _CALL.match(text.strip())
    if m:
        return f"{m[1]} {m[2].replace(' ', '')}"
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(==|>=|<=|~=|!=|>|<)\s*(.+)$", text.strip())
    if m:
        return f"{m[1]} {m[2]}{m[3].replace(' ', '')}"
    return ""


def match_spec(text: str, origin: Origin) -> CondaRequirement:
    """One conda dependency string -> CondaRequirement, checked by rattler."""
    from rattler import MatchSpec

    try:
        spec = MatchSpec(text)
        channel, _, rest = text.rpartition("::")
        plain = MatchSpec(rest) if channel else spec
    except Exception as exc:  # rattler raises its own InvalidMatchSpecError
        suggestion = _suggest(text)
        reason = safe_text(str(exc).splitlines()[0])
        hint = (f"write it as a conda match spec: `{suggestion}`" if suggestion else
                "write it as a conda match spec: NAME, NAME=VERSION, NAME >=LOW,<HIGH, "
                "or CHANNEL::NAME")
        raise SpecError(f"{safe_text(text)!r} is not a conda match spec ({reason})",
                        where=str(origin), hint=hint) from None
    if spec.name is None:
        raise SpecError(f"{safe_text(text)!r} names no package", where=str(origin),
                        hint="write NAME or NAME VERSION")
    return CondaRequirement(name=spec.name.normalized, spec=str(plain),
                            channel=clean_channel(channel) if channel else None, origin=origin)


def parse_environment(doc: Any, origin_of: OriginOf | None = None,
                      read_include: ReadInclude | None = None,
                      name_of_path: NameOfPath | None = None) -> Partial:
    """An environment.yml mapping -> conda specs, channels, priority and pip lines (pure)."""
    origin_of = origin_of or no_positions("environment.yml")
    if not isinstance(doc, Mapping):
        raise SpecError("expected a mapping with `channels:` and `dependencies:` at the top",
                        where=str(origin_of(())),
                        hint="an environment file starts with name:, channels: and "
                             "dependencies: keys; it may have been cut off")
    unknown = sorted(set(map(str, doc)) - set(KNOWN_KEYS))
    if unknown:
        raise SpecError(f"unknown top-level key {unknown[0]!r}",
                        where=str(origin_of((unknown[0],))),
                        hint=f"an environment file has: {', '.join(KNOWN_KEYS)}")
    channels = doc.get("channels") or []
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise SpecError("channels: expected a list of channel names",
                        where=str(origin_of(("channels",))), hint="e.g. channels: [conda-forge]")
    priority = doc.get("channel_priority")
    if priority is not None and str(priority) not in PRIORITIES:
        raise SpecError(f"channel_priority: expected one of {', '.join(PRIORITIES)}, got "
                        f"{priority!r}", where=str(origin_of(("channel_priority",))),
                        hint="use strict (what dockyard does by default)")
    conda: list[CondaRequirement] = []
    pip = LineReader(read_include, name_of_path)
    deps = doc.get("dependencies") or []
    if not isinstance(deps, list):
        raise SpecError("dependencies: expected a list", where=str(origin_of(("dependencies",))),
                        hint="list one match spec per line, each starting with '- '")
    for i, item in enumerate(deps):
        path = ("dependencies", i)
        if isinstance(item, Mapping) and list(item) == ["pip"]:
            for j, line in enumerate(item["pip"] or []):
                pip.line(str(line), origin_of(path + ("pip", j)), "main")
        elif isinstance(item, str):
            conda.append(match_spec(item, origin_of(path)))
        else:
            raise SpecError(f"unexpected dependency entry {item!r}", where=str(origin_of(path)),
                            hint="each entry is a match spec string or a `pip:` list")
    return Partial(
        name=str(doc["name"]) if doc.get("name") is not None else None,
        conda=tuple(conda),
        conda_pip=tuple(pip.reqs),
        constraints=tuple(pip.constraints),
        channels=tuple(clean_channel(str(c)) for c in channels if str(c) != "nodefaults"),
        channel_priority=str(priority) if priority is not None else None,
        indexes=tuple(pip.indexes),
        includes=tuple(pip.includes),
    )

