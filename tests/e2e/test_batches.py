"""Batches end to end on sluice-local: the quickstart's batch requests verbatim, the SDK,
racing submits, signed webhooks with retries, the SSRF guard, and a crash mid-batch."""

import base64
import concurrent.futures
import hashlib
import hmac
import http.server
import json
import os
import threading
import time

import mixpeek
import pytest
import requests
from mixpeek.api.batches_api import BatchesApi
from mixpeek.api.bucket_batches_api import BucketBatchesApi
from mixpeek.api.bucket_objects_api import BucketObjectsApi
from mixpeek.api.tasks_api import TasksApi
from mixpeek.api.webhooks_api import WebhooksApi
from mixpeek.models.create_batch_request import CreateBatchRequest

from conftest import Sluice, start, stored_contents
from test_quickstart import curl_commands, find, run

TERMINAL = ("COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED")


def make_space(sluice, name, extractor="passthrough_extractor"):
    ns = sluice.call("POST", "/v1/namespaces", json={
        "namespace_name": name,
        "feature_extractors": [{"feature_extractor_name": extractor, "version": "v1"}],
    }).json()
    bucket = sluice.call("POST", "/v1/buckets", ns=ns["namespace_id"], json={
        "bucket_name": "items", "bucket_schema": {"properties": {"body": {"type": "text"}, "n": {"type": "integer"}}},
    }).json()
    return ns["namespace_id"], bucket["bucket_id"]


def add_objects(sluice, ns, bucket, blobs):
    r = sluice.call("POST", f"/v1/buckets/{bucket}/objects/batch", ns=ns, json={"objects": [
        {"blobs": [b], "metadata": {"n": i}} for i, b in enumerate(blobs)
    ]}).json()
    assert r["failed_count"] == 0, r
    return [o["object_id"] for o in r["succeeded"]]


