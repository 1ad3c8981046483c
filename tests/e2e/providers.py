"""The non-S3 providers' emulators and fakes as the e2e tests drive them: each `Store`
writes and deletes files behind Sluice's back and says how a connection to it is made
(the SDK's typed config, and the quickstart's inline body)."""

import base64
import email.utils
import hashlib
import hmac
import http.server
import json
import os
import pathlib
import threading
import time
import urllib.parse

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "shared/connectors/tests/fixtures"


def emulator(var):
    """The emulator's URL from `var`, or skip (fail with SLUICE_REQUIRE_EMULATORS)."""
    url = os.environ.get(var, "").rstrip("/")
    if not url:
        if os.environ.get("SLUICE_REQUIRE_EMULATORS"):
            pytest.fail(f"SLUICE_REQUIRE_EMULATORS is set but {var} is not")
        pytest.skip(f"{var} not set")
    return url


def b64url(data):
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


class GoogleTokens:
    """A service account's token address, checking what Google's checks: the JWT bearer
    grant, the RS256 signature by the account's key, the audience, the expiry."""

    EMAIL = "sync@sluice-test.iam.gserviceaccount.com"

    def __init__(self):
        public = serialization.load_pem_public_key((FIXTURES / "gcs-test-key.pub.pem").read_bytes())
        tokens = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                form = dict(urllib.parse.parse_qsl(body))
                ok = form.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer" and tokens.valid(public, form.get("assertion", ""))
                tokens.granted += ok
                reply = ({"access_token": "ya29.e2e", "expires_in": 3599, "token_type": "Bearer"} if ok
                         else {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
                data = json.dumps(reply).encode()
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.granted = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def valid(self, public, jwt):
        try:
            head, claims, sig = jwt.split(".")
            public.verify(b64url(sig), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
            c = json.loads(b64url(claims))
        except Exception:
            return False
        return (json.loads(b64url(head)).get("alg") == "RS256" and c.get("iss") == self.EMAIL
                and c.get("aud") == self.uri and c.get("exp", 0) > time.time() and "devstorage" in c.get("scope", ""))


class GcsStore:
    """A bucket on fake-gcs-server, reached with a service-account key."""

    provider = "gcs"

    def __init__(self, url, tokens, bucket):
        self.url, self.tokens, self.bucket = url, tokens, bucket
        r = requests.post(f"{url}/storage/v1/b?project=sluice-test", json={"name": bucket}, timeout=10)
        assert r.status_code in (200, 409), r.text

    def put(self, key, body):
        r = requests.post(f"{self.url}/upload/storage/v1/b/{self.bucket}/o",
                          params={"uploadType": "media", "name": key}, data=body, timeout=30,
                          headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 200, r.text

    def delete(self, key):
        r = requests.delete(f"{self.url}/storage/v1/b/{self.bucket}/o/{urllib.parse.quote(key, safe='')}", timeout=10)
        assert r.status_code in (200, 204), r.text

    def key_json(self):
        return {"type": "service_account", "project_id": "sluice-test", "private_key_id": "k1",
                "private_key": (FIXTURES / "gcs-test-key.pem").read_text(),
                "client_email": GoogleTokens.EMAIL, "token_uri": self.tokens.uri}

    def provider_config(self, prefix=None):
        """The SDK's `GCSConfig` (its fields, as `StorageConnectionCreateRequest` takes them)."""
        config = {"provider_type": "gcs", "bucket": self.bucket, "endpoint_url": self.url,
                  "credentials": {"type": "service_account", "service_account_json": self.key_json()}}
        if prefix:
            config["prefix"] = prefix
        return config

    def endpoint_setting(self):
        """The settings that point a connection at the emulator."""
        return {"endpoint_url": self.url}

    def inline_connection(self):
        """The quickstart's `connection` body for this store (no credential type named)."""
        return {"bucket_name": self.bucket, "endpoint_url": self.url,
                "credentials": {"service_account_json": self.key_json()}}


class AzureStore:
    """A container on Azurite, reached with the account's Shared Key (Azurite checks the
    signature; the writes here are signed by this file's own signer, not Sluice's)."""

    provider = "azure_blob"
    ACCOUNT = "devstoreaccount1"
    KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

    def __init__(self, endpoint, container):
        self.endpoint, self.container = endpoint, container.lower()
        r = self.send("PUT", f"/{self.container}", {"restype": "container"}, b"")
        assert r.status_code in (201, 409), r.text

    def send(self, verb, path, query, body, extra=None):
        url = urllib.parse.urlsplit(self.endpoint)
        full_path = url.path + urllib.parse.quote(path)
        headers = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": "2021-08-06", **(extra or {})}
        length = str(len(body)) if body else ""
        standard = ["", "", length, "", headers.get("Content-Type", ""), "", "", "", "", "", ""]
        canon_headers = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()) if k.startswith("x-ms-"))
        canon_resource = f"/{self.ACCOUNT}{full_path}" + "".join(f"\n{k}:{v}" for k, v in sorted(query.items()))
        to_sign = "\n".join([verb, *standard]) + "\n" + canon_headers + canon_resource
        sig = base64.b64encode(hmac.new(base64.b64decode(self.KEY), to_sign.encode(), hashlib.sha256).digest()).decode()
        headers["Authorization"] = f"SharedKey {self.ACCOUNT}:{sig}"
        target = f"{url.scheme}://{url.netloc}{full_path}"
        return requests.request(verb, target, params=query, data=body, headers=headers, timeout=30)

    def put(self, key, body):
        r = self.send("PUT", f"/{self.container}/{key}", {}, body, {"x-ms-blob-type": "BlockBlob"})
        assert r.status_code == 201, r.text

    def delete(self, key):
        r = self.send("DELETE", f"/{self.container}/{key}", {}, b"")
        assert r.status_code == 202, r.text

    def endpoint_setting(self):
        return {"endpoint_url": self.endpoint}

    def provider_config(self, prefix=None):
        """The SDK's `AzureBlobConfig`, account-key form."""
        config = {"provider_type": "azure_blob", "container": self.container, "endpoint_url": self.endpoint,
                  "credentials": {"type": "account_key", "account_name": self.ACCOUNT, "account_key": self.KEY}}
        if prefix:
            config["prefix"] = prefix
        return config

    def inline_connection(self):
        return {"bucket_name": self.container, "endpoint_url": self.endpoint,
                "credentials": {"account_name": self.ACCOUNT, "account_key": self.KEY}}


class MuxStore:
    """An environment on the Mux fake (`tests/fakes/mux.py`): an access token of its own,
    assets made, changed and deleted through the fake's control API."""

    provider = "mux"

    def __init__(self, url, name):
        self.url, self.token = url, f"tok-{name}"
        self.secret = f"secret-for-{name}"
        r = requests.post(f"{url}/_fake/tokens", json={"id": self.token, "secret": self.secret}, timeout=10)
        assert r.status_code == 201, r.text

    def put(self, asset_id, body, **fields):
        spec = {"token_id": self.token, "id": asset_id, "bytes_b64": base64.b64encode(body).decode(), **fields}
        r = requests.post(f"{self.url}/_fake/assets", json=spec, timeout=10)
        assert r.status_code == 201, r.text

    def delete(self, asset_id):
        r = requests.delete(f"{self.url}/_fake/assets/{self.token}/{asset_id}", timeout=10)
        assert r.status_code == 204, r.text

    WEBHOOK_SECRET = "mux-webhook-signing-secret"

    def provider_config(self):
        """The SDK's `MuxConfig`, with a webhook signing secret."""
        return {"provider_type": "mux", "credentials": {
            "type": "access_token", "access_token_id": self.token, "access_token_secret": self.secret,
            "webhook_secret": self.WEBHOOK_SECRET}}

    def signed_event(self, kind, asset_id, secret=None, at=None):
        """An event as Mux sends it: the body, and `mux-signature: t=…,v1=…`."""
        body = json.dumps({"type": kind, "object": {"type": "asset", "id": asset_id}, "data": {"id": asset_id}}).encode()
        at = int(at or time.time())
        sig = hmac.new((secret or self.WEBHOOK_SECRET).encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
        return body, {"mux-signature": f"t={at},v1={sig}", "content-type": "application/json"}


class BoxStore:
    """An app on the Box fake (`tests/fakes/box.py`) with a tree of its own, reached with
    an OAuth pair as the consent flow gives one; files written, moved and deleted through
    the fake's control API."""

    provider = "box"

    def __init__(self, url, name):
        self.url, self.client_id, self.secret = url, f"app-{name}", f"secret-{name}"
        self.ids = {}
        self.control("apps", {"client_id": self.client_id, "client_secret": self.secret,
                              "enterprise_id": "4242"})
        self.pair = self.control("oauth", {"client_id": self.client_id})

    def control(self, path, spec):
        r = requests.post(f"{self.url}/_fake/{path}", json=spec, timeout=10)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def put(self, key, body):
        made = self.control("files", {"client_id": self.client_id, "path": key,
                                      "bytes_b64": base64.b64encode(body).decode()})
        self.ids[key] = made["id"]

    def delete(self, key):
        r = requests.delete(f"{self.url}/_fake/files", params={"client_id": self.client_id, "path": key}, timeout=10)
        assert r.status_code == 204, r.text

    def move(self, key, to):
        self.control("move", {"client_id": self.client_id, "from": key, "to": to})
        self.ids[to] = self.ids.pop(key)

    def expire_tokens(self):
        self.control("expire", {"client_id": self.client_id})

    def stats(self):
        return requests.get(f"{self.url}/_fake/stats", params={"client_id": self.client_id}, timeout=10).json()

    def listed_key(self, key):
        """A file is listed under its id."""
        return self.ids[key]

    def credentials(self):
        return {"client_id": self.client_id, "client_secret": self.secret,
                "access_token": self.pair["access_token"], "refresh_token": self.pair["refresh_token"]}

    def provider_config(self, prefix=None):
        """The SDK's `BoxConfig` with OAuth credentials (the root folder by default)."""
        return {"provider_type": "box", "credentials": {"type": "oauth", **self.credentials()}}

    def endpoint_setting(self):
        """Box's API is the operator's (`SLUICE_BOX_API_URL`), not a connection's."""
        return {}

    def inline_connection(self):
        """The quickstart's `connection` body: OAuth, the type left out."""
        return {"credentials": self.credentials()}
