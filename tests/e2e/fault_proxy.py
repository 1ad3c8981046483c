"""A fault-injecting proxy in front of moto's S3, on loopback: every request is forwarded
to moto and answered as moto answers, unless the test has set a fault for the bucket the
request names (path-style). It keeps every request's headers, so a test can tell what a
provider was sent (credentials included) and how often it was reached.

Faults, by bucket (`proxy.faults[bucket] = …`):
- ("token", n): listings answer one page of the real keys with a continuation token of
  `n` bytes.
- ("reversed",): listings answer the real keys in reverse order (unsorted within a page).
- ("status", code, body): every request is answered `code` with `body`.
- ("long_keys", n, size): listings answer `n` synthetic keys of `size` bytes.
- ("delay", seconds): requests are answered after `seconds`.
"""

import html
import http.client
import http.server
import re
import threading
import time
import urllib.parse


class FaultProxy:
    def __init__(self, moto_url: str):
        upstream = urllib.parse.urlparse(moto_url)
        self.faults: dict = {}
        self.requests: list = []  # (method, path, headers)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.requests.append((self.command, self.path, dict(self.headers)))
                bucket = urllib.parse.urlparse(self.path).path.lstrip("/").split("/")[0]
                fault = proxy.faults.get(bucket)
                if fault and fault[0] == "delay":
                    time.sleep(fault[1])
                    fault = None
                if fault and fault[0] == "status":
                    return self.reply(fault[1], fault[2].encode(), "application/xml")
                if fault and fault[0] == "long_keys" and "list-type=2" in self.path:
                    keys = [f"k/{i}" + "x" * fault[2] for i in range(fault[1])]
                    return self.reply(200, listing(bucket, keys), "application/xml")
                status, headers, data = forward(upstream, self.command, self.path, self.headers, body)
                if fault and "list-type=2" in self.path and status == 200:
                    data = rewrite(data.decode(), fault).encode()
                self.reply(status, data, headers.get("content-type", "application/xml"), headers)

            def reply(self, status, data, content_type, headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-type", "server", "date"):
                        self.send_header(k, v)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_one

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reached(self, bucket=None) -> int:
        """Requests received (for `bucket`, when given)."""
        return sum(1 for _, path, _ in self.requests
                   if bucket is None or urllib.parse.urlparse(path).path.lstrip("/").startswith(bucket))

    def close(self):
        self.server.shutdown()


def forward(upstream, method, path, headers, body):
    conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
    sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
    conn.request(method, path, body=body or None, headers=sent)
    resp = conn.getresponse()
    data = resp.read()
    out = {k.lower(): v for k, v in resp.getheaders()}
    conn.close()
    return resp.status, out, data


def rewrite(xml: str, fault) -> str:
    """A real listing page, its entries reversed or its end replaced by a long token."""
    contents = re.findall(r"<Contents>.*?</Contents>", xml, flags=re.S)
    head, _, _ = xml.partition("<Contents>")
    if not contents:
        return xml
    if fault[0] == "reversed":
        body = "".join(reversed(contents))
        tail = xml[xml.rindex("</Contents>") + len("</Contents>"):]
        return head + body + tail
    if fault[0] == "token":
        xml = re.sub(r"<IsTruncated>\w+</IsTruncated>", "<IsTruncated>true</IsTruncated>", xml)
        xml = re.sub(r"<NextContinuationToken>.*?</NextContinuationToken>", "", xml)
        token = "t" * fault[1]
        return xml.replace("</ListBucketResult>", f"<NextContinuationToken>{token}</NextContinuationToken></ListBucketResult>")
    return xml


def listing(bucket, keys, token=None) -> bytes:
    contents = "".join(
        f"<Contents><Key>{html.escape(k)}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        f"<ETag>&quot;e{i}&quot;</ETag><Size>4</Size><StorageClass>STANDARD</StorageClass></Contents>"
        for i, k in enumerate(keys))
    truncated = "true" if token else "false"
    next_token = f"<NextContinuationToken>{token}</NextContinuationToken>" if token else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{bucket}</Name><Prefix></Prefix><KeyCount>{len(keys)}</KeyCount><MaxKeys>1000</MaxKeys>"
            f"<IsTruncated>{truncated}</IsTruncated>{contents}{next_token}</ListBucketResult>").encode()