def wait_batch(sluice, ns, bucket, batch_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        b = sluice.call("GET", f"/v1/buckets/{bucket}/batches/{batch_id}", ns=ns).json()
        if b["status"] in TERMINAL:
            return b
        time.sleep(0.2)
    raise AssertionError(f"batch did not finish: {b}")


def test_quickstart_batch_requests_verbatim(sluice):
    commands = curl_commands()
    env = dict(os.environ, MIXPEEK_API_KEY=sluice.api_key)
    status, ns = run(find(commands, "POST", "/v1/namespaces").replace('"production"', '"qs-batches"'), sluice.url, env)
    assert status == 200, ns
    env["NAMESPACE_ID"] = ns["namespace_id"]
    status, bucket = run(find(commands, "POST", "/v1/buckets"), sluice.url, env)
    assert status == 200, bucket
    env["BUCKET_ID"] = bucket["bucket_id"]
    create = find(commands, "POST", "/batches")
    # Verbatim, the page's placeholder ids name no object: a 422 that says which.
    status, err = run(create, sluice.url, env)
    assert status == 422, err
    assert set(err["error"]["details"]["missing_object_ids"]) == {"obj_abc", "obj_def"}
    # With two real objects in place of the placeholders, the page's flow runs.
    ids = []
    for text in ("Wireless headphones", "Noise cancelling"):
        status, obj = run(find(commands, "POST", "/objects").replace("Wireless headphones", text), sluice.url, env)
        assert status == 200, obj
        ids.append(obj["object_id"])
    status, batch = run(create.replace("obj_abc", ids[0]).replace("obj_def", ids[1]), sluice.url, env)
    assert status == 200, batch
    assert batch["status"] == "DRAFT"
    env["BATCH_ID"] = batch["batch_id"]
    status, task = run(find(commands, "POST", "/submit"), sluice.url, env)
    assert status == 200, task
    assert task["task_id"].startswith("task_")
    done = wait_batch(sluice, ns["namespace_id"], bucket["bucket_id"], batch["batch_id"])
    # Each object fails with a stage and a reason, never an empty success: the page's
    # hero image is fetched from example.com, which this machine cannot reach (the
    # whole flow succeeding is in test_search.py, with the photo served on loopback).
    assert done["status"] == "FAILED", done
    assert len(done["failed_objects"]) == 2
    for f in done["failed_objects"]:
        assert f["stage"] == "blob" and "example.com" in f["error"], f
    assert sluice.wait_task(task["task_id"])["status"] == "FAILED"


def test_sdk_batch_flow(sluice):
    ns, bucket = make_space(sluice, "sdk-batches")
    ids = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": f"doc {i}"} for i in range(5)])
    config = mixpeek.Configuration(host=sluice.url, access_token=sluice.api_key)
    config.api_key["NamespaceHeader"] = ns
    api = mixpeek.ApiClient(config)
    batches = BucketBatchesApi(api)
    batch = batches.create_batch_buckets_batches(bucket, CreateBatchRequest.from_dict({"object_ids": ids, "batch_name": "sdk"}))
    assert batch.status == "DRAFT" and batch.bucket_id == bucket
    task = batches.submit_batch_buckets_batches(bucket, batch.batch_id)
    assert task.task_id.startswith("task_")
    done = wait_batch(sluice, ns, bucket, batch.batch_id)
    assert done["status"] == "COMPLETED", done
    got = BatchesApi(api).get_batch_by_id_batches(batch.batch_id)
    assert got.progress.processed == 5 and got.progress.percent == 100
    listed = batches.list_batches_buckets(bucket)
    assert [b.batch_id for b in listed.results] == [batch.batch_id]
    tasks = TasksApi(api).list_tasks()
    assert task.task_id in [t.task_id for t in tasks.results]
    docs = sluice.call("GET", f"/v1/buckets/{bucket}/objects/{ids[2]}/documents", ns=ns).json()
    assert docs["results"][0]["text"] == "doc 2"
    assert docs["results"][0]["batch_id"] == batch.batch_id
    # Every object says it was processed, and a GET counts its documents (the SDK's
    # "poll until document_count > 0").
    for object_id in ids:
        obj = BucketObjectsApi(api).get_object_buckets(bucket, object_id)
        assert (obj.status, obj.error, obj.document_count) == ("COMPLETED", None, 1), obj


def test_concurrent_submits_exactly_one_wins(sluice):
    ns, bucket = make_space(sluice, "racing")
    ids = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": "x"}])
    batch = sluice.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": ids}).json()
    path = f"/v1/buckets/{bucket}/batches/{batch['batch_id']}/submit"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: sluice.call("POST", path, ns=ns).status_code, range(8)))
    assert sorted(statuses) == [200] + [409] * 7, statuses
    done = wait_batch(sluice, ns, bucket, batch["batch_id"])
    assert done["progress"]["processed"] == 1 and done["progress"]["total"] == 1


def test_idempotency_key(sluice):
    ns, bucket = make_space(sluice, "idem")
    ids = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": "x"}])
    body = {"object_ids": ids, "batch_name": "once"}
    headers = {"Idempotency-Key": "create-1"}
    first = sluice.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json=body, headers=dict(headers))
    again = sluice.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json=body, headers=dict(headers))
    assert first.status_code == again.status_code == 200
    assert first.json()["batch_id"] == again.json()["batch_id"]
    other = sluice.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={**body, "batch_name": "twice"}, headers=dict(headers))
    assert other.status_code == 422, other.text
    listed = sluice.call("POST", f"/v1/buckets/{bucket}/batches/list", ns=ns, json={}).json()
    assert len(listed["results"]) == 1


