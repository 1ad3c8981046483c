"""A fake of Mux Video's API, written from Mux's documentation, for the tests: it checks
what Mux checks and serves what a sync reads.

- `GET /video/v1/assets?limit&cursor`: HTTP Basic with an access token id and secret it
  knows (401 otherwise); newest first; `limit` 1 to 100 (400 otherwise); cursor pages
  (`next_cursor`, an opaque token; a cursor it did not give is a 400).
- `GET /video/v1/assets/{id}`: one asset (404 when there is none).
- `GET /{playback_id}/{name}` (the stream host): a ready static rendition's bytes;
  404 while it is preparing or when the asset has none, 403 for a signed playback id
  without a token.
- Assets are `preparing`, `ready` or `errored`; a ready one has a public playback id
  and, unless made without, a `highest.mp4` static rendition.
- Each access token has its own environment (as Mux's tokens do): its assets only.
- The control API (`/_fake/...`, no auth) makes tokens and assets (in a token's
  environment), changes and deletes them, and answers a token's next N API calls 429
  with `Retry-After: 1`.

usage: python mux.py --port N   (prints MUX_FAKE_URL=http://127.0.0.1:N when ready)
"""

import argparse
import base64
import hashlib
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
TOKENS = {}        # id -> secret
ENVS = {}          # token id -> {asset id -> asset (dict) with "_bytes", "_seq"}
CURSORS = {}       # cursor -> offset
STATE = {"seq": 0}
THROTTLE = {}      # token id -> API calls still to answer 429


def public(asset):
    out = {k: v for k, v in asset.items() if not k.startswith("_")}
    return out


