"""Starts arm64 Lambda bootstraps under qemu-user against a fake Lambda Runtime API on
loopback, each answering one invocation as Lambda would hand it over: a route (an HTTP
API event with a key that does not exist: a 401 in the error envelope, read through
DynamoDB on moto) and a scheduled worker (the sync poller: a result, not an error).

    arm64_boot.py SLUICE_ADMIN ROUTE_BOOTSTRAP WORKER_BOOTSTRAP

Needs AWS_ENDPOINT_URL (moto) and qemu-aarch64 with the arm64 C library under
/usr/aarch64-linux-gnu (Debian: qemu-user, libc6-arm64-cross, libgcc-s1-arm64-cross).
"""

import http.server
import json
import os
import queue
import subprocess
import sys
import threading
import time

SYSROOT = "/usr/aarch64-linux-gnu"
RUNTIME = "/2018-06-01/runtime"


def fake_runtime(event):
    """A Runtime API that hands out `event` once and records what comes back."""
    outcome = queue.Queue()
    handed = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != f"{RUNTIME}/invocation/next" or handed.is_set():
                time.sleep(30)  # no second invocation: the test ends first
                self.send_error(404)
                return
            handed.set()
            body = json.dumps(event).encode()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:boot")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            kind = self.path.rsplit("/", 1)[-1]  # response, or error (invocation or init)
            self.send_response(202)
            self.end_headers()
            outcome.put((kind, body))

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, outcome


def invoke(bootstrap, event, env):
    server, outcome = fake_runtime(event)
    env = {
        **env,
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_port}",
        "AWS_LAMBDA_FUNCTION_NAME": "boot",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/boot",
        "AWS_LAMBDA_LOG_STREAM_NAME": "boot",
    }
    started = time.time()
    proc = subprocess.Popen(["qemu-aarch64", "-L", SYSROOT, bootstrap], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        kind, body = outcome.get(timeout=120)
    except queue.Empty:
        proc.kill()
        raise AssertionError(f"{bootstrap} answered nothing in 120 s:\n{proc.communicate()[0]}")
    finally:
        server.shutdown()
    proc.kill()
    log = proc.communicate()[0]
    assert kind == "response", f"{bootstrap}: {kind}: {body}\n{log}"
    return json.loads(body), time.time() - started


def main(admin, route, worker):
    provisioned = subprocess.run([admin, "provision", "--prefix", f"arm64-{os.getpid()}"],
                                 check=True, capture_output=True, text=True).stdout
    names = dict(line.split("=", 1) for line in provisioned.splitlines() if "=" in line)
    env = {**os.environ, **names}
    event = {
        "version": "2.0", "routeKey": "GET /v1/tasks/{task_id}", "rawPath": "/v1/tasks/task_x",
        "rawQueryString": "", "headers": {"authorization": "Bearer sk_not_a_key"},
        "pathParameters": {"task_id": "task_x"}, "isBase64Encoded": False,
        "requestContext": {
            "accountId": "000000000000", "apiId": "api", "domainName": "api.example", "domainPrefix": "api",
            "http": {"method": "GET", "path": "/v1/tasks/task_x", "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "arm64-boot"},
            "requestId": "req-1", "routeKey": "GET /v1/tasks/{task_id}", "stage": "$default",
            "time": "07/Dec/2026:00:00:00 +0000", "timeEpoch": 0,
        },
    }
    answer, took = invoke(route, event, env)
    assert answer["statusCode"] == 401, answer
    assert json.loads(answer["body"])["error"]["type"], answer
    print(f"arm64 route {os.path.basename(os.path.dirname(route)) or route}: 401 in the error envelope ({took:.1f} s under qemu)")
    answer, took = invoke(worker, {"source": "aws.scheduler"}, env)
    print(f"arm64 worker: {json.dumps(answer)} ({took:.1f} s under qemu)")


if __name__ == "__main__":
    main(*sys.argv[1:4])
