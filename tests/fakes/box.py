"""A fake of Box's API, written from Box's documentation (developer.box.com reference:
authentication, folders, files, downloads, rate limits), for the tests: it checks what
Box checks and serves what a sync reads.

- `POST /oauth2/token` (form): the app's `client_id` and `client_secret` (400
  `invalid_client` otherwise) and one of
  - `client_credentials` with `box_subject_type` `enterprise` or `user` and a subject the
    app is authorised for (400 `invalid_grant` otherwise);
  - `urn:ietf:params:oauth:grant-type:jwt-bearer`: an RS256 assertion whose `kid` is a
    key registered for the app, signature verified, `iss` the client id, `sub` the
    enterprise, `box_sub_type` `enterprise`, `aud` this server's token URL, `exp` in
    the next 60 seconds, a `jti` of 16 or more characters never used before;
  - `refresh_token`: a refresh token is single-use (a spent one is 400 `invalid_grant`,
    and counted, so a test can prove no two workers spent one).
  Access tokens live `token_ttl` seconds (3600 unless the app says otherwise).
- `/2.0/...`: `Authorization: Bearer` with a live token (401 with `WWW-Authenticate`
  otherwise); 429 with `Retry-After` while the app is throttled.
- `GET /2.0/folders/{id}/items`: `limit` up to 1000 (400 over it), `fields`, marker pages
  (`usemarker=true`, `marker` a token it gave, else 400); offset pages otherwise, with
  offset at most 10000. Folders first, then files, by name. 404 for an unknown folder.
- `GET /2.0/files/{id}` (`fields`): 404 when gone.
- `GET /2.0/files/{id}/content[?version=]`: 302 to a one-time download URL on this
  server (`/_dl/...`, no auth, as Box's download host), any kept version.
- Names are checked as Box does: not empty, no `/` or `\\`, not `.` or `..`, at most 255.
- Each app (client id) has its own tree under its root folder `0`.
- The control API (`/_fake/...`, no auth) makes apps, OAuth pairs, files and folders,
  moves and deletes files, expires tokens, throttles an app, and reports counts.

usage: python box.py --port N   (prints BOX_FAKE_URL=http://127.0.0.1:N when ready)
"""

import argparse
import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

LOCK = threading.RLock()
APPS = {}       # client id -> app
ACCESS = {}     # access token -> (client id, expires at)
REFRESH = {}    # refresh token -> {"app": client id, "used": bool}
MARKERS = {}    # marker -> (client id, folder id, offset)
DOWNLOADS = {}  # download token -> bytes
JTIS = set()
SEQ = {"n": 1000}


def next_id():
    with LOCK:
        SEQ["n"] += 1
        return str(SEQ["n"])


def new_app(spec):
    keys = {}
    for kid, pem in (spec.get("keys") or {}).items():
        keys[kid] = serialization.load_pem_public_key(pem.encode())
    root = {"type": "folder", "id": "0", "name": "All Files", "parent": None}
    return {
        "kids": {},  # folder id -> {name: item}
        "secret": spec["client_secret"],
        "enterprise": spec.get("enterprise_id"),
        "users": set(spec.get("users", [])),
        "keys": keys,
        "ttl": int(spec.get("token_ttl", 3600)),
        "items": {"0": root},
        "throttle": 0,
        "stats": {"refreshes": 0, "refused_refreshes": 0, "grants": 0, "api_calls": 0},
    }


def valid_name(name):
    return 0 < len(name) <= 255 and "/" not in name and "\\" not in name and name not in (".", "..")


def children(app, folder_id):
    items = app["kids"].get(folder_id, {}).values()
    return sorted(items, key=lambda i: (i["type"] != "folder", i["name"]))


def child(app, folder_id, name):
    return app["kids"].get(folder_id, {}).get(name)


def place(app, item, parent, name):
    """Puts `item` in `parent` under `name` (taking it out of where it was)."""
    if item.get("parent") is not None:
        app["kids"].get(item["parent"], {}).pop(item["name"], None)
    item["parent"], item["name"] = parent, name
    app["kids"].setdefault(parent, {})[name] = item
    app["items"][item["id"]] = item


