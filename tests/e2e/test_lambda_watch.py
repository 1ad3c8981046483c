"""Functions run one at a time as in Lambda: `cargo lambda watch` against moto, a route with
path parameters through its Function URL form, and the tasks worker given a recorded SQS
event through `cargo lambda invoke`. Needs cargo-lambda (scripts/test installs it) and moto
(AWS_ENDPOINT_URL); both are required when SLUICE_REQUIRE_MOTO is set."""

import json
import os
import shutil
import socket
import subprocess
import time

import boto3
import pytest
import requests

from conftest import ROOT, binary

CARGO_LAMBDA = os.environ.get("SLUICE_CARGO_LAMBDA") or shutil.which("cargo-lambda")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def watch():
    if not os.environ.get("AWS_ENDPOINT_URL") or not CARGO_LAMBDA:
        if os.environ.get("SLUICE_REQUIRE_MOTO"):
            pytest.fail("cargo-lambda and AWS_ENDPOINT_URL (moto) are required here")
        pytest.skip("needs cargo-lambda and moto")
    admin = binary("sluice-admin")
    prefix = f"watch{int(time.time() * 1000) % 10**9}"
    names = subprocess.run([admin, "provision", "--prefix", prefix], check=True, capture_output=True, text=True).stdout
    env = dict(os.environ, SLUICE_LOG="warn")
    env.update(line.split("=", 1) for line in names.split())
    org = subprocess.run([admin, "--backend", "aws", "create-org", "--name", prefix],
                         check=True, capture_output=True, text=True, env=env).stdout.strip()
    key = subprocess.run([admin, "--backend", "aws", "create-key", "--org", org],
                         check=True, capture_output=True, text=True, env=env).stdout.strip()
    port = free_port()
    # The functions are built already (scripts/test builds the workspace); watch reuses them.
    proc = subprocess.Popen(
        [CARGO_LAMBDA, "lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/lambda-url"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    yield {"url": url, "key": key, "env": env, "port": port}
    proc.terminate()
    proc.wait(timeout=20)


def call(w, method, function, path, ns=None, body=None):
    headers = {"Authorization": f"Bearer {w['key']}", "Content-Type": "application/json"}
    if ns:
        headers["X-Namespace"] = ns
    # The first call to a function compiles (if needed) and starts it.
    return requests.request(method, f"{w['url']}/{function}{path}", headers=headers, json=body, timeout=600)


def test_a_route_with_path_parameters_answers_through_cargo_lambda_watch(watch):
    r = call(watch, "POST", "namespaces-create", "/v1/namespaces", body={"namespace_name": "watched"})
    assert r.status_code == 200, r.text
    ns = r.json()["namespace_id"]
    r = call(watch, "POST", "buckets-create", "/v1/buckets", ns,
             {"bucket_name": "docs", "bucket_schema": {"properties": {"body": {"type": "text"}}}})
    assert r.status_code == 200, r.text
    bucket = r.json()["bucket_id"]
    r = call(watch, "GET", "buckets-get", f"/v1/buckets/{bucket}", ns)
    assert r.status_code == 200, r.text
    assert r.json()["bucket_name"] == "docs"
    r = call(watch, "GET", "buckets-get", "/v1/buckets/bkt_nosuchbucket", ns)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["type"] == "NotFoundError"


def test_the_tasks_worker_handles_a_recorded_sqs_event(watch):
    r = call(watch, "POST", "namespaces-create", "/v1/namespaces", body={"namespace_name": "to-delete"})
    assert r.status_code == 200, r.text
    ns = r.json()["namespace_id"]
    r = call(watch, "DELETE", "namespaces-delete", f"/v1/namespaces/{ns}")
    assert r.status_code == 200, r.text
    task_id = r.json()["task_id"]

    # The purge message the route queued, received from moto and recorded as Lambda's SQS event.
    sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    queue = watch["env"]["SLUICE_TASKS_QUEUE_URL"]
    messages = []
    deadline = time.time() + 20
    while not messages and time.time() < deadline:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, AttributeNames=["All"],
                                       WaitTimeSeconds=2).get("Messages", [])
    assert messages, "namespaces-delete queued no purge message"
    m = messages[0]
    assert json.loads(m["Body"])["task_id"] == task_id
    event = {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "test",
                       "ApproximateFirstReceiveTimestamp": "0"},
        "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:tasks", "awsRegion": "us-east-1",
    }]}
    out = subprocess.run(
        [CARGO_LAMBDA, "lambda", "invoke", "tasks-worker", "--invoke-address", "127.0.0.1",
         "--invoke-port", str(watch["port"]), "--data-ascii", json.dumps(event)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=watch["env"],
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"batchItemFailures": []}
    # The worker took the task up (its first pass; the final sweep comes after the settle delay).
    r = call(watch, "GET", "tasks-get", f"/v1/tasks/{task_id}")
    assert r.status_code == 200, r.text
    assert r.json()["status"] in ("IN_PROGRESS", "COMPLETED"), r.json()


def recorded(sqs, queue):
    """The next message on `queue`, as Lambda's SQS event source would hand it over."""
    messages = []
    deadline = time.time() + 20
    while not messages and time.time() < deadline:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, AttributeNames=["All"],
                                       WaitTimeSeconds=2).get("Messages", [])
    assert messages, f"nothing was queued on {queue}"
    m = messages[0]
    return m, {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "test",
                       "ApproximateFirstReceiveTimestamp": "0"},
        "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:syncs", "awsRegion": "us-east-1",
    }]}


