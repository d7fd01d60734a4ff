"""A registry client for pushing and pulling images (OCI distribution API, HTTP v2).

    repo = Repository.open("127.0.0.1:5000/app")       # docker:// optional
    repo.has_blob(digest); repo.mount(digest, "other/base"); repo.push_blob(digest, path)
    repo.put_manifest("1", data, media_type) -> digest
    repo.attach(subject, artifact_manifest)            # OCI 1.1 referrer (+ tag fallback)

Credentials come from `oci.auth.credentials` (docker config, containers auth
file, credential helpers, DOCKYARD_REGISTRY_* for the push destination);
Basic and Bearer challenges are answered, with the scopes an operation needs
(`pull,push` here, `pull` on the repository a blob is mounted from). TLS is
verified except on loopback, where plain HTTP is tried when TLS fails (a
Debian `docker-registry` in tests). Why not oras-py: it has no cross-repository
mount, and pulls in requests for what urllib does here in one small module.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BuildError
from ..redact import redact
from .auth import credentials
from .image import INDEX, MANIFEST, Descriptor, canonical, digest_of

log = logging.getLogger(__name__)
ACCEPT = ", ".join((MANIFEST, INDEX,
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json"))
CHUNK = 1 << 20


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0].strip("[]") if host.count(":") <= 1 or host.startswith("[") \
        else host
    return name in ("localhost", "::1") or name.startswith("127.")


def parse_reference(ref: str) -> tuple[str, str, str]:
    """"[docker://]HOST[:PORT]/NAME[:TAG|@DIGEST]" -> (host, name, tag or digest)."""
    from ..audit.registry import split_ref
    from ..errors import AuditError

    try:
        return split_ref(ref.removeprefix("docker://"))
    except AuditError:
        raise BuildError(f"{ref!r} does not name a registry",
                         hint="write HOST[:PORT]/NAME[:TAG], e.g. 127.0.0.1:5000/app:1") from None


class _NoRedirectAuth(urllib.request.HTTPRedirectHandler):
    """Follow redirects (blob storage) without sending the registry's token elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlparse(newurl).netloc != \
                urllib.parse.urlparse(req.full_url).netloc:
            new.headers.pop("Authorization", None)
            new.unredirected_hdrs.pop("Authorization", None)
        return new


