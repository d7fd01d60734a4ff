"""Registry credentials, found where engines keep them; never printed, never stored.

`credentials(host, env=True)` returns (username, password) or None, from, in
order:
- `DOCKYARD_REGISTRY_USERNAME` / `DOCKYARD_REGISTRY_PASSWORD` (CI secrets), only
  when `env` is true: dockyard passes it for the registry it pushes to, so a
  token meant for it never goes to a base image's registry;
- the containers auth file: `$REGISTRY_AUTH_FILE`, else
  `$XDG_RUNTIME_DIR/containers/auth.json` (what `podman login` writes);
- the docker config: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`,
  its `auths` (`auth` or `username`/`password`) and its credential helpers
  (`credHelpers`, `credsStore`: `docker-credential-NAME get`).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess

ENV_USER = "DOCKYARD_REGISTRY_USERNAME"
ENV_PASSWORD = "DOCKYARD_REGISTRY_PASSWORD"


def _host_of(key: str) -> str:
    return key.split("://", 1)[-1].split("/", 1)[0]


def _config_files() -> list[str]:
    files = [os.environ.get("REGISTRY_AUTH_FILE", "")]
    if os.environ.get("XDG_RUNTIME_DIR"):
        files.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "containers", "auth.json"))
    docker = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
    files.append(os.path.join(docker, "config.json"))
    return [f for f in files if f]


def _helper(name: str, host: str) -> tuple[str, str] | None:
    try:
        done = subprocess.run([f"docker-credential-{name}", "get"], input=host,
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    try:
        doc = json.loads(done.stdout)
    except ValueError:
        return None
    return (doc.get("Username", ""), doc.get("Secret", "")) if doc.get("Secret") else None


def _from_file(path: str, host: str) -> tuple[str, str] | None:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    helper = (doc.get("credHelpers") or {}).get(host)
    if helper:
        return _helper(helper, host)
    for key, value in (doc.get("auths") or {}).items():
        if _host_of(key) != host or not isinstance(value, dict):
            continue
        if value.get("auth"):
            try:
                user, _, password = base64.b64decode(value["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
            return user, password
        if value.get("username") and value.get("password"):
            return value["username"], value["password"]
    if doc.get("credsStore"):
        return _helper(doc["credsStore"], host)
    return None


def credentials(host: str, env: bool = True) -> tuple[str, str] | None:
    """(username, password) for `host` ("HOST[:PORT]"), or None: see the module docstring."""
    if env and os.environ.get(ENV_USER) and os.environ.get(ENV_PASSWORD):
        return os.environ[ENV_USER], os.environ[ENV_PASSWORD]
    for path in _config_files():
        found = _from_file(path, host)
        if found:
            return found
    return None


__all__ = ["ENV_PASSWORD", "ENV_USER", "credentials"]