def test_a_replayed_webhook_create_never_shows_the_secret_again(sluice):
    body = {"webhook_name": "replayed", "event_types": ["object.created"],
            "channels": [{"channel": "webhook", "configs": {"url": "https://example.com/hook"}}]}
    headers = {"Idempotency-Key": "webhook-create-1"}
    first = sluice.call("POST", "/v1/organizations/webhooks", json=body, headers=dict(headers))
    assert first.status_code == 200, first.text
    secret = first.json()["signing_secret"]
    assert secret.startswith("whsec_")
    again = sluice.call("POST", "/v1/organizations/webhooks", json=body, headers=dict(headers))
    assert again.status_code == 200 and again.json()["webhook_id"] == first.json()["webhook_id"]
    assert secret not in again.text and "signing_secret" not in again.json(), again.text
    assert "only by the request that created" in again.json()["signing_secret_withheld"]


def test_ssrf_guard_refuses_private_addresses(sluice):
    ns, bucket = make_space(sluice, "ssrf")
    urls = ["http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data/", "http://[::1]/x", "http://10.0.0.1/x", "http://localhost/x"]
    ids = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "url": u} for u in urls])
    batch = sluice.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": ids, "auto_submit": True}).json()
    done = wait_batch(sluice, ns, bucket, batch["batch_id"])
    assert done["status"] == "FAILED"
    assert len(done["failed_objects"]) == len(urls)
    for f in done["failed_objects"]:
        assert f["stage"] == "blob" and "refused" in f["error"], f


class Receiver:
    """A webhook endpoint that fails its first `failures` deliveries."""

    def __init__(self, failures):
        self.failures = failures
        self.seen = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.seen.append((dict(self.headers), body))
                code = 500 if len(outer.seen) <= outer.failures else 204
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


def subscribe(sluice, name, event_types, url):
    """Creates a webhook of `event_types` delivering to `url`; its view, secret included."""
    r = sluice.call("POST", "/v1/organizations/webhooks", json={
        "webhook_name": name, "event_types": event_types,
        "channels": [{"channel": "webhook", "configs": {"url": url}}],
    })
    assert r.status_code == 200, r.text
    return r.json()


def verify(secret, headers, body):
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return f"v1,{expected}" in headers["webhook-signature"].split(" ")


@pytest.fixture
def private_sluice(tmp_path):
    """A second server that may reach loopback (blob URLs, webhooks), with fast retries."""
    proc, url, key = start(tmp_path / "data", {
        "SLUICE_ALLOW_PRIVATE_URLS": "true", "SLUICE_WEBHOOK_RETRY_BASE_MS": "300",
        "SLUICE_VISIBILITY_TIMEOUT_SECS": "3", "SLUICE_BATCH_CHUNK_SIZE": "4",
        "SLUICE_WEBHOOK_DISABLE_AFTER": "3",
    })
    yield Sluice(url, key, tmp_path / "data"), proc
    proc.kill()
    proc.wait()


def test_signed_webhooks_with_retries(private_sluice):
    sluice, _ = private_sluice
    receiver = Receiver(failures=2)
    created = subscribe(sluice, "batches", ["batch.completed", "batch.failed"], receiver.url)
    secret = created["signing_secret"]
    assert secret.startswith("whsec_")
    assert sluice.call("POST", "/v1/organizations/webhooks/list", json={}).json()["total"] == 1
    assert "signing_secret" not in sluice.call("GET", f"/v1/organizations/webhooks/{created['webhook_id']}").json()
    # At rest the secret is sealed: nothing in the data dir holds it in the clear.
    key = secret.removeprefix("whsec_").encode()
    for where, content in stored_contents(sluice.data_dir):
        assert key not in content, f"{where} holds the signing secret"

    ns, bucket = make_space(sluice, "hooks")
    ids = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": "hello"}])
    batch = sluice.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": ids, "auto_submit": True}).json()
    assert wait_batch(sluice, ns, bucket, batch["batch_id"])["status"] == "COMPLETED"
    deadline = time.time() + 30
    while len(receiver.seen) < 3 and time.time() < deadline:
        time.sleep(0.1)
    assert len(receiver.seen) == 3, receiver.seen
    ids_seen = {h["webhook-id"] for h, _ in receiver.seen}
    assert len(ids_seen) == 1, "webhook-id is stable across retries"
    for headers, body in receiver.seen:
        assert verify(secret, headers, body)
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    event = json.loads(receiver.seen[-1][1])
    assert event["type"] == "batch.completed" and event["data"]["batch_id"] == batch["batch_id"]
    assert not verify("whsec_" + base64.b64encode(b"wrong" * 6).decode(), *receiver.seen[0])
    log = sluice.call("GET", f"/v1/organizations/webhooks/{created['webhook_id']}/deliveries").json()["results"]
    assert [d["success"] for d in sorted(log, key=lambda d: d["attempt"])] == [False, False, True]
    assert [d["status_code"] for d in sorted(log, key=lambda d: d["attempt"])] == [500, 500, 204]


