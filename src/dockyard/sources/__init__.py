"""Readers: the project's own files (and dockyard.toml) -> ProjectSpec.

    read_project(root)      everything present in the folder, never written to
    read_settings(path)     dockyard.toml alone

The parsers below them are pure (mappings and strings in, spec parts out)
and unit-tested with plain dicts; `read_toml` / `read_yaml` are the only
places a decode error becomes a SpecError naming the file and line.
"""

from __future__ import annotations

from .conda import match_spec, parse_environment
from .locate import Positions, format_field, no_positions, toml_positions, yaml_positions
from .locks import parse_poetry_lock, parse_uv_lock
from .model import Partial
from .poetry import to_pep440
from .project import check_settings, read_project
from .pyproject import parse_pyproject
from .readers import read_toml, read_yaml
from .requirements import parse_requirements
from .settings import parse_settings, read_settings

# Packages that only build or manage environments: they are not runtime dependencies.
# The resolver drops them from what it installs (with a note); the spec keeps them as read.
TOOLS: frozenset[str] = frozenset({
    "conda", "conda-build", "conda-lock", "conda-libmamba-solver", "mamba", "micromamba",
    "boa", "rattler-build", "pixi", "pip", "pipx", "pip-tools", "pipenv", "poetry",
    "poetry-core", "poetry-plugin-export", "pdm", "hatch", "uv", "virtualenv", "tox", "nox",
})

__all__ = [
    "TOOLS", "Partial", "Positions", "check_settings", "format_field", "match_spec",
    "no_positions", "parse_environment", "parse_poetry_lock", "parse_pyproject",
    "parse_requirements", "parse_settings", "parse_uv_lock", "read_project", "read_settings",
    "read_toml", "read_yaml", "to_pep440", "toml_positions", "yaml_positions",
]