def make_asset(spec):
    with LOCK:
        STATE["seq"] += 1
        seq = STATE["seq"]
    body = base64.b64decode(spec.get("bytes_b64", ""))
    env = spec["token_id"]
    asset_id = spec.get("id") or hashlib.sha1(f"asset{seq}{time.time()}".encode()).hexdigest()[:24]
    playback_id = hashlib.sha1(f"{env}\n{asset_id}".encode()).hexdigest()[:20]
    status = spec.get("status", "ready")
    asset = {
        "id": asset_id,
        "status": status,
        "created_at": str(int(spec.get("created_at", time.time()))),
        "duration": spec.get("duration", 12.5),
        "aspect_ratio": spec.get("aspect_ratio", "16:9"),
        "max_stored_resolution": "HD",
        "passthrough": spec.get("passthrough"),
        "playback_ids": [{"id": playback_id, "policy": spec.get("policy", "public")}],
        "_bytes": body,
        "_seq": seq,
    }
    if status == "ready" and spec.get("static", True):
        asset["static_renditions"] = {"status": "ready", "files": [
            {"name": "highest.mp4", "ext": "mp4", "status": "ready", "resolution_tier": "1080p",
             "filesize": str(len(body)), "width": 1920, "height": 1080}]}
    if asset["passthrough"] is None:
        del asset["passthrough"]
    with LOCK:
        ENVS.setdefault(env, {})[asset_id] = asset
    return asset


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if raw is None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def error(self, status, message, kind="invalid_parameters"):
        self.reply(status, {"error": {"type": kind, "messages": [message]}})

    def body(self):
        n = int(self.headers.get("Content-Length", 0) or 0)
        return json.loads(self.rfile.read(n) or b"{}") if n else {}

    def log_message(self, *args):
        pass

    def environment(self):
        """The assets of the token the request authenticates with, or None."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return None
        try:
            user, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except Exception:
            return None
        return ENVS.setdefault(user, {}) if TOKENS.get(user) == secret else None

    def throttled(self):
        """Rate limits are per environment, as Mux's are."""
        user = self.token_id()
        with LOCK:
            if THROTTLE.get(user, 0) > 0:
                THROTTLE[user] -= 1
                return True
        return False

    def token_id(self):
        try:
            return base64.b64decode(self.headers.get("Authorization", "")[6:]).decode().partition(":")[0]
        except Exception:
            return None

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
        if parts[:2] == ["video", "v1"]:
            if self.throttled():
                return self.reply(429, {"error": {"type": "too_many_requests", "messages": ["slow down"]}}, {"Retry-After": "1"})
            assets = self.environment()
            if assets is None:
                return self.error(401, "Unauthorized request", "unauthorized")
            if parts[2:] == ["assets"]:
                return self.list_assets(assets, query)
            if len(parts) == 4 and parts[2] == "assets":
                asset = assets.get(parts[3])
                return self.reply(200, {"data": public(asset)}) if asset else self.error(404, "Asset not found", "not_found")
            return self.error(404, "not found", "not_found")
        if len(parts) == 2:
            return self.rendition(parts[0], parts[1], query)
        self.error(404, "not found", "not_found")

    def list_assets(self, assets, query):
        try:
            limit = int(query.get("limit", "25"))
        except ValueError:
            return self.error(400, "limit must be a number")
        if not 1 <= limit <= 100:
            return self.error(400, "limit must be between 1 and 100")
        offset = 0
        if "cursor" in query:
            if query["cursor"] not in CURSORS:
                return self.error(400, "invalid cursor")
            offset = CURSORS[query["cursor"]]
        with LOCK:
            newest = sorted(assets.values(), key=lambda a: (-int(a["created_at"]), -a["_seq"]))
        page = newest[offset:offset + limit]
        body = {"data": [public(a) for a in page]}
        if offset + limit < len(newest):
            cursor = base64.urlsafe_b64encode(f"c{offset + limit}:{time.time()}".encode()).decode()
            CURSORS[cursor] = offset + limit
            body["next_cursor"] = cursor
        else:
            body["next_cursor"] = None
        self.reply(200, body)

    def rendition(self, playback_id, name, query):
        with LOCK:
            every = [a for env in ENVS.values() for a in env.values()]
        asset = next((a for a in every if a["playback_ids"][0]["id"] == playback_id), None)
        if asset is None:
            return self.reply(404, raw=b"no such playback id", headers={"Content-Type": "text/plain"})
        if asset["playback_ids"][0]["policy"] == "signed" and "token" not in query:
            return self.reply(403, raw=b"a signed playback id needs a token", headers={"Content-Type": "text/plain"})
        files = asset.get("static_renditions", {}).get("files", [])
        if not any(f["name"] == name and f["status"] == "ready" for f in files):
            return self.reply(404, raw=b"no such rendition", headers={"Content-Type": "text/plain"})
        self.reply(200, raw=asset["_bytes"], headers={"Content-Type": "video/mp4"})

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        spec = self.body()
        if path == "/_fake/tokens":
            TOKENS[spec["id"]] = spec["secret"]
            return self.reply(201, {"ok": True})
        if path == "/_fake/assets":
            return self.reply(201, {"data": public(make_asset(spec))})
        if path == "/_fake/throttle":
            with LOCK:
                THROTTLE[spec["token_id"]] = int(spec.get("n", 1))
            return self.reply(200, {"ok": True})
        self.error(404, "not found", "not_found")

    def do_PUT(self):
        # Replaces an asset's fields (a new rendition, a passthrough, a status).
        parts = urllib.parse.urlsplit(self.path).path.split("/")
        if parts[1:3] == ["_fake", "assets"] and len(parts) == 4:
            asset_id = urllib.parse.unquote(parts[3])
            spec = self.body()
            old = ENVS.get(spec.get("token_id"), {}).get(asset_id)
            if old is None:
                return self.error(404, "Asset not found", "not_found")
            spec = {"id": asset_id, "created_at": old["created_at"], **spec}
            return self.reply(200, {"data": public(make_asset(spec))})
        self.error(404, "not found", "not_found")

    def do_DELETE(self):
        parts = urllib.parse.urlsplit(self.path).path.split("/")
        if parts[1:3] == ["_fake", "assets"] and len(parts) == 5:
            # /_fake/assets/{token_id}/{asset_id}
            with LOCK:
                env = ENVS.get(urllib.parse.unquote(parts[3]), {})
                gone = env.pop(urllib.parse.unquote(parts[4]), None)
            return self.reply(204 if gone else 404, None)
        self.error(404, "not found", "not_found")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"MUX_FAKE_URL=http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