class SlowFiles:
    """Serves text slowly, so a batch is still running when the server is killed."""

    def __init__(self, delay):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                time.sleep(delay)
                body = f"content of {self.path}".encode()
                self.send_response(200)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"


def test_killed_mid_batch_completes_after_restart(private_sluice, tmp_path):
    sluice, proc = private_sluice
    files = SlowFiles(delay=0.25)
    ns, bucket = make_space(sluice, "crash")
    ids = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "url": f"{files.url}/f{i}"} for i in range(40)])
    batch = sluice.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": ids, "auto_submit": True}).json()
    path = f"/v1/buckets/{bucket}/batches/{batch['batch_id']}"
    deadline = time.time() + 30
    while time.time() < deadline:
        b = sluice.call("GET", path, ns=ns).json()
        if b["progress"]["processed"] > 0:
            break
        time.sleep(0.05)
    assert b["status"] == "PROCESSING" and b["progress"]["processed"] < 40, b
    proc.kill()
    proc.wait()
    proc2, url, key = start(sluice.data_dir, {
        "SLUICE_ALLOW_PRIVATE_URLS": "true", "SLUICE_VISIBILITY_TIMEOUT_SECS": "3", "SLUICE_BATCH_CHUNK_SIZE": "4",
    })
    try:
        again = Sluice(url, key, sluice.data_dir)
        done = wait_batch(again, ns, bucket, batch["batch_id"], timeout=90)
        assert done["status"] == "COMPLETED", done
        assert done["progress"]["processed"] == 40 and done["documents_written"] >= 40
        results = again.call("GET", f"{path}/objects?limit=100", ns=ns).json()["results"]
        assert sorted(r["object_id"] for r in results) == sorted(ids)
        col = done["collection_ids"][0]
        docs = again.call("POST", f"/v1/collections/{col}/documents/list", ns=ns, json={"limit": 100}).json()["results"]
        assert len(docs) == 40 and len({d["document_id"] for d in docs}) == 40
    finally:
        proc2.kill()
        proc2.wait()


def test_sdk_webhooks(sluice):
    config = mixpeek.Configuration(host=sluice.url, access_token=sluice.api_key)
    hooks = WebhooksApi(mixpeek.ApiClient(config))
    from mixpeek.models.webhook_input import WebhookInput
    created = hooks.create_webhook_organizations(WebhookInput.from_dict({
        "webhook_name": "objects", "event_types": ["object.created"],
        "channels": [{"channel": "webhook", "configs": {"url": "https://example.com/hook"}}],
    }))
    assert created.webhook_id.startswith("wh_")
    listed = hooks.list_webhooks_organizations()
    assert created.webhook_id in [w.webhook_id for w in listed.results]
    got = hooks.get_webhook_organizations(created.webhook_id)
    assert got.event_types[0].value == "object.created"
    hooks.delete_webhook_organizations(created.webhook_id)
    assert sluice.call("GET", f"/v1/organizations/webhooks/{created.webhook_id}").status_code == 404