def remove(app, item):
    app["kids"].get(item["parent"], {}).pop(item["name"], None)
    del app["items"][item["id"]]


def folder_at(app, names):
    """The folder at `names` under the root, made where missing."""
    parent = "0"
    for name in names:
        found = child(app, parent, name)
        if found is None:
            found = {"type": "folder", "id": next_id(), "parent": None}
            place(app, found, parent, name)
        elif found["type"] != "folder":
            raise ValueError(f"{name} is a file")
        parent = found["id"]
    return parent


def put_file(app, path, body):
    names = path.split("/")
    if not all(valid_name(n) for n in names):
        raise ValueError(f"item_name_invalid: {path!r}")
    with LOCK:
        parent = folder_at(app, names[:-1])
        f = child(app, parent, names[-1])
        if f is None:
            f = {"type": "file", "id": next_id(), "parent": None, "versions": {}}
            place(app, f, parent, names[-1])
        version = next_id()
        f["versions"][version] = body
        f["file_version"] = version
        f["sha1"] = hashlib.sha1(body).hexdigest()
        f["size"] = len(body)
        f["modified_at"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        f["etag"] = str(len(f["versions"]) - 1)
    return f


def find_path(app, path):
    parent, item = "0", None
    for name in path.split("/"):
        item = child(app, parent, name)
        if item is None:
            return None
        parent = item["id"]
    return item


def view(item, fields):
    """An item as Box shows it: `type`, `id` and `etag` always, then what was asked."""
    full = {"type": item["type"], "id": item["id"], "etag": item.get("etag", "0"), "name": item["name"],
            "sequence_id": item.get("etag", "0")}
    if item["type"] == "file":
        full.update({
            "size": item["size"], "sha1": item["sha1"], "modified_at": item["modified_at"],
            "content_modified_at": item["modified_at"],
            "file_version": {"type": "file_version", "id": item["file_version"], "sha1": item["sha1"]},
        })
    if not fields:
        keep = {"type", "id", "etag", "name", "sequence_id", "sha1", "file_version"}
    else:
        keep = {"type", "id", "etag"} | set(fields.split(","))
    return {k: v for k, v in full.items() if k in keep}


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: without this, Nagle holds the body until the
    # client's delayed ACK of the headers (40 ms a response), which no real API costs.
    disable_nagle_algorithm = True

    def reply(self, status, body=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if raw is None and body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, message):
        self.reply(status, {"type": "error", "status": status, "code": code, "message": message})

    def oauth_error(self, error, description):
        self.reply(400, {"error": error, "error_description": description})

    def log_message(self, *args):
        pass

    def body(self):
        n = int(self.headers.get("Content-Length", 0) or 0)
        return self.rfile.read(n) if n else b""

    # --- tokens ---------------------------------------------------------------------

    def issue(self, client_id, with_refresh):
        app = APPS[client_id]
        token = secrets.token_urlsafe(24)
        ACCESS[token] = (client_id, time.time() + app["ttl"])
        answer = {"access_token": token, "expires_in": app["ttl"], "token_type": "bearer",
                  "restricted_to": []}
        if with_refresh:
            refresh = secrets.token_urlsafe(32)
            REFRESH[refresh] = {"app": client_id, "used": False}
            answer["refresh_token"] = refresh
        return answer

    def token(self):
        form = dict(urllib.parse.parse_qsl(self.body().decode()))
        client_id = form.get("client_id", "")
        app = APPS.get(client_id)
        if app is None or form.get("client_secret") != app["secret"]:
            return self.oauth_error("invalid_client", "The client credentials are invalid")
        grant = form.get("grant_type")
        with LOCK:
            if grant == "client_credentials":
                kind, subject = form.get("box_subject_type"), form.get("box_subject_id")
                ok = (kind == "enterprise" and subject == app["enterprise"]) or (
                    kind == "user" and subject in app["users"])
                if not ok:
                    return self.oauth_error("invalid_grant", "Grant credentials are invalid")
                app["stats"]["grants"] += 1
                return self.reply(200, self.issue(client_id, False))
            if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                why = self.bad_assertion(app, client_id, form.get("assertion", ""))
                if why:
                    return self.oauth_error("invalid_grant", why)
                app["stats"]["grants"] += 1
                return self.reply(200, self.issue(client_id, False))
            if grant == "refresh_token":
                held = REFRESH.get(form.get("refresh_token", ""))
                if held is None or held["app"] != client_id or held["used"]:
                    app["stats"]["refused_refreshes"] += 1
                    return self.oauth_error("invalid_grant", "Refresh token has expired")
                held["used"] = True
                app["stats"]["refreshes"] += 1
                return self.reply(200, self.issue(client_id, True))
        self.oauth_error("unsupported_grant_type", "Grant type is not supported")

    def bad_assertion(self, app, client_id, assertion):
        try:
            head, claims, sig = assertion.split(".")
            header, body = b64url_json(head), b64url_json(claims)
            signature = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
        except Exception:
            return "Invalid JWT assertion"
        key = app["keys"].get(header.get("kid"))
        if header.get("alg") != "RS256" or key is None:
            return "Please check the 'kid' and 'alg' of the JWT header"
        try:
            key.verify(signature, f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except Exception:
            return "Signature verification error"
        host = self.headers.get("Host", "")
        now = time.time()
        if body.get("iss") != client_id or body.get("sub") != app["enterprise"]:
            return "Please check the 'iss' and 'sub' claims"
        if body.get("box_sub_type") != "enterprise":
            return "Please check the 'box_sub_type' claim"
        if body.get("aud") != f"http://{host}/oauth2/token":
            return "Please check the 'aud' claim"
        if not isinstance(body.get("exp"), int) or not now < body["exp"] <= now + 60:
            return "Please check the 'exp' claim"
        jti = body.get("jti", "")
        if len(jti) < 16 or jti in JTIS:
            return "Please check the 'jti' claim"
        JTIS.add(jti)
        return None

    def authorised(self):
        """The app of the request's live bearer token, or None (answered)."""
        auth = self.headers.get("Authorization", "")
        held = ACCESS.get(auth[7:]) if auth.startswith("Bearer ") else None
        if held is None or held[1] < time.time():
            self.reply(401, headers={"WWW-Authenticate": 'Bearer realm="Service", error="invalid_token", error_description="The access token provided is invalid."'})
            return None
        app = APPS[held[0]]
        with LOCK:
            app["stats"]["api_calls"] += 1
            if app["throttle"] > 0:
                app["throttle"] -= 1
                self.reply(429, {"type": "error", "status": 429, "code": "rate_limit_exceeded",
                                 "message": "Request rate limit exceeded, please try again later"},
                           {"Retry-After": "1"})
                return None
        return held[0]

    # --- the API ----------------------------------------------------------------------

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
        if parts[:1] == ["_dl"] and len(parts) == 2:
            body = DOWNLOADS.pop(parts[1], None)
            if body is None:
                return self.error(404, "not_found", "Not Found")
            return self.reply(200, raw=body, headers={"Content-Type": "application/octet-stream"})
        if parts[:1] == ["_fake"] and parts[1:2] == ["stats"]:
            return self.reply(200, APPS[query["client_id"]]["stats"])
        if parts[:1] != ["2.0"]:
            return self.error(404, "not_found", "Not Found")
        client_id = self.authorised()
        if client_id is None:
            return
        app = APPS[client_id]
        if len(parts) == 4 and parts[1] == "folders" and parts[3] == "items":
            return self.items(app, client_id, parts[2], query)
        if len(parts) in (3, 4) and parts[1] == "files":
            f = app["items"].get(parts[2])
            if f is None or f["type"] != "file":
                return self.error(404, "not_found", "Not Found")
            if len(parts) == 3:
                return self.reply(200, view(f, query.get("fields")))
            if parts[3] == "content":
                version = query.get("version", f["file_version"])
                body = f["versions"].get(version)
                if body is None:
                    return self.error(404, "not_found", "Not Found")
                token = secrets.token_urlsafe(16)
                DOWNLOADS[token] = body
                host = self.headers.get("Host", "")
                return self.reply(302, headers={"Location": f"http://{host}/_dl/{token}"}, raw=b"")
        self.error(404, "not_found", "Not Found")

    def items(self, app, client_id, folder_id, query):
        folder = app["items"].get(folder_id)
        if folder is None or folder["type"] != "folder":
            return self.error(404, "not_found", "Not Found")
        try:
            limit = int(query.get("limit", "100"))
            offset = int(query.get("offset", "0"))
        except ValueError:
            return self.error(400, "bad_request", "limit and offset must be numbers")
        if not 1 <= limit <= 1000:
            return self.error(400, "bad_request", "Invalid value for 'limit': at most 1000")
        marked = query.get("usemarker") == "true"
        if marked and "marker" in query:
            held = MARKERS.get(query["marker"])
            if held is None or held[:2] != (client_id, folder_id):
                return self.error(400, "invalid_parameter", "Invalid value for 'marker'")
            offset = held[2]
        elif not marked and offset > 10000:
            return self.error(400, "bad_request", "Offset over 10000: use marker pages")
        with LOCK:
            everything = children(app, folder_id)
        page = everything[offset:offset + limit]
        body = {"entries": [view(i, query.get("fields")) for i in page], "limit": limit}
        more = offset + limit < len(everything)
        if marked:
            marker = secrets.token_urlsafe(24) if more else None
            if marker:
                MARKERS[marker] = (client_id, folder_id, offset + limit)
            body["next_marker"] = marker
        else:
            body.update({"offset": offset, "total_count": len(everything)})
        self.reply(200, body)

    # --- the control API ----------------------------------------------------------------

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/oauth2/token":
            return self.token()
        spec = json.loads(self.body() or b"{}")
        app = APPS.get(spec.get("client_id", ""))
        if path == "/_fake/apps":
            APPS[spec["client_id"]] = new_app(spec)
            return self.reply(201, {"ok": True})
        if app is None:
            return self.error(404, "not_found", "no such app")
        try:
            if path == "/_fake/oauth":
                with LOCK:
                    return self.reply(201, self.issue(spec["client_id"], True))
            if path == "/_fake/files":
                f = put_file(app, spec["path"], base64.b64decode(spec.get("bytes_b64", "")))
                return self.reply(201, {"id": f["id"], "version": f["file_version"]})
            if path == "/_fake/folders":
                with LOCK:
                    return self.reply(201, {"id": folder_at(app, spec["path"].split("/"))})
            if path == "/_fake/move":
                return self.move(app, spec)
        except ValueError as e:
            return self.error(400, "item_name_invalid", str(e))
        if path == "/_fake/throttle":
            app["throttle"] = int(spec.get("n", 1))
            return self.reply(200, {"ok": True})
        if path == "/_fake/expire":
            with LOCK:
                for token, (owner, _) in list(ACCESS.items()):
                    if owner == spec["client_id"]:
                        ACCESS[token] = (owner, 0)
            return self.reply(200, {"ok": True})
        self.error(404, "not_found", "Not Found")

    def move(self, app, spec):
        """Renames or moves a file (its id stays)."""
        f = find_path(app, spec["from"])
        names = spec["to"].split("/")
        if f is None:
            return self.error(404, "not_found", "Not Found")
        if not all(valid_name(n) for n in names):
            raise ValueError(f"item_name_invalid: {spec['to']!r}")
        with LOCK:
            place(app, f, folder_at(app, names[:-1]), names[-1])
        return self.reply(200, {"id": f["id"]})

    def do_DELETE(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        app = APPS.get(query.get("client_id", ""))
        if url.path != "/_fake/files" or app is None:
            return self.error(404, "not_found", "Not Found")
        with LOCK:
            f = find_path(app, query["path"])
            if f is not None:
                remove(app, f)
        self.reply(204 if f else 404, raw=b"")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"BOX_FAKE_URL=http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