@dataclass
class Registry:
    """One registry host: its scheme, its credentials and the tokens it gave."""

    host: str
    use_env_credentials: bool = False
    scheme: str = "https"
    tokens: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ctx = ssl.create_default_context()
        ca = os.environ.get("SSL_CERT_FILE")
        if ca and os.path.exists(ca):
            self.ctx.load_verify_locations(ca)
        if is_loopback(self.host):
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self.ctx), _NoRedirectAuth())

    def _auth_header(self, challenge: str, scope: str) -> str | None:
        kind, _, params = challenge.partition(" ")
        creds = credentials(self.host, env=self.use_env_credentials)
        if kind.lower() == "basic":
            if not creds:
                return None
            import base64

            return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        fields = {}
        for part in params.split(","):
            key, _, value = part.strip().partition("=")
            fields[key] = value.strip('"')
        realm = fields.pop("realm", "")
        if not realm:
            return None
        query = [(k, v) for k, v in fields.items() if k in ("service",)]
        query += [("scope", s) for s in scope.split(" ") if s]
        req = urllib.request.Request(realm + "?" + urllib.parse.urlencode(query))
        if creds:
            import base64

            req.add_header("Authorization", "Basic " + base64.b64encode(
                f"{creds[0]}:{creds[1]}".encode()).decode())
        try:
            with self.opener.open(req, timeout=60) as resp:
                doc = json.load(resp)
        except (urllib.error.URLError, ValueError) as exc:
            raise BuildError(f"registry {self.host}: the token service refused: "
                             f"{redact(str(exc))}",
                             hint="check the credentials (`podman login`, ~/.docker/config.json "
                             "or DOCKYARD_REGISTRY_USERNAME/PASSWORD)") from None
        token = doc.get("token") or doc.get("access_token")
        return f"Bearer {token}" if token else None

    def request(self, method: str, url_path: str, *, scope: str, data=None,
                headers: dict[str, str] | None = None, ok=(200, 201, 202, 204),
                absolute: str | None = None) -> Any:
        """Send one request (answering an auth challenge once); the open response."""
        for _attempt in range(3):
            url = absolute or f"{self.scheme}://{self.host}/v2/{url_path}"
            req = urllib.request.Request(url, data=data, method=method,
                                         headers=dict(headers or {}))
            if scope in self.tokens:
                req.add_header("Authorization", self.tokens[scope])
            try:
                resp = self.opener.open(req, timeout=300)
            except urllib.error.HTTPError as exc:
                if exc.code == 401 and scope not in self.tokens:
                    header = self._auth_header(exc.headers.get("WWW-Authenticate", ""), scope)
                    if header:
                        self.tokens[scope] = header
                        if hasattr(data, "seek"):
                            data.seek(0)
                        continue
                if exc.code in ok:
                    return exc
                raise self._error(method, url_path, exc) from None
            except urllib.error.URLError as exc:
                if self.scheme == "https" and is_loopback(self.host) and absolute is None:
                    self.scheme = "http"  # a plain-HTTP registry on this machine
                    if hasattr(data, "seek"):
                        data.seek(0)
                    continue
                raise BuildError(f"registry {self.host} is unreachable: {exc.reason}",
                                 hint="check the address and that the registry runs") from None
            return resp
        raise BuildError(f"registry {self.host}: {method} /v2/{url_path}: access denied",
                         hint="log in (`podman login` or `docker login`), or set "
                         "DOCKYARD_REGISTRY_USERNAME and DOCKYARD_REGISTRY_PASSWORD")

    def _error(self, method: str, path: str, exc: urllib.error.HTTPError) -> BuildError:
        try:
            body = exc.read().decode("utf-8", "replace")[:500]
        except OSError:
            body = ""
        if exc.code in (401, 403):
            return BuildError(
                f"registry {self.host}: {method} /v2/{path} was refused ({exc.code})",
                hint="log in (`podman login` or `docker login`), or set "
                "DOCKYARD_REGISTRY_USERNAME and DOCKYARD_REGISTRY_PASSWORD for the destination")
        return BuildError(f"registry {self.host}: {method} /v2/{path} answered {exc.code} "
                          f"{exc.reason} {redact(body)}".rstrip(),
                          hint="check the image name and the registry's logs")


