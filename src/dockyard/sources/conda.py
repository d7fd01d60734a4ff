"""environment.yml: name, channels, channel_priority, conda match specs, the pip: section.

Every match spec is checked with rattler's parser, so what the resolver gets
is known to parse; `nodefaults` is understood (no implicit `defaults`
channel, which dockyard never adds anyway) and not passed on as a channel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..errors import SpecError
from ..spec import CondaRequirement, Origin
from .locate import OriginOf, no_positions
from .model import Partial
from .pep508 import clean_channel, quote, safe_text
from .requirements import LineReader, NameOfPath, ReadInclude

KNOWN_KEYS = ("name", "channels", "channel_priority", "dependencies", "prefix", "variables",
              "platforms", "category")
PRIORITIES = ("strict", "flexible", "disabled")
_CALL = re.compile(r"^([A-Za-z0-9_.\-]+)\s*\(\s*[\"']?(.*?)[\"']?\s*\)$")


def _suggest(text: str) -> str:
    """A conda-style rewrite of common mistakes, e.g. `python(">=3.11")` -> `python >=3.11`;
    "" unless rattler accepts the rewrite (a hint must never be wrong in turn)."""
    from rattler import MatchSpec

    candidates = []
    m = _CALL.match(text.strip())
    if m:
        candidates.append(f"{m[1]} {m[2].replace(' ', '')}")
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(==|>=|<=|~=|!=|>|<)\s*(.+)$", text.strip())
    if m:
        candidates.append(f"{m[1]} {m[2]}{m[3].replace(' ', '')}")
    for candidate in candidates:
        try:
            MatchSpec(candidate)
        except Exception:  # rattler's InvalidMatchSpecError
            continue
        return candidate
    return ""


MAX_SPEC = 4096
_PIP_EXTRAS = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\[([A-Za-z0-9_,\s\-]+)\](.*)$")


def match_spec(text: str, origin: Origin) -> CondaRequirement:
    """One conda dependency string -> CondaRequirement, checked by rattler."""
    return _match_spec(text, origin)[0]


def _match_spec(text: str, origin: Origin) -> tuple[CondaRequirement, str | None]:
    """The requirement, and a note when something was read on purpose another way."""
    from rattler import MatchSpec

    if len(text) > MAX_SPEC:   # rattler takes ~45 bytes of memory per byte of a spec
        raise SpecError(f"{quote(text)} is {len(text)} characters long: not a conda match "
                        "spec", where=str(origin),
                        hint="write it as NAME, NAME=VERSION, NAME >=LOW,<HIGH or CHANNEL::NAME")
    try:
        spec = MatchSpec(text)
        channel, _, rest = text.rpartition("::")
        plain = MatchSpec(rest) if channel else spec
    except Exception as exc:  # rattler raises its own InvalidMatchSpecError
        extras = _PIP_EXTRAS.match(text)
        if extras:  # `dask[complete]`: pip's extras; conda packages have none
            req, _ = _match_spec(extras[1] + extras[3], origin)
            return req, (f"{origin}: {text.strip()!r} asks for pip-style extras "
                         f"[{extras[2].strip()}], which conda packages do not have: asked "
                         f"for {req.spec!r}, as conda-lock reads it")
        suggestion = _suggest(text)
        reason = safe_text(str(exc).splitlines()[0])
        hint = (f"write it as a conda match spec: `{suggestion}`" if suggestion else
                "write it as a conda match spec: NAME, NAME=VERSION, NAME >=LOW,<HIGH, "
                "or CHANNEL::NAME")
        raise SpecError(f"{quote(text)} is not a conda match spec ({reason})",
                        where=str(origin), hint=hint) from None
    if spec.name is None:
        raise SpecError(f"{quote(text)} names no package", where=str(origin),
                        hint="write NAME or NAME VERSION")
    return CondaRequirement(name=spec.name.normalized, spec=str(plain),
                            channel=clean_channel(channel) if channel else None,
                            origin=origin), None


def parse_environment(doc: Any, origin_of: OriginOf | None = None,
                      read_include: ReadInclude | None = None,
                      name_of_path: NameOfPath | None = None, base: str = "") -> Partial:
    """An environment.yml mapping -> conda specs, channels, priority and pip lines (pure).

    `base` is the file's folder relative to the root: conda runs pip there, so the
    `pip:` section's relative paths (`-e .`, `-r requirements.txt`) start from it.
    """
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
    notes: list[str] = []
    pip = LineReader(read_include, name_of_path)
    deps = doc.get("dependencies") or []
    if not isinstance(deps, list):
        raise SpecError("dependencies: expected a list", where=str(origin_of(("dependencies",))),
                        hint="list one match spec per line, each starting with '- '")
    for i, item in enumerate(deps):
        path = ("dependencies", i)
        if isinstance(item, Mapping) and list(item) == ["pip"]:
            lines = item["pip"] or []
            if not isinstance(lines, list):
                raise SpecError("pip: expected a list of requirement lines, got "
                                f"{type(lines).__name__} {quote(str(lines))}",
                                where=str(origin_of(path + ("pip",))),
                                hint="write each pip line as a list item under `- pip:`, "
                                     "e.g.\n    - pip:\n        - numpy")
            for j, line in enumerate(lines):
                if isinstance(line, (Mapping, list)) or line is None:
                    raise SpecError(f"pip: item {j} is not a requirement line",
                                    where=str(origin_of(path + ("pip", j))),
                                    hint="write it as a string, e.g. `- numpy>=1.25`")
                pip.line(str(line), origin_of(path + ("pip", j)), "main", base)
        elif isinstance(item, str):
            req, note = _match_spec(item, origin_of(path))
            conda.append(req)
            if note:
                notes.append(note)
        else:
            raise SpecError(f"unexpected dependency entry {quote(str(item))}",
                            where=str(origin_of(path)),
                            hint="each entry is a match spec string or a `pip:` list")
    part = pip.partial(
        name=str(doc["name"]) if doc.get("name") is not None else None,
        conda=tuple(conda),
        channels=tuple(clean_channel(str(c)) for c in channels if str(c) != "nodefaults"),
        channel_priority=str(priority) if priority is not None else None,
        notes=tuple(notes),
    )
    return replace(part, pypi=(), conda_pip=part.pypi)