def invoke(watch, function, event):
    out = subprocess.run(
        [CARGO_LAMBDA, "lambda", "invoke", function, "--invoke-address", "127.0.0.1",
         "--invoke-port", str(watch["port"]), "--data-ascii", json.dumps(event)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=watch["env"],
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_sync_runs_through_its_functions(watch):
    """Connection (credentials sealed by KMS on moto), sync and trigger through their route
    functions; the page the trigger queued through `sync-worker`; the poller on a schedule event."""
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    source = f"{watch['env']['SLUICE_BUCKET']}-source"
    s3.create_bucket(Bucket=source)
    for i in range(3):
        s3.put_object(Bucket=source, Key=f"in/{i}.txt", Body=f"file {i}".encode())
    ns = call(watch, "POST", "namespaces-create", "/v1/namespaces", body={"namespace_name": "watched-syncs"}).json()["namespace_id"]
    bucket = call(watch, "POST", "buckets-create", "/v1/buckets", ns,
                  {"bucket_name": "synced", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
    r = call(watch, "POST", "connections-create", "/v1/organizations/connections", body={
        "name": "watched", "provider_type": "s3",
        "provider_config": {"bucket": source, "credentials": {"type": "access_key", "access_key_id": "test", "secret_access_key": "test"}}})
    assert r.status_code == 200, r.text
    conn = r.json()["connection_id"]
    r = call(watch, "POST", "syncs-create", f"/v1/buckets/{bucket}/syncs", ns,
             {"connection_id": conn, "source_path": f"{source}/in/", "skip_batch_submission": True})
    assert r.status_code == 200, r.text
    sync = r.json()["sync_config_id"]
    r = call(watch, "POST", "syncs-trigger", f"/v1/buckets/{bucket}/syncs/{sync}/trigger", ns)
    assert r.status_code == 200, r.text
    job = r.json()["sync_job_id"]

    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    m, event = recorded(sqs, watch["env"]["SLUICE_SYNCS_QUEUE_URL"])
    assert json.loads(m["Body"])["run_id"] == job
    assert invoke(watch, "sync-worker", event) == {"batchItemFailures": []}
    r = call(watch, "GET", "syncs-job-get", f"/v1/buckets/{bucket}/syncs/{sync}/jobs/{job}", ns)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["counts"]["new"]) == ("completed", 3), r.json()
    # The poller's schedule event starts what is due: a new sync (due at once), not the
    # one that just ran (its next run is later).
    r = call(watch, "POST", "syncs-create", f"/v1/buckets/{bucket}/syncs", ns,
             {"connection_id": conn, "source_path": f"{source}/", "skip_batch_submission": True})
    assert r.status_code == 200, r.text
    due = r.json()["sync_config_id"]
    assert invoke(watch, "sync-poller", {"source": "aws.scheduler"}) == {"started": 1}
    # Its first page is queued (the page the worker took above may show again, since no
    # event source deleted it).
    queue = watch["env"]["SLUICE_SYNCS_QUEUE_URL"]
    seen, deadline = [], time.time() + 20
    while due not in seen and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                     WaitTimeSeconds=1).get("Messages", []):
            seen.append(json.loads(m["Body"])["sync_id"])
    assert due in seen, seen