def test_failing_endpoint_is_disabled(private_sluice):
    sluice, _ = private_sluice
    receiver = Receiver(failures=1000)
    created = subscribe(sluice, "broken", ["object.created"], receiver.url)
    ns, bucket = make_space(sluice, "broken-hook")
    add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": "x"}])
    path = f"/v1/organizations/webhooks/{created['webhook_id']}"
    deadline = time.time() + 30
    while time.time() < deadline and sluice.call("GET", path).json()["is_active"]:
        time.sleep(0.2)
    hook = sluice.call("GET", path).json()
    assert hook["is_active"] is False, hook
    assert "3 consecutive failed deliveries" in hook["delivery_health"]["disabled_reason"]
    assert len(receiver.seen) == 3


def test_auto_process_and_auto_submit_batch(sluice):
    ns, bucket = make_space(sluice, "auto")
    obj = sluice.call("POST", f"/v1/buckets/{bucket}/objects?auto_process=true", ns=ns, json={
        "blobs": [{"property": "body", "type": "text", "content": "processed at once"}],
    }).json()
    assert obj["batch_id"].startswith("btch_") and obj["task_id"].startswith("task_")
    assert wait_batch(sluice, ns, bucket, obj["batch_id"])["status"] == "COMPLETED"

    upload = sluice.call("POST", f"/v1/buckets/{bucket}/uploads", ns=ns, json={
        "filename": "note.txt", "content_type": "text/plain", "blob_property": "body",
    }).json()
    put = requests.put(upload["presigned_url"], data=b"uploaded text", headers={"Content-Type": "text/plain"}, timeout=10)
    assert put.status_code == 200, put.text
    path = f"/v1/buckets/{bucket}/uploads/{upload['upload_id']}/confirm"
    first = sluice.call("POST", path, ns=ns, json={"auto_submit_batch": True}).json()
    again = sluice.call("POST", path, ns=ns, json={"auto_submit_batch": True}).json()
    assert first["batch_id"] == again["batch_id"], "confirming again finds the same batch"
    done = wait_batch(sluice, ns, bucket, first["batch_id"])
    assert done["status"] == "COMPLETED" and done["object_ids"] == [first["object_id"]]
    docs = sluice.call("GET", f"/v1/buckets/{bucket}/objects/{first['object_id']}/documents", ns=ns).json()["results"]
    assert docs[0]["text"] == "uploaded text"
    # Deleting the object removes its documents.
    assert sluice.call("DELETE", f"/v1/buckets/{bucket}/objects/{first['object_id']}", ns=ns).status_code == 200
    col = done["collection_ids"][0]
    left = sluice.call("POST", f"/v1/collections/{col}/documents/list", ns=ns, json={"filters": {"source_object_id": first["object_id"]}}).json()
    assert left["results"] == []


def test_webhooks_cannot_reach_private_addresses(sluice):
    receiver = Receiver(failures=0)
    created = subscribe(sluice, "internal", ["objects.created.batch"], receiver.url)
    ns, bucket = make_space(sluice, "private-hook")
    add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": c} for c in ("a", "b")])
    path = f"/v1/organizations/webhooks/{created['webhook_id']}/deliveries"
    deadline = time.time() + 20
    log = []
    while not log and time.time() < deadline:
        log = sluice.call("GET", path).json()["results"]
        time.sleep(0.1)
    assert log and log[0]["success"] is False and "refused" in log[0]["error"], log
    assert receiver.seen == [], "the guard stopped the request before any connection"
    sluice.call("DELETE", f"/v1/organizations/webhooks/{created['webhook_id']}")


def wait_for(predicate, timeout=30):
    deadline = time.time() + timeout
    while not predicate() and time.time() < deadline:
        time.sleep(0.1)
    return predicate()


