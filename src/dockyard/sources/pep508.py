"""PEP 508 requirements and direct references -> PypiRequirement.

Every URL goes through `clean_url` before it is stored: credentials are
stripped, and no message ever shows them (everything shown is redacted).
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import SpecError
from ..redact import redact, strip_credentials
from ..spec import GitSource, Origin, PypiRequirement


def split_url(url: str) -> SplitResult:
    """`urlsplit`, with a SpecError where urllib raises ValueError (`http://[x]/`): every
    URL a project file holds goes through here."""
    try:
        split = urlsplit(url)
    except ValueError as exc:
        raise SpecError(f"{quote(url)} is not a valid URL ({safe_text(str(exc))})",
                        hint="check the URL's host: an IPv6 address is written in brackets, "
                             "nothing else is") from None
    return split


def clean_url(url: str) -> str:
    """The URL without credentials. `ssh://git@host` keeps its user name: it is no secret."""
    split = split_url(url)
    if split.scheme.endswith("ssh") and split.username and split.password is None:
        return url
    return strip_credentials(url)


# starts only where a token starts (after a space, quote, ':' or '@'): linear time, where
# `(?<![\w/])` let every '{' of a long run start a match (3 s for a 100 kB line)
_BARE_USERINFO = re.compile(r"(?<![^\s@:'\"])[^\s/@:'\"]+:[^\s/@'\"]+@")


_CONDA_TOKEN = re.compile(r"(://[^/\s]+)/t/[^/\s]+")


_WORD_SECRET = re.compile(r"\b(password|passwd|token|secret|api[_-]?key)(\s*[:=]?\s+|[:=])\S+",
                          re.IGNORECASE)


def safe_text(text: str) -> str:
    """`redact`, plus `user:secret@host` written without a scheme (not a URL to redact),
    anaconda.org-style channel tokens (`https://host/t/TOKEN/channel`) and netrc-style
    `password WORD` (a credentials file included by mistake)."""
    text = _CONDA_TOKEN.sub(r"\1/t/***", _BARE_USERINFO.sub("***@", redact(text)))
    return _WORD_SECRET.sub(lambda m: f"{m[1]}{m[2]}***", text)


def pasteable(url: str) -> str:
    """A URL a hint may suggest: no userinfo and no secret query parameter at all
    (`***` in a suggestion breaks when pasted; credentials come from netrc or the
    environment, never from the URL)."""
    split = split_url(strip_credentials(url))
    query = "&".join(p for p in split.query.split("&")
                     if p and not redact("?" + p).endswith("***"))
    return split._replace(query=query).geturl()


def quote(text: str, limit: int = 120) -> str:
    """Text from a file, as an error message may show it: redacted, its first line only,
    cut to `limit` characters (a file included by mistake is never printed whole)."""
    lines = text.strip().splitlines() or [""]
    shown = safe_text(lines[0])
    if len(shown) > limit:
        shown = shown[:limit] + "..."
    if len(lines) > 1:
        shown += f" (+{len(lines) - 1} more lines)"
    return repr(shown)


def clean_channel(channel: str) -> str:
    """A conda channel without credentials: userinfo and the `/t/TOKEN` segment removed
    (conda reads such tokens from its own configuration, not from the URL we keep)."""
    return _CONDA_TOKEN.sub(r"\1", clean_url(channel))


def git_source(url: str, kind: str = "default", ref: str | None = None,
               subdirectory: str | None = None) -> GitSource:
    """A GitSource from a plain repository URL (not the pip `git+...@ref#...` form).

    A pip-style fragment left in the URL (`repo.git#egg=name`, `#subdirectory=x`, as
    FinRL's pyproject writes it) is read, not sent to git as part of the address."""
    url, _, fragment = url.partition("#")
    params = {k: v[-1] for k, v in parse_qs(fragment).items()}
    subdirectory = subdirectory or params.get("subdirectory")
    return GitSource(url=clean_url(url), kind=kind, ref=ref, subdirectory=subdirectory)  # type: ignore[arg-type]


def parse_vcs_url(url: str) -> tuple[GitSource, dict[str, str]]:
    """`git+https://host/repo.git@ref#subdirectory=x&egg=name` -> GitSource and fragment."""
    body = url[len("git+"):] if url.startswith("git+") else url
    body, _, fragment = body.partition("#")
    params = {k: v[-1] for k, v in parse_qs(fragment).items()}
    split = split_url(body)
    path, ref = split.path, None
    if "@" in path:
        path, _, ref = path.rpartition("@")
    base = split._replace(path=path).geturl()
    kind = "rev" if ref else "default"
    return git_source(base, kind, unquote(ref) if ref else None,
                      params.get("subdirectory")), params


def requirement(text: str, origin: Origin, group: str = "main",
                base: str = "") -> PypiRequirement:
    """Parse one PEP 508 requirement; `base` is the folder (relative to the root) of
    the file it came from, for relative `file:` references."""
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise SpecError(f"not a valid PEP 508 requirement: {quote(text)} "
                        f"({quote(str(exc)).strip(chr(39))})",
                        where=str(origin),
                        hint='write it as NAME[EXTRAS] SPECIFIER ; MARKER, e.g. '
                             '"numpy>=1.25,<2" or "torch ; sys_platform == \'linux\'"') from None
    name = canonicalize_name(req.name)
    extras = tuple(sorted(req.extras))
    marker = str(req.marker) if req.marker else ""
    common = dict(name=name, extras=extras, marker=marker, group=group, origin=origin)
    if not req.url:
        return PypiRequirement(specifier=str(req.specifier), **common)  # type: ignore[arg-type]
    return direct_reference(req.url, common, base)


def direct_reference(url: str, common: dict, base: str = "") -> PypiRequirement:
    """`name @ URL`: a git source, a local path or an archive URL."""
    if url.startswith("git+"):
        git, _ = parse_vcs_url(url)
        return PypiRequirement(git=git, **common)
    if url.startswith("file:"):
        path = unquote(split_url(url).path) or "."
        return PypiRequirement(path=local_path(path, base), **common)
    if "://" not in url:  # uv and pip accept plain paths after "@"
        return PypiRequirement(path=local_path(url, base), **common)
    return PypiRequirement(url=clean_url(url), **common)


def local_path(path: str, base: str = "") -> str:
    """A path relative to the project root (absolute paths are kept as they are)."""
    if posixpath.isabs(path):
        return posixpath.normpath(path)
    return posixpath.normpath(posixpath.join(base, path)) if base else posixpath.normpath(path)
