"""Read an image from a registry over the HTTP API v2 (the edge), layers streamed.

`read_registry("127.0.0.1:5000/app:1", tls_verify=False)` talks plain HTTP or
unverified HTTPS, as `podman --tls-verify=false` does. Anonymous bearer tokens
are fetched when the registry asks for them; credentials for Basic auth come
from the containers auth file (`REGISTRY_AUTH_FILE`, or
`$XDG_RUNTIME_DIR/containers/auth.json`, or `~/.docker/config.json`), never
from the command line, and never appear in a message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from ..errors import AuditError
from ..redact import redact
from .model import RawImage
from .scan import scan_layer

MANIFEST_TYPES = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))


def split_ref(ref: str) -> tuple[str, str, str]:
    """"host:port/name:tag" -> (host:port, name, tag or digest)."""
    host, _, rest = ref.partition("/")
    if not rest or ("." not in host and ":" not in host and host != "localhost"):
        raise AuditError(f"docker://{ref}: no registry host",
                         hint="write docker://HOST[:PORT]/NAME[:TAG], e.g. docker://127.0.0.1:5000/app:1")
    if "@" in rest:
        name, _, ref_ = rest.partition("@")
    else:
        tagged = ":" in rest.rsplit("/", 1)[-1]
        name, _, ref_ = rest.rpartition(":") if tagged else (rest, "", "latest")
    return host, name, ref_ or "latest"


class _Client:
    def __init__(self, host: str, name: str, tls_verify: bool):
        self.host, self.name, self.tls_verify = host, name, tls_verify
        self.scheme = "https"
        self.token: str | None = None
        self.ctx = ssl.create_default_context()
        if not tls_verify:
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE

    def open(self, path: str, accept: str | None = None):
        url = f"{self.scheme}://{self.host}/v2/{self.name}/{path}"
        for _ in range(2):
            req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
            if self.token:
                req.add_header("Authorization", self.token)
            try:
                return urllib.request.urlopen(req, context=self.ctx, timeout=60)
            except urllib.error.HTTPError as exc:
                if exc.code == 401 and not self.token:
                    self.token = self._auth(exc.headers.get("WWW-Authenticate", ""))
                    continue
                raise AuditError(f"registry {self.host}: GET /v2/{self.name}/{path} "
                                 f"answered {exc.code} {exc.reason}",
                                 hint="check the image name and tag, and your credentials "
                                      "(podman login)") from exc
            except urllib.error.URLError as exc:
                if self.scheme == "https" and not self.tls_verify:
                    self.scheme = "http"   # what --tls-verify=false allows
                    url = f"http://{self.host}/v2/{self.name}/{path}"
                    continue
                raise AuditError(f"registry {self.host} is unreachable: {exc.reason}",
                                 hint="is the registry running? for a plain-HTTP registry on "
                                      "loopback pass --tls-verify=false") from exc
        raise AuditError(f"registry {self.host}: access denied to {self.name}",
                         hint="log in with `podman login` so the auth file has credentials")

    def _auth(self, challenge: str) -> str | None:
        scheme, _, params = challenge.partition(" ")
        basic = _basic_credentials(self.host)
        if scheme.lower() == "basic":
            return f"Basic {basic}" if basic else None
        fields = dict(urllib.parse.parse_qsl(params.replace(",", "&").replace('"', "")))
        realm = fields.pop("realm", "")
        if not realm:
            return None
        fields.setdefault("scope", f"repository:{self.name}:pull")
        req = urllib.request.Request(realm + "?" + urllib.parse.urlencode(fields))
        if basic:
            req.add_header("Authorization", f"Basic {basic}")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=60) as resp:
                data = json.loads(resp.read(1 << 20))
            if not isinstance(data, dict):
                raise ValueError("the token answer is not a JSON object")
        except (urllib.error.URLError, ValueError, OSError) as exc:
            raise AuditError(f"registry {self.host}: token request failed: "
                             f"{redact(str(exc))}", hint="check your credentials") from exc
        token = data.get("token") or data.get("access_token")
        return f"Bearer {token}" if isinstance(token, str) and token else None

    def document(self, path: str, what: str, accept: str | None = None,
                 digest: str | None = None) -> dict[str, Any]:
        """A manifest, index or config: size-capped, checked against `digest` when given."""
        from .sources import MAX_DOC, _digest_of, _verify, parse_doc

        ref = f"docker://{self.host}/{self.name}"
        with self.open(path, accept) as resp:
            try:
                data = resp.read(MAX_DOC + 1)
            except OSError as exc:
                raise AuditError(f"registry {self.host}: reading {what} failed: {exc}",
                                 hint="is the registry reachable?") from None
        if len(data) > MAX_DOC:
            raise AuditError(f"{ref}: {what} is larger than {MAX_DOC >> 20} MiB",
                             hint="that is not an image document; check the registry")
        if digest is not None:
            _verify(what, digest, _digest_of(data, digest.split(":")[0]), ref)
        return parse_doc(data, what, ref)


def _basic_credentials(host: str) -> str | None:
    paths = [os.environ.get("REGISTRY_AUTH_FILE", "")]
    if os.environ.get("XDG_RUNTIME_DIR"):
        paths.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "containers", "auth.json"))
    paths.append(os.path.expanduser("~/.docker/config.json"))
    for path in filter(None, paths):
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.loads(f.read(1 << 20))
        except (OSError, ValueError):
            continue
        auths = doc.get("auths", {}) if isinstance(doc, dict) else {}
        if not isinstance(auths, dict):
            continue
        for key, value in auths.items():
            if key.split("//")[-1].split("/")[0] == host and isinstance(value, dict) \
                    and isinstance(value.get("auth"), str):
                try:
                    base64.b64decode(value["auth"], validate=True)
                except ValueError:
                    raise AuditError(f"the credentials for {host} in {path} are not base64",
                                     hint="log in again with `podman login`") from None
                return value["auth"]
    return None


def read_registry(ref: str, *, tls_verify: bool = True,
                  on_bytes: Callable[[int], None] | None = None, layers: bool = True) -> RawImage:
    from .scan import Budget
    from .sources import (
        _pick_manifest,
        _verify,
        _verify_one_diff_id,
        check_config,
        check_digest,
        manifest_parts,
        raw_image,
        verify_diff_ids,
    )

    host, name, tag = split_ref(ref)
    shown = f"docker://{ref}"
    client = _Client(host, name, tls_verify)
    pinned = None
    if ":" in tag:   # name@sha256:...: what comes back must be that
        check_digest(tag, "the reference", shown)
        pinned = tag
    doc = client.document(f"manifests/{tag}", "the manifest", MANIFEST_TYPES, pinned)
    if "manifests" in doc:
        doc, _ = _pick_manifest(
            doc, lambda d: client.document(f"manifests/{d}", "a manifest", MANIFEST_TYPES, d),
            shown)
    (config_digest, _), descs = manifest_parts(doc, shown)
    config = client.document(f"blobs/{config_digest}", "the config", None, config_digest)
    check_config(config, shown)
    scans = []
    if layers:
        budget = Budget(what=shown)
        for i, (digest, algo) in enumerate(descs):
            with client.open(f"blobs/{digest}") as resp:
                scan = scan_layer(resp, digest, on_bytes, budget=budget, blob_algo=algo)
            _verify(f"layer {i} ({digest[:19]})", digest, scan.blob_digest, shown)
            _verify_one_diff_id(config, i, scan, shown)
            scans.append(scan)
        verify_diff_ids(config, scans, shown)
    return raw_image(shown, config, scans)


def manifest_digest(ref: str, *, tls_verify: bool = True) -> str:
    """The digest under which the registry serves `ref` (what `NAME@sha256:...` pins).

    Used by `dockyard cluster` to name pushed images by digest in manifests."""
    from .sources import MAX_DOC

    host, name, tag = split_ref(ref)
    with _Client(host, name, tls_verify).open(f"manifests/{tag}", MANIFEST_TYPES) as resp:
        body = resp.read(MAX_DOC + 1)
        header = resp.headers.get("Docker-Content-Digest")
    if len(body) > MAX_DOC:
        raise AuditError(f"docker://{ref}: the manifest is larger than {MAX_DOC >> 20} MiB",
                         hint="that is not an image manifest; check the registry")
    computed = "sha256:" + hashlib.sha256(body).hexdigest()
    if header and header.startswith("sha256:") and header != computed:
        raise AuditError(f"docker://{ref}: the registry says the manifest is {header}, "
                         f"its bytes are {computed}", hint="check the registry")
    return computed
