"""Find credentials in text without ever keeping them.

`scan_text(path, text)` returns `SecretHit`s whose preview has the secret
replaced by `***`; `mask(text)` is `dockyard.redact.redact` plus the patterns
below, for history lines and ENV values. Pure functions.
"""

from __future__ import annotations

import posixpath
import re

from ..redact import redact
from .model import SecretHit

# Names of files that hold credentials when they hold any (content is scanned).
CONFIG_NAMES = {
    "pip.conf", "pip.ini", "uv.toml", ".condarc", "condarc", ".netrc", "_netrc", ".pypirc",
    ".git-credentials", ".npmrc", ".env", "application_default_credentials.json",
    "credentials.db", ".dockercfg", ".pgpass", ".s3cfg", ".boto", "rclone.conf",
    "credentials.json", "service-account.json", "service_account.json", "gcp-key.json",
}
KEY_PREFIXES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")

_PRIVATE_KEY = re.compile(r"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY)-----"
                          r"[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)")
_AWS_KEY = re.compile(r"\b((?:AKIA|ASIA)[0-9A-Z]{16})\b")
_AWS_SECRET = re.compile(r"(?i)(aws_secret_access_key\s*[=:]\s*)([A-Za-z0-9/+=]{40})")
_GCP_KEY = re.compile(r'("private_key"\s*:\s*")[^"]+(")')
_TOKENS = re.compile(r"\b(ghp_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,}|glpat-[A-Za-z0-9_\-]{20}"
                     r"|pypi-[A-Za-z0-9_\-]{50,}|hf_[A-Za-z0-9]{30,}|xox[bpas]-[A-Za-z0-9\-]{10,})\b")
_URL_CREDS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*://)([^/@\s:\"']+(?::[^/@\s\"']*)?)@")
_NETRC_PASSWORD = re.compile(r"(?i)(\bpassword\s+)(\S+)")
# key = value lines in pip/uv/conda/npm configs and .env files
_ASSIGN_SECRET = re.compile(
    r"(?im)^(\s*[\w.\-]*(?:password|passwd|token|secret|_auth|api[_-]?key)[\w.\-]*\s*[=:]\s*)"
    r"(['\"]?)([^\s'\"#]+)(['\"]?)")


def secret_env_name(name: str) -> bool:
    upper = name.upper()
    return any(w in upper for w in ("TOKEN", "PASSWORD", "PASSWD", "SECRET", "API_KEY", "APIKEY",
                                     "ACCESS_KEY", "PRIVATE_KEY", "CREDENTIAL"))


def wants_scan(path: str) -> bool:
    """Should the content of this file be scanned for credentials?"""
    name = posixpath.basename(path)
    if name in CONFIG_NAMES or name.endswith((".pem", ".key", ".p12")):
        return True
    if name.startswith(KEY_PREFIXES) and not name.endswith(".pub"):
        return True
    parent = posixpath.basename(posixpath.dirname(path))
    return (parent == ".aws" and name in ("credentials", "config")) or (
        parent in (".docker", "containers") and name in ("config.json", "auth.json")) or (
        parent == ".kube" and name == "config")


def mask(text: str) -> str:
    """The text with every credential this module knows replaced by `***`."""
    text = _PRIVATE_KEY.sub(lambda m: f"-----BEGIN {m[1]}----- *** -----END {m[1]}-----", text)
    text = _URL_CREDS.sub(lambda m: f"{m[1]}***@", text)
    text = _AWS_SECRET.sub(lambda m: f"{m[1]}***", text)
    text = _AWS_KEY.sub(lambda m: m[1][:4] + "***", text)
    text = _GCP_KEY.sub(lambda m: f"{m[1]}***{m[2]}", text)
    text = _TOKENS.sub(lambda m: m[1].split("_")[0].split("-")[0] + "***", text)
    text = _ASSIGN_SECRET.sub(lambda m: f"{m[1]}{m[2]}***{m[4]}", text)
    text = _NETRC_PASSWORD.sub(lambda m: f"{m[1]}***", text)
    return redact(text)


def scan_text(where: str, text: str, *, config: bool = True) -> list[SecretHit]:
    """Credentials in `text` (a config file when `config`, else a history line or ENV)."""
    hits: list[SecretHit] = []

    def hit(kind: str, m: re.Match[str], secret: str, preview_line: str | None = None) -> None:
        pos = m.start()
        line_no = text.count("\n", 0, pos) + 1
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        line = preview_line or text[start: end if end >= 0 else len(text)]
        loc = f"{where}:{line_no}" if config else where
        preview = mask(line.strip())[:160]
        if not secret or secret in preview:   # never keep what we could not mask
            preview = f"{kind} ***"
        hits.append(SecretHit(kind=kind, where=loc, preview=preview))

    for m in _PRIVATE_KEY.finditer(text):
        hit("private-key", m, m[0], f"-----BEGIN {m[1]}----- ***")
    for m in _URL_CREDS.finditer(text):
        hit("url-credentials", m, m[2])
    for m in _AWS_KEY.finditer(text):
        hit("aws-access-key", m, m[1])
    for m in _AWS_SECRET.finditer(text):
        hit("aws-secret-key", m, m[2])
    for m in _GCP_KEY.finditer(text):
        hit("gcp-service-account-key", m, m[0], '"private_key": "***"')
    for m in _TOKENS.finditer(text):
        hit("api-token", m, m[1])
    if config:
        name = posixpath.basename(where)
        if name in (".netrc", "_netrc"):
            for m in _NETRC_PASSWORD.finditer(text):
                hit("netrc-password", m, m[2])
        else:
            for m in _ASSIGN_SECRET.finditer(text):
                if not any(h.where.endswith(f":{text.count(chr(10), 0, m.start()) + 1}")
                           for h in hits):
                    hit("config-password", m, m[3])
    return _unique(hits)


def _unique(hits: list[SecretHit]) -> list[SecretHit]:
    seen: set[tuple[str, str]] = set()
    out = []
    for h in hits:
        if (h.kind, h.where) not in seen:
            seen.add((h.kind, h.where))
            out.append(h)
    return out