@dataclass
class Repository:
    registry: Registry
    name: str

    @classmethod
    def open(cls, ref: str, *, push: bool = False) -> tuple[Repository, str]:
        host, name, tag = parse_reference(ref)
        return cls(Registry(host, use_env_credentials=push), name), tag

    @property
    def pull(self) -> str:
        return f"repository:{self.name}:pull"

    @property
    def push_scope(self) -> str:
        return f"repository:{self.name}:pull,push"

    # ---- reading ----------------------------------------------------------------------
    def get_manifest(self, ref: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest or index."""
        with self.registry.request("GET", f"{self.name}/manifests/{ref}", scope=self.pull,
                                   headers={"Accept": ACCEPT}) as resp:
            data = resp.read()
            media = resp.headers.get("Content-Type", "").split(";")[0]
        return data, json.loads(data).get("mediaType") or media, digest_of(data)

    def fetch_blob(self, digest: str, dest: Path,
                   on_bytes: Callable[[int], None] | None = None) -> Path:
        """Download a blob to `dest` (written aside, checked, then moved)."""
        import hashlib

        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        h = hashlib.sha256()
        with self.registry.request("GET", f"{self.name}/blobs/{digest}",
                                   scope=self.pull) as resp, open(part, "wb") as out:
            while chunk := resp.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
                if on_bytes:
                    on_bytes(len(chunk))
        if "sha256:" + h.hexdigest() != digest:
            part.unlink(missing_ok=True)
            raise BuildError(f"registry {self.registry.host}: blob {digest} arrived damaged",
                             hint="try again")
        os.replace(part, dest)
        return dest

    # ---- writing ----------------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        resp = self.registry.request("HEAD", f"{self.name}/blobs/{digest}",
                                     scope=self.push_scope, ok=(200, 404))
        with resp:
            return resp.status == 200 if hasattr(resp, "status") else resp.code == 200

    def mount(self, digest: str, source: str) -> bool:
        """Ask for the blob from another repository of this registry; True if it was."""
        scope = f"{self.push_scope} repository:{source}:pull"
        q = urllib.parse.urlencode({"mount": digest, "from": source})
        resp = self.registry.request("POST", f"{self.name}/blobs/uploads/?{q}", scope=scope,
                                     data=b"", ok=(201, 202))
        with resp:
            code = getattr(resp, "status", None) or resp.code
            location = resp.headers.get("Location", "")
        if code == 201:
            return True
        if location:  # 202: a new upload was opened instead; leave it unused
            log.debug("mount of %s from %s not offered", digest, source)
        return False

    def push_blob(self, digest: str, size: int, path: Path | None = None,
                  data: bytes | None = None) -> None:
        """Upload a blob in one PUT (the registry streams it to storage)."""
        resp = self.registry.request("POST", f"{self.name}/blobs/uploads/",
                                     scope=self.push_scope, data=b"", ok=(202,))
        with resp:
            location = resp.headers["Location"]
        url = urllib.parse.urljoin(f"{self.registry.scheme}://{self.registry.host}/", location)
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        if path is not None:
            with open(path, "rb") as body:
                self.registry.request("PUT", "", scope=self.push_scope, data=body,
                                      headers=headers, absolute=url, ok=(201,)).close()
        else:
            self.registry.request("PUT", "", scope=self.push_scope, data=data or b"",
                                  headers=headers, absolute=url, ok=(201,)).close()

    def put_manifest(self, ref: str, data: bytes, media_type: str) -> tuple[str, dict]:
        """PUT a manifest under `ref` (a tag or its digest); (digest, response headers)."""
        resp = self.registry.request("PUT", f"{self.name}/manifests/{ref}",
                                     scope=self.push_scope, data=data,
                                     headers={"Content-Type": media_type}, ok=(201,))
        with resp:
            headers = dict(resp.headers.items())
        return digest_of(data), headers

    def attach(self, subject: Descriptor, artifact: dict[str, Any]) -> str:
        """Push `artifact` (a manifest whose `subject` is `subject`) as a referrer.

        Registries with the OCI 1.1 referrers API say so with `OCI-Subject`; for the
        others, the referrers tag schema: an index tagged `sha256-<hex>` lists it."""
        data = canonical(artifact)
        digest, headers = self.put_manifest(digest_of(data), data, MANIFEST)
        if any(k.lower() == "oci-subject" for k in headers):
            return digest
        tag = subject.digest.replace(":", "-")
        try:
            old, _, _ = self.get_manifest(tag)
            index = json.loads(old)
        except BuildError:
            index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": []}
        entry = Descriptor(MANIFEST, digest, len(data),
                           artifact_type=artifact.get("artifactType", "")).as_json()
        if artifact.get("annotations"):
            entry["annotations"] = artifact["annotations"]
        manifests = [m for m in index.get("manifests", []) if m.get("digest") != digest]
        index["manifests"] = manifests + [entry]
        self.put_manifest(tag, canonical(index), INDEX)
        return digest


def copy_file(src: Path, dest: Path) -> None:
    """Hard-link when possible (same disk: instant for GBs), else copy."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)


__all__ = ["Registry", "Repository", "copy_file", "is_loopback", "parse_reference"]