def test_object_and_upload_events_reach_their_subscribers(private_sluice):
    sluice, _ = private_sluice
    receiver = Receiver(failures=0)
    subscribe(sluice, "lifecycle", ["object.updated", "object.deleted", "upload.completed"], receiver.url)
    ns, bucket = make_space(sluice, "lifecycle-events")
    [obj] = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": "v1"}])
    path = f"/v1/buckets/{bucket}/objects/{obj}"
    assert sluice.call("PATCH", path, ns=ns, json={"metadata": {"n": 7}}).status_code == 200
    upload = sluice.call("POST", f"/v1/buckets/{bucket}/uploads", ns=ns, json={
        "filename": "note.txt", "content_type": "text/plain", "blob_property": "body",
    }).json()
    put = requests.put(upload["presigned_url"], data=b"uploaded", headers={"Content-Type": "text/plain"}, timeout=10)
    assert put.status_code == 200, put.text
    confirmed = sluice.call("POST", f"/v1/buckets/{bucket}/uploads/{upload['upload_id']}/confirm", ns=ns).json()
    assert sluice.call("DELETE", path, ns=ns).status_code == 200
    assert wait_for(lambda: len(receiver.seen) >= 3), receiver.seen
    time.sleep(1)  # anything more (a duplicate, an unsubscribed object.created) would arrive by now
    events = {}
    for _, body in receiver.seen:
        event = json.loads(body)
        assert event["type"] not in events, f"{event['type']} delivered twice"
        events[event["type"]] = event["data"]
    assert set(events) == {"object.updated", "object.deleted", "upload.completed"}, events
    assert events["object.updated"]["object_id"] == obj and events["object.updated"]["bucket_id"] == bucket
    assert events["object.deleted"]["object_id"] == obj
    assert events["upload.completed"]["upload_id"] == upload["upload_id"]
    assert events["upload.completed"]["object_id"] == confirmed["object_id"]


def test_a_delivery_is_attempted_at_most_max_attempts_times(tmp_path):
    proc, url, key = start(tmp_path / "data", {
        "SLUICE_ALLOW_PRIVATE_URLS": "true", "SLUICE_WEBHOOK_RETRY_BASE_MS": "200",
        "SLUICE_WEBHOOK_MAX_ATTEMPTS": "3", "SLUICE_VISIBILITY_TIMEOUT_SECS": "3",
    })
    try:
        sluice = Sluice(url, key, tmp_path / "data")
        receiver = Receiver(failures=1000)
        hook = subscribe(sluice, "capped", ["object.created"], receiver.url)
        ns, bucket = make_space(sluice, "capped")
        add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": "x"}])
        assert wait_for(lambda: len(receiver.seen) >= 3), receiver.seen
        # A fourth attempt would come 800 ms after the third (200 ms doubling); wait well past it.
        time.sleep(3)
        assert len(receiver.seen) == 3
        assert len({h["webhook-id"] for h, _ in receiver.seen}) == 1
        log = sluice.call("GET", f"/v1/organizations/webhooks/{hook['webhook_id']}/deliveries").json()["results"]
        assert sorted(d["attempt"] for d in log) == [1, 2, 3] and not any(d["success"] for d in log), log
        # Three failures are below SLUICE_WEBHOOK_DISABLE_AFTER (20): the endpoint stays on.
        assert sluice.call("GET", f"/v1/organizations/webhooks/{hook['webhook_id']}").json()["is_active"] is True
    finally:
        proc.kill()
        proc.wait()


def test_sluice_local_serves_its_figures_for_prometheus(sluice):
    """GET /metrics: the business figures a batch moved (as EMF lines do in Lambda)."""
    ns, bucket = make_space(sluice, "figures")
    ids = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": f"m{i}"} for i in range(2)])
    batch = sluice.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": ids}).json()
    sluice.call("POST", f"/v1/buckets/{bucket}/batches/{batch['batch_id']}/submit", ns=ns)
    assert wait_batch(sluice, ns, bucket, batch["batch_id"])["status"] == "COMPLETED"
    r = requests.get(sluice.url + "/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/openmetrics-text"), r.text
    figures = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            figures[name] = float(value)
    assert figures["sluice_objects_registered_total"] >= 2, r.text
    assert figures["sluice_objects_processed_total"] >= 2, r.text
    assert figures['sluice_batch_duration_milliseconds_count{status="COMPLETED"}'] >= 1, r.text
    assert figures['sluice_extraction_time_milliseconds_count{modality="text"}'] >= 2, r.text
