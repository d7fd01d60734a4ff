"""The commented dockyard.toml that `dockyard init` writes, from what was detected (pure).

Active keys are only what can be known from the project (platform, the
interpreter pinned in environment.yml, defaults); what belongs to the
platform (CUDA, base image) is left commented for the user to fill in.
`read_settings` must accept the result: tests check it.
"""

from __future__ import annotations

import re
import textwrap
from collections import defaultdict

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from ..spec import CondaRequirement, ProjectSpec, PypiRequirement
from .settings import FILENAME

KNOWN_PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
_PIN = re.compile(r"^python\s+(?:==)?(\d+\.\d+)(?:\.\d+)*(?:\.\*)?$")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _list(items: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(_quote(i) for i in items) + "]"


def allowed_pythons(spec: ProjectSpec) -> list[str]:
    """Known minor versions that requires-python allows."""
    if not spec.requires_python:
        return list(KNOWN_PYTHONS)
    try:
        specifier = SpecifierSet(spec.requires_python)
    except InvalidSpecifier:
        return []
    return [v for v in KNOWN_PYTHONS if specifier.contains(f"{v}.0", prereleases=True)]


def interpreter(spec: ProjectSpec) -> tuple[str | None, str]:
    """The Python the project pins ("3.12") and a sentence on where that comes from."""
    for c in spec.conda:
        m = _PIN.match(c.spec) if c.name == "python" else None
        if m:
            how = f"{c.origin.file} pins {c.spec!r} at {c.origin}"
            if spec.requires_python:
                how += f"; pyproject.toml requires-python {spec.requires_python!r}"
            return m[1], how
    if spec.requires_python:
        allowed = allowed_pythons(spec)
        return None, (f"no interpreter pin; requires-python {spec.requires_python!r} allows "
                      f"{', '.join(allowed) or 'none of ' + ', '.join(KNOWN_PYTHONS)}")
    return None, "no interpreter pin and no requires-python: set python below"


def both_sources(spec: ProjectSpec) -> list[tuple[CondaRequirement, list[PypiRequirement]]]:
    """Packages asked for from conda and from PyPI (same name, as the resolver compares)."""
    pypi: dict[str, list[PypiRequirement]] = defaultdict(list)
    for r in spec.pypi + spec.conda_pip:
        pypi[r.name].append(r)
    return [(c, pypi[c.name]) for c in spec.conda if c.name in pypi]


def _how(r: PypiRequirement) -> str:
    if r.git is not None:
        ref = f"@{r.git.ref}" if r.git.ref else ""
        return f"git {r.git.url}{ref}"
    if r.url or r.path:
        return f"{r.url or r.path}"
    return r.specifier or "any version"


def _wrap(line: str, width: int = 92) -> list[str]:
    """Long comment lines folded at spaces, continued with `#   `."""
    if not line.startswith("#") or len(line) <= width:
        return [line]
    return textwrap.wrap(line[1:].strip(), width - 2, initial_indent="# ",
                         subsequent_indent="#   ", break_long_words=False,
                         break_on_hyphens=False)


def render_settings(spec: ProjectSpec, tools: frozenset[str] = frozenset(),
                    environment: str | bool | None = None) -> str:
    """dockyard.toml text describing `spec`, with sensible active defaults.

    `environment` is the choice `dockyard init --environment` was given (False: none);
    a file found on its own in a subfolder is written too, so the choice is explicit."""
    out: list[str] = []

    def add(line: str) -> None:
        out.extend(_wrap(line))
    add(f"# {FILENAME}: deployment settings for {spec.name or 'this project'}, "
        "written by `dockyard init`.")
    add("# dockyard reads the project's own files and never edits them; what belongs to the")
    add("# image and the platform goes here. Delete a key to get its default.")
    add("#")
    add("# Files read:")
    for f in spec.inputs:
        add(f"#   {f.path}")
    groups: dict[str, list[PypiRequirement]] = defaultdict(list)
    for r in spec.pypi:
        groups[r.group].append(r)
    if spec.pypi:
        add("# PyPI packages asked for, by group:")
        for group, reqs in groups.items():
            files = sorted({r.origin.file for r in reqs})
            state = ("optional, see install.extras" if group.startswith("extra:") else
                     "optional, see install.groups" if group in spec.optional_groups else
                     "installed")
            add(f"#   {group}: {len(reqs)} ({', '.join(files)}), {state}")
    if spec.conda_pip:
        add(f"#   environment pip: section: {len(spec.conda_pip)}, installed")
    if spec.conda:
        add(f"# conda packages asked for: {', '.join(dict.fromkeys(c.name for c in spec.conda))}")
    asked = {c.name for c in spec.conda} | {r.name for r in spec.pypi + spec.conda_pip}
    found_tools = sorted(asked & tools)
    if found_tools:
        add(f"# {', '.join(found_tools)}: build/environment tools, not installed in the image.")
    for lock in spec.locks:
        entries = [p for p in lock.pins if not p.local]
        if not entries:
            continue
        names = [p.name for p in entries]
        split = len(names) - len(set(names))
        more = (f"; {split} packages listed more than once (per Python version, platform or "
                "extra): those that apply to the target bind") if split else ""
        add(f"# {lock.file}: {len(entries)} pinned versions, honoured (see "
            f"install.honour-project-lock){more}.")

    python, how = interpreter(spec)
    add("")
    add("[target]")
    add('platform = "linux-64"   # conda subdir of the target')
    add(f"# Interpreter: {how}.")
    suggestion = (allowed_pythons(spec) or ["3.12"])[0]
    add(f"python = {_quote(python)}" if python else f"# python = {_quote(suggestion)}")
    add('glibc = "2.28"          # manylinux tag for uv, __glibc for the conda solve')
    add("# The platform's CUDA and base image: fill these in.")
    add('# cuda = "12.6"')
    add('# base = "registry.example/cuda12.6-jupyter-py3.13:2026.11"')

    optional = [g for g in spec.optional_groups if g in groups]
    installed = [g for g in groups if g not in optional and not g.startswith("extra:")]
    extras = [g[6:] for g in groups if g.startswith("extra:")]
    add("")
    add("[install]")
    add(f"# Groups installed by default: {', '.join(installed) or 'none'}.")
    add(f"# Optional groups you may add: {', '.join(optional) or 'none'}.")
    add("groups = []")
    add(f"# Extras available: {', '.join(extras) or 'none'}.")
    add("extras = []")
    add('# Extra PEP 508 constraints, e.g. ["pyarrow<26"].')
    add("constraints = []")
    add("# poetry.lock / uv.lock pins bind the resolution"
        + (" (none found)." if not spec.pins else "."))
    add("honour-project-lock = true")
    add("# The env is registered as a Jupyter kernel of the base's Jupyter: dockyard adds")
    add("# ipykernel to the lock unless the project asks for it (false: leave it out).")
    add("kernel = true")

    add("")
    add("[sources]")
    both = both_sources(spec)
    if both:
        add("# Asked for from both conda and PyPI. By default conda owns them; to take")
        add('# the PyPI one instead, uncomment NAME = "pypi".')
        for c, reqs in both:
            pypi = "; ".join(f"{_how(r)} at {r.origin}" for r in reqs)
            add(f"# {c.name}: conda {c.spec!r} at {c.origin}; PyPI {pypi}")
            add(f'# {c.name} = "pypi"')
    else:
        add("# No package is asked for from both conda and PyPI. To choose an owner:")
        add('# NAME = "conda"   # or "pypi"')

    add("")
    add("[conda]")
    if spec.conda or spec.channels:
        add(f"# From the environment file: channels {', '.join(spec.channels) or 'none'}"
            f", priority {spec.channel_priority}; dockyard never adds the `defaults` "
            "channel on its own. Set these to replace them:")
    else:
        add("# No environment file; conda is used for what [sources] assigns to it.")
    add(f"# channels = {_list(spec.channels or ('conda-forge',))}")
    add(f'# channel-priority = "{spec.channel_priority}"')
    add("# The conda environment file (part of the lock's inputs); false: none.")
    if environment is False:
        add("environment = false")
    elif spec.environment and (environment or "/" in spec.environment):
        add(f"environment = {_quote(spec.environment)}")
    elif spec.environment:
        add(f"# environment = {_quote(spec.environment)}   # found at the root")
    else:
        add('# environment = "binder/environment.yml"')

    add("")
    if spec.indexes:
        add("# Indexes the project declares: "
            + ", ".join(f"{i.name} ({i.origin})" for i in spec.indexes) + ".")
    add("# Extra PyPI-style indexes, and packages routed to them:")
    add("# [[index]]")
    add('# name = "pytorch-cu126"')
    add('# url = "https://download.pytorch.org/whl/cu126"')
    add("# explicit = true          # only packages routed to it use it")
    add("#")
    add("# [routes]")
    add('# torch = "pytorch-cu126"')

    add("")
    add("[cuda]")
    add("# Lock anyway when the CUDA of the GPU packages disagrees with target.cuda:")
    add("accept-mismatch = false")
    return "\n".join(out) + "\n"
