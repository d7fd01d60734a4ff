"""A registry that lies or floods: oversized documents, blobs that are not what they claim.

A loopback HTTP server speaks just enough of the registry API v2 to serve one
image made in the test, then changes one answer per case.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading

import pytest

from dockyard.audit.sources import parse_ref, read_image
from dockyard.errors import AuditError
from dockyard.testing import archives as A


def _image():
    tar = A.tar({"etc/hello": b"hello\n"})
    index, files = A.oci_blobs([A.compress(tar, "gzip")])
    blobs = {"sha256:" + name.rsplit("/", 1)[1]: data for name, data in files.items()}
    manifest_digest = index["manifests"][0]["digest"]
    return blobs, manifest_digest


@contextlib.contextmanager
def registry(change=None):
    """Serve the image as app:1; `change(path, body) -> body` alters an answer."""
    blobs, manifest = _image()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
            pass

        def do_GET(self):
            path = self.path
            if path.startswith("/v2/app/manifests/"):
                ref = path.rsplit("/", 1)[1]
                body = blobs.get(manifest if ref == "1" else ref)
                kind = "application/vnd.oci.image.manifest.v1+json"
            elif path.startswith("/v2/app/blobs/"):
                body = blobs.get(path.rsplit("/", 1)[1])
                kind = "application/octet-stream"
            else:
                body = None
            if change is not None and body is not None:
                body = change(path, body)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"docker://127.0.0.1:{server.server_address[1]}/app", manifest
    finally:
        server.shutdown()
        server.server_close()


def _read(ref: str):
    return read_image(parse_ref(ref), tls_verify=False)


def test_an_honest_registry_is_read():
    with registry() as (url, _):
        raw = _read(f"{url}:1")
    assert [e.path for e in raw.layers[0].entries] == ["/etc/hello"]


def _layer_or_config(want: str):
    def change(path, body):
        is_layer = body[:2] == b"\x1f\x8b"
        if path.startswith("/v2/app/blobs/") and (is_layer == (want == "layer")):
            return A.compress(A.tar({"etc/hello": b"evil!\n"}), "gzip") if is_layer \
                else body.replace(b'"1000"', b'"0"   ')
        return body
    return change


@pytest.mark.parametrize("what", ["layer", "config"])
def test_a_blob_that_is_not_what_its_digest_says(what):
    with registry(_layer_or_config(what)) as (url, _):
        with pytest.raises(AuditError, match="does not match its digest"):
            _read(f"{url}:1")


def test_a_manifest_pulled_by_digest_must_be_that_manifest():
    def change(path, body):
        if "/manifests/" in path:
            doc = json.loads(body)
            doc["annotations"] = {"x": "y"}
            return json.dumps(doc).encode()
        return body

    with registry(change) as (url, digest):
        with pytest.raises(AuditError, match="does not match its digest"):
            _read(f"{url}@{digest}")


@pytest.mark.parametrize("body, needle", [
    (b'{"a": "' + b"x" * (9 << 20) + b'"}', "larger than 8 MiB"),
    (b"[" * 50_000, "not valid JSON"),
    (b'{"schemaVersion": 2}', "names no config"),
    (b'{"config": {"digest": "sha256:../../v2/_catalog"}, "layers": []}', "which is not one"),
    (b'{"manifests": []}', "lists no image"),
])
def test_hostile_manifests(body, needle):
    with registry(lambda path, old: body if "/manifests/" in path else old) as (url, _):
        with pytest.raises(AuditError, match=needle):
            _read(f"{url}:1")
