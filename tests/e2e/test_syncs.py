"""Syncs end to end: sluice-local reading an S3 bucket on moto. The quickstart's sync and
trigger requests verbatim (the AWS SDK's standard AWS_ENDPOINT_URL_S3 points the sync at
moto; nothing in the requests changes), the mixpeek SDK's connection and sync APIs as a
real client, incremental runs that count exactly, the deletion brake, and credentials
that appear in no response and no log line."""

import base64
import concurrent.futures
import http.server
import json
import os
import re
import subprocess
import threading
import time

import boto3
import mixpeek
import pytest
from mixpeek.api.bucket_syncs_api import BucketSyncsApi
from mixpeek.api.organization_connections_api import OrganizationConnectionsApi
from mixpeek.models.storage_connection_create_request import StorageConnectionCreateRequest
from mixpeek.models.sync_create_request import SyncCreateRequest

from conftest import Sluice, have_tool, start
from test_quickstart import curl_commands, find, run

MOTO = os.environ.get("AWS_ENDPOINT_URL")
SECRET = "quickstart-secret-never-shown"


@pytest.fixture(scope="module")
def s3():
    if not MOTO:
        if os.environ.get("SLUICE_REQUIRE_MOTO"):
            pytest.fail("SLUICE_REQUIRE_MOTO is set but AWS_ENDPOINT_URL is not")
        pytest.skip("AWS_ENDPOINT_URL (moto) not set")
    return boto3.client("s3", endpoint_url=MOTO, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


class FakeBackblaze:
    """`b2_authorize_account` (API v4) as Backblaze documents it: Basic auth with the key
    id and application key; the account's S3 endpoint (here, moto) in apiInfo."""

    KEY_ID, APP_KEY = "0012b2keyid", "K001b2applicationkey"

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                want = "Basic " + base64.b64encode(f"{FakeBackblaze.KEY_ID}:{FakeBackblaze.APP_KEY}".encode()).decode()
                if self.path != "/b2api/v4/b2_authorize_account":
                    self.send_response(404)
                    self.end_headers()
                    return
                ok = self.headers.get("Authorization") == want
                body = json.dumps({"accountId": "acct", "apiInfo": {"storageApi": {"s3ApiUrl": MOTO}}} if ok
                                  else {"status": 401, "code": "unauthorized", "message": "bad key"}).encode()
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def syncing(tmp_path_factory, s3):
    """sluice-local with S3 pointed at moto, its log kept to check for secrets."""
    data = tmp_path_factory.mktemp("sync-data")
    b2 = FakeBackblaze()
    proc, url, key = start(data, {
        "AWS_ENDPOINT_URL_S3": MOTO, "SLUICE_LOG": "info",
        # Runs start only when a test triggers them: a poller could start one first.
        "SLUICE_SYNC_POLL_SECS": "3600",
        "SLUICE_BACKBLAZE_API_URL": b2.url, "SLUICE_SYNC_MAX_FILE_ATTEMPTS": "1",
        "SLUICE_AWS_ACCOUNT_ID": "000000000000",
    })
    log = proc.log
    try:
        yield Sluice(url, key, data), log
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.drain.join(timeout=5)
        b2.server.shutdown()
        text = "".join(log)
        assert SECRET not in text, "a secret reached the log"
        assert "AKIASLUICESDK" not in text, "an access key id reached the log"


def fresh_bucket(s3, name):
    """An empty bucket of this name (moto outlives a test run when run by hand)."""
    s3.create_bucket(Bucket=name)  # in us-east-1, a no-op when it exists
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for o in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=o["Key"])


def wait_run(sluice, ns, bucket, sync_id, job_id, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = sluice.call("GET", f"/v1/buckets/{bucket}/syncs/{sync_id}/jobs/{job_id}", ns=ns).json()
        if job["status"] != "running":
            return job
        time.sleep(0.3)
    raise AssertionError(f"sync run did not finish: {job}")


def start_run(sluice, ns, bucket, sync_id):
    """Starts a run of the sync and returns its id; when the poller started one first
    (a new or resumed sync is due at once), that run's."""
    r = sluice.call("POST", f"/v1/buckets/{bucket}/syncs/{sync_id}/trigger", ns=ns)
    if r.status_code == 409:
        running = re.search(r"run in progress \((job_\w+)\)", r.text)
        assert running, r.text
        return running.group(1)
    assert r.status_code == 200, r.text
    return r.json()["sync_job_id"]


def trigger(sluice, ns, bucket, sync_id):
    return wait_run(sluice, ns, bucket, sync_id, start_run(sluice, ns, bucket, sync_id))


def kill_mid_run(proc, sluice, ns, bucket, sync_id, after, total):
    """Triggers a run, kills the server with SIGKILL once `after` of its `total` files are
    synced (the run still going), and returns the run's id."""
    job_id = sluice.call("POST", f"/v1/buckets/{bucket}/syncs/{sync_id}/trigger", ns=ns).json()["sync_job_id"]
    deadline = time.time() + 60
    while time.time() < deadline:
        job = sluice.call("GET", f"/v1/buckets/{bucket}/syncs/{sync_id}/jobs/{job_id}", ns=ns).json()
        if job["files_synced"] >= after:
            break
        time.sleep(0.05)
    proc.kill()  # kill -9, mid-run
    proc.wait()
    assert job["status"] == "running" and job["files_synced"] < total, f"the run ended before the kill: {job}"
    return job_id


def test_quickstart_sync_and_trigger_verbatim(syncing, s3):
    sluice, _ = syncing
    fresh_bucket(s3, "my-source-bucket")
    names = ["a.txt", "with space.txt", "ünïcode.txt", "double//slash.txt", "empty.txt", "sub/b.txt"]
    for n in names:
        s3.put_object(Bucket="my-source-bucket", Key=f"videos/{n}", Body=b"" if n == "empty.txt" else f"text of {n}".encode())
    s3.put_object(Bucket="my-source-bucket", Key="other/skip.txt", Body=b"outside the source path")

    commands = curl_commands()
    env = dict(os.environ, MIXPEEK_API_KEY=sluice.api_key)
    status, ns = run(find(commands, "POST", "/v1/namespaces"), sluice.url, env)
    assert status == 200, ns
    env["NAMESPACE_ID"] = ns["namespace_id"]
    status, bucket = run(find(commands, "POST", "/v1/buckets"), sluice.url, env)
    assert status == 200, bucket
    env["BUCKET_ID"] = bucket["bucket_id"]

    create = find(commands, "POST", "/syncs")
    status, sync = run(create, sluice.url, env)
    assert status == 200, sync
    assert sync["source_path"] == "my-source-bucket/videos/"
    assert sync["sync_mode"] == "continuous" and sync["polling_interval_seconds"] == 3600
    assert sync["connection_id"].startswith("conn_")
    connection = sluice.call("GET", f"/v1/organizations/connections/{sync['connection_id']}").json()
    assert connection["provider_config"]["credentials"] == {"type": "access_key"}, connection

    env["SYNC_ID"] = sync["sync_config_id"]
    status, triggered = run(find(commands, "POST", "/trigger"), sluice.url, env)
    assert status == 200, triggered
    job = wait_run(sluice, ns["namespace_id"], bucket["bucket_id"], sync["sync_config_id"], triggered["sync_job_id"])
    assert job["status"] == "completed", job
    c = job["counts"]
    assert (c["scanned"], c["new"], c["failed"]) == (len(names), len(names), 0), job
    objects = sluice.call("GET", f"/v1/buckets/{bucket['bucket_id']}/objects?limit=100", ns=ns["namespace_id"]).json()["results"]
    keys = sorted(o["blobs"][0]["properties"]["synced"]["key"] for o in objects)
    assert keys == sorted(f"videos/{n}" for n in names)
    # Batches ran the namespace's extractor over the synced files, read from moto.
    assert job["batches_created"] >= 1
    for b in wait_batches(sluice, ns["namespace_id"], bucket["bucket_id"], job["batch_ids"], timeout=120):
        # The 0-byte file has no text to embed; every other object is processed.
        assert b["status"] in ("COMPLETED", "COMPLETED_WITH_ERRORS"), b
        for f in b["failed_objects"]:
            assert f["stage"] != "blob", f"a synced blob was not read: {f}"


def sdk_key(i):
    """2 500 keys, some awkward: spaces, unicode, `//`, and one empty file."""
    return {7: "docs/with space 7.txt", 8: "docs/ünïcode 8.txt", 9: "docs//double 9.txt"}.get(i, f"docs/{i:04d}.txt")


def put_many(s3, bucket, items):
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), items))


def test_sdk_connection_and_sync_count_every_change(syncing, s3):
    sluice, _ = syncing
    fresh_bucket(s3, "sdk-source")
    put_many(s3, "sdk-source", [(sdk_key(i), b"" if i == 10 else f"document {i}".encode()) for i in range(2500)])
    ns = sluice.call("POST", "/v1/namespaces", json={
        "namespace_name": "sdk-syncs", "feature_extractors": [{"feature_extractor_name": "passthrough_extractor", "version": "v1"}],
    }).json()["namespace_id"]
    bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "docs", "bucket_schema": {"properties": {"body": {"type": "text"}}},
    }).json()["bucket_id"]

    config = mixpeek.Configuration(host=sluice.url, access_token=sluice.api_key)
    config.api_key["NamespaceHeader"] = ns
    api = mixpeek.ApiClient(config)
    conn = OrganizationConnectionsApi(api).create_storage_connection_organizations(
        StorageConnectionCreateRequest.from_dict({
            "name": "sdk source", "provider_type": "s3",
            "provider_config": {"region": "us-east-1", "credentials": {
                "type": "access_key", "access_key_id": "AKIASLUICESDK", "secret_access_key": SECRET}},
        }))
    assert conn.connection_id.startswith("conn_")
    tested = sluice.call("POST", f"/v1/organizations/connections/{conn.connection_id}/test").json()
    assert tested["success"] is True, tested
    syncs = BucketSyncsApi(api)
    sync = syncs.create_sync_configuration_buckets(bucket, SyncCreateRequest.from_dict({
        "connection_id": conn.connection_id, "source_path": "sdk-source/docs/", "sync_mode": "continuous",
        "polling_interval_seconds": 3600, "skip_batch_submission": True,
    }))
    first = trigger(sluice, ns, bucket, sync.sync_config_id)
    assert (first["counts"]["new"], first["counts"]["scanned"], first["counts"]["failed"]) == (2500, 2500, 0), first
    assert sluice.call("GET", f"/v1/buckets/{bucket}", ns=ns).json()["object_count"] == 2500
    again = trigger(sluice, ns, bucket, sync.sync_config_id)
    assert (again["counts"]["unchanged"], again["counts"]["new"], again["counts"]["modified"]) == (2500, 0, 0), again

    put_many(s3, "sdk-source", [(sdk_key(i), b"changed") for i in (3, 8, 2000)])
    for i in (5, 9):
        s3.delete_object(Bucket="sdk-source", Key=sdk_key(i))
    put_many(s3, "sdk-source", [(f"docs/{i:04d}.txt", b"new") for i in range(2500, 2505)])
    third = trigger(sluice, ns, bucket, sync.sync_config_id)
    c = third["counts"]
    assert (c["new"], c["modified"], c["deleted"], c["unchanged"]) == (5, 3, 2, 2495), third
    assert sluice.call("GET", f"/v1/buckets/{bucket}", ns=ns).json()["object_count"] == 2503

    job = syncs.get_sync_job_buckets_id_config(bucket, sync.sync_config_id, third["sync_job_id"])
    assert job.status == "completed" and job.files_synced == 8
    got = syncs.get_sync_configuration_buckets_id_config(bucket, sync.sync_config_id)
    assert got.total_files_synced == 2508 and got.consecutive_failures == 0

    # The brake: 40 % gone at once is withheld, and said why.
    gone = [{"Key": f"docs/{i:04d}.txt"} for i in range(1000, 2000)]
    s3.delete_objects(Bucket="sdk-source", Delete={"Objects": gone})
    braked = trigger(sluice, ns, bucket, sync.sync_config_id)
    assert braked["counts"]["deleted"] == 0 and braked["counts"]["withheld_deletions"] == 1000, braked
    assert "brake" in braked["withheld_reason"]
    assert sluice.call("GET", f"/v1/buckets/{bucket}", ns=ns).json()["object_count"] == 2503
    metrics = sluice.call("GET", f"/v1/buckets/{bucket}/syncs/{sync.sync_config_id}/metrics", ns=ns).json()
    assert metrics["healthy"] is True and metrics["last_job"]["sync_job_id"] == braked["sync_job_id"]


def test_bad_credentials_are_refused_before_save_and_runs_fail_with_the_reason(syncing, s3):
    sluice, _ = syncing
    bad = sluice.call("POST", "/v1/organizations/connections", json={
        "name": "nowhere", "provider_type": "s3",
        "provider_config": {"credentials": {"type": "access_key", "access_key_id": "AKIA", "secret_access_key": SECRET}},
        "test_before_save": False,
    }).json()
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "bad-syncs"}).json()["namespace_id"]
    bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "b", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
    sync = sluice.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
        "connection_id": bad["connection_id"], "source_path": "no-such-bucket/x/"}).json()
    job = trigger(sluice, ns, bucket, sync["sync_config_id"])
    assert job["status"] == "failed" and "not found" in job["error"], job
    assert sluice.call("GET", f"/v1/buckets/{bucket}", ns=ns).json()["object_count"] == 0
    refused = sluice.call("POST", "/v1/organizations/connections", json={
        "name": "refused", "provider_type": "s3",
        "provider_config": {"bucket": "no-such-bucket", "credentials": {"type": "access_key", "access_key_id": "AKIA", "secret_access_key": SECRET}},
    })
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"]["field"] == "provider_config"
    assert SECRET not in refused.text
    unsupported = sluice.call("POST", "/v1/organizations/connections", json={
        "name": "drive", "provider_type": "google_drive", "provider_config": {}})
    assert unsupported.status_code == 422 and "not supported by this server yet" in unsupported.text


def test_an_iam_role_connection_assumes_the_role_through_sts(syncing, s3):
    """`iam_role` credentials: the server's own credentials call STS AssumeRole (moto's
    STS here) with the ExternalId, and the sync reads with the role's session."""
    sluice, _ = syncing
    fresh_bucket(s3, "role-source")
    s3.put_object(Bucket="role-source", Key="r/a.txt", Body=b"read through a role")
    def by_role(role_arn, external_id, name="by role"):
        return sluice.call("POST", "/v1/organizations/connections", json={
            "name": name, "provider_type": "s3",
            "provider_config": {"region": "us-east-1", "credentials": {
                "type": "iam_role", "role_arn": role_arn, "external_id": external_id}},
        })

    # The external id is Sluice's to issue, one per organisation: any other is refused
    # with the one to require in the role's trust policy.
    role = "arn:aws:iam::123456789012:role/sluice-reader"
    guessed = by_role(role, "mixpeek-org_guessable")
    assert guessed.status_code == 422, guessed.text
    assert guessed.json()["error"]["details"]["field"] == "provider_config.credentials.external_id"
    issued = guessed.json()["error"]["message"].split("external id, ")[1].split(":")[0]
    assert issued.startswith("sluice-") and len(issued) > 30, issued
    # A role in the account Sluice runs in (SLUICE_AWS_ACCOUNT_ID) is refused.
    own = by_role("arn:aws:iam::000000000000:role/anyone-trusting-the-account", issued, "own account")
    assert own.status_code == 422 and "account Sluice runs in" in own.text, own.text
    conn = by_role(role, issued)
    assert conn.status_code == 200, conn.text
    conn = conn.json()
    assert conn["provider_config"]["credentials"] == {"type": "iam_role"}, conn
    tested = sluice.call("POST", f"/v1/organizations/connections/{conn['connection_id']}/test").json()
    assert tested["success"] is True, tested
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "role-syncs"}).json()["namespace_id"]
    bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "b", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
    sync = sluice.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
        "connection_id": conn["connection_id"], "source_path": "role-source/r/", "skip_batch_submission": True}).json()
    job = trigger(sluice, ns, bucket, sync["sync_config_id"])
    assert job["status"] == "completed" and job["counts"]["new"] == 1, job
    missing = sluice.call("POST", "/v1/organizations/connections", json={
        "name": "no external id", "provider_type": "s3",
        "provider_config": {"credentials": {"type": "iam_role", "role_arn": "arn:aws:iam::123456789012:role/x"}}})
    assert missing.status_code == 422 and "external_id" in missing.text, missing.text


PRESETS = [
    ("s3", {"preset": "r2", "account_id": "acct0123"}),
    ("s3", {"preset": "wasabi", "region": "eu-central-1"}),
    ("tigris", {}),
    ("supabase", {"project_ref": "proj0123"}),
    ("s3", {"region": "us-east-1"}),  # any S3-compatible store, by endpoint_url
]


def test_every_preset_syncs_from_moto_at_its_endpoint(tmp_path, s3):
    """Each S3-family preset with its endpoint pointed at moto (loopback, so this server
    allows private endpoints): saved after a live test, then a sync reads every file.
    The server the other tests use refuses the same endpoint (the SSRF guard)."""
    fresh_bucket(s3, "preset-source")
    for i in range(3):
        s3.put_object(Bucket="preset-source", Key=f"p/{i}.txt", Body=f"preset file {i}".encode())
    data = tmp_path / "data"
    proc, url, key = start(data, {"SLUICE_ALLOW_PRIVATE_URLS": "true"})
    try:
        sluice = Sluice(url, key, data)
        ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "presets"}).json()["namespace_id"]
        for i, (provider, settings) in enumerate(PRESETS):
            bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={
                "bucket_name": f"preset-{i}", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
            conn = sluice.call("POST", "/v1/organizations/connections", json={
                "name": f"preset {i}", "provider_type": provider,
                "provider_config": {**settings, "endpoint_url": MOTO, "credentials": {
                    "type": "access_key", "access_key_id": f"AKIAPRESET{i}", "secret_access_key": SECRET}}})
            assert conn.status_code == 200, (provider, settings, conn.text)
            sync = sluice.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
                "connection_id": conn.json()["connection_id"], "source_path": "preset-source/p/",
                "skip_batch_submission": True}).json()
            job = trigger(sluice, ns, bucket, sync["sync_config_id"])
            assert job["status"] == "completed" and job["counts"]["new"] == 3, (provider, settings, job)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_an_endpoint_on_loopback_is_refused(syncing):
    sluice, _ = syncing
    r = sluice.call("POST", "/v1/organizations/connections", json={
        "name": "loopback", "provider_type": "s3",
        "provider_config": {"endpoint_url": MOTO, "credentials": {
            "type": "access_key", "access_key_id": "AKIA", "secret_access_key": SECRET}}})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]["field"] == "provider_config.endpoint_url", r.text


def test_sync_and_connection_lifecycle(syncing, s3):
    sluice, _ = syncing
    fresh_bucket(s3, "lifecycle-source")
    s3.put_object(Bucket="lifecycle-source", Key="in/a.txt", Body=b"a")
    s3.put_object(Bucket="lifecycle-source", Key="in/clip.mp4", Body=b"not text")
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "lifecycle-syncs"}).json()["namespace_id"]
    bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "b", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
    conn = sluice.call("POST", "/v1/organizations/connections", json={
        "name": "lifecycle", "provider_type": "s3", "description": "first",
        "provider_config": {"credentials": {"type": "access_key", "access_key_id": "AKIASLUICESDK", "secret_access_key": SECRET}},
    }).json()
    cid = conn["connection_id"]
    listed = sluice.call("POST", "/v1/organizations/connections/list", json={"provider_type": "s3"}).json()
    assert cid in [c["connection_id"] for c in listed["results"]]
    patched = sluice.call("PATCH", f"/v1/organizations/connections/{cid}", json={"description": "second"})
    assert patched.status_code == 200 and patched.json()["description"] == "second", patched.text

    base = f"/v1/buckets/{bucket}/syncs"
    sync = sluice.call("POST", base, ns=ns, json={
        "connection_id": cid, "source_path": "lifecycle-source/in/", "skip_batch_submission": True}).json()
    sid = sync["sync_config_id"]
    assert [s["sync_config_id"] for s in sluice.call("POST", f"{base}/list", ns=ns, json={}).json()["results"]] == [sid]
    assert sluice.call("GET", f"{base}/{sid}", ns=ns).json()["connection_id"] == cid
    changed = sluice.call("PATCH", f"{base}/{sid}", ns=ns, json={"polling_interval_seconds": 600, "description": "d"})
    assert changed.status_code == 200 and changed.json()["polling_interval_seconds"] == 600, changed.text
    too_fast = sluice.call("PATCH", f"{base}/{sid}", ns=ns, json={"polling_interval_seconds": 5})
    assert too_fast.status_code == 422 and too_fast.json()["error"]["details"]["field"] == "polling_interval_seconds"
    paused = sluice.call("POST", f"{base}/{sid}/pause", ns=ns).json()
    assert paused["paused"] is True and paused["is_active"] is False
    assert sluice.call("POST", f"{base}/{sid}/trigger", ns=ns).status_code == 409
    resumed = sluice.call("POST", f"{base}/{sid}/resume", ns=ns).json()
    assert resumed["paused"] is False
    job = trigger(sluice, ns, bucket, sid)
    assert (job["counts"]["new"], job["counts"]["failed"]) == (1, 1), job
    jobs = sluice.call("POST", f"{base}/{sid}/jobs", ns=ns, json={}).json()
    assert job["sync_job_id"] in [j["sync_job_id"] for j in jobs["results"]]
    dlq = sluice.call("POST", f"{base}/{sid}/dlq", ns=ns, json={}).json()
    assert [d["source_path"] for d in dlq["results"]] == ["in/clip.mp4"], dlq
    assert "video/mp4" in dlq["results"][0]["error_message"]
    # Out of attempts (one, on this server): a requeue retries the file now, in a run of its own.
    assert dlq["results"][0]["retry_count"] == 1 and dlq["results"][0]["max_retries_reached"] is True, dlq
    requeued = sluice.call("POST", f"{base}/{sid}/dlq/requeue", ns=ns, json={}).json()
    assert requeued["requeued"] == 1 and requeued["sync_job_id"].startswith("job_"), requeued
    retried = wait_run(sluice, ns, bucket, sid, requeued["sync_job_id"])
    assert (retried["trigger"], retried["counts"]["failed"], retried["counts"]["unchanged"]) == ("manual", 1, 1), retried
    dlq = sluice.call("POST", f"{base}/{sid}/dlq", ns=ns, json={}).json()
    assert dlq["results"][0]["retry_count"] == 2, dlq
    unlocked = sluice.call("POST", f"{base}/{sid}/unlock", ns=ns).json()
    assert unlocked["locked"] is False
    in_use = sluice.call("DELETE", f"/v1/organizations/connections/{cid}")
    assert in_use.status_code == 409, in_use.text
    assert sluice.call("DELETE", f"{base}/{sid}", ns=ns).json()["success"] is True
    assert sluice.call("GET", f"{base}/{sid}", ns=ns).status_code == 404
    assert sluice.call("GET", f"/v1/buckets/{bucket}", ns=ns).json()["object_count"] == 1, "objects stay"
    assert sluice.call("DELETE", f"/v1/organizations/connections/{cid}").status_code == 200
    assert sluice.call("GET", f"/v1/organizations/connections/{cid}").status_code == 404


def test_a_webhook_subscribed_to_sync_completed_hears_the_run(tmp_path, s3):
    from test_batches import Receiver, subscribe, verify
    proc, url, key = start(tmp_path / "data", {
        "AWS_ENDPOINT_URL_S3": MOTO, "SLUICE_ALLOW_PRIVATE_URLS": "true",
        "SLUICE_SYNC_POLL_SECS": "3600"})
    try:
        sluice = Sluice(url, key, tmp_path / "data")
        fresh_bucket(s3, "webhook-source")
        s3.put_object(Bucket="webhook-source", Key="a.txt", Body=b"a")
        receiver = Receiver(failures=0)
        hook = subscribe(sluice, "sync-events", ["sync.completed", "sync.failed"], receiver.url)
        assert hook["event_types"] == ["sync.completed", "sync.failed"], hook
        ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "webhook-syncs"}).json()["namespace_id"]
        bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={
            "bucket_name": "b", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
        cid = sluice.call("POST", "/v1/organizations/connections", json={
            "name": "hooked", "provider_type": "s3",
            "provider_config": {"credentials": {"type": "access_key", "access_key_id": "AKIASLUICESDK", "secret_access_key": SECRET}},
        }).json()["connection_id"]
        sid = sluice.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
            "connection_id": cid, "source_path": "webhook-source/", "skip_batch_submission": True}).json()["sync_config_id"]
        job = trigger(sluice, ns, bucket, sid)
        assert job["status"] == "completed", job
        deadline = time.time() + 30
        while not receiver.seen and time.time() < deadline:
            time.sleep(0.2)
        assert len(receiver.seen) == 1, receiver.seen
        headers, body = receiver.seen[0]
        assert verify(hook["signing_secret"], headers, body)
        event = json.loads(body)
        assert event["type"] == "sync.completed", event
        assert event["data"]["sync_job_id"] == job["sync_job_id"], event
        unknown = sluice.call("POST", "/v1/organizations/webhooks", json={
            "webhook_name": "nothing-emits-it", "event_types": ["collection.documents.written"],
            "channels": [{"channel": "webhook", "configs": {"url": receiver.url}}]})
        assert unknown.status_code == 422 and "sync.completed" in unknown.text, unknown.text
    finally:
        proc.kill()
        proc.wait()


def test_backblaze_finds_its_s3_endpoint_through_b2_authorize_account(syncing, s3, tmp_path):
    sluice, _ = syncing
    fresh_bucket(s3, "b2-source")
    for i in range(3):
        s3.put_object(Bucket="b2-source", Key=f"x/{i}.txt", Body=b"b2")
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "b2-syncs"}).json()["namespace_id"]
    bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "b", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
    wrong = sluice.call("POST", "/v1/organizations/connections", json={
        "name": "b2-wrong", "provider_type": "backblaze", "provider_config": {"bucket": "b2-source", "credentials": {
            "type": "application_key", "key_id": FakeBackblaze.KEY_ID, "application_key": "wrong"}}})
    assert wrong.status_code == 422 and "access denied" in wrong.text, wrong.text
    # The S3 endpoint b2_authorize_account returns is checked like any other: this one
    # (moto) is on loopback, which the guard of this server refuses.
    refused = sluice.call("POST", "/v1/organizations/connections", json={
        "name": "b2", "provider_type": "backblaze", "provider_config": {"bucket": "b2-source", "credentials": {
            "type": "application_key", "key_id": FakeBackblaze.KEY_ID, "application_key": FakeBackblaze.APP_KEY}}})
    assert refused.status_code == 422 and "private or reserved" in refused.text, refused.text
    # A server that allows private addresses syncs through it.
    data = tmp_path / "data"
    b2 = FakeBackblaze()
    proc, url, key = start(data, {"SLUICE_ALLOW_PRIVATE_URLS": "true", "SLUICE_BACKBLAZE_API_URL": b2.url})
    try:
        open_server = Sluice(url, key, data)
        ns = open_server.call("POST", "/v1/namespaces", json={"namespace_name": "b2-syncs"}).json()["namespace_id"]
        bucket = open_server.call("POST", "/v1/buckets", ns=ns, json={
            "bucket_name": "b", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
        conn = open_server.call("POST", "/v1/organizations/connections", json={
            "name": "b2", "provider_type": "backblaze", "provider_config": {"bucket": "b2-source", "credentials": {
                "type": "application_key", "key_id": FakeBackblaze.KEY_ID, "application_key": FakeBackblaze.APP_KEY}}})
        assert conn.status_code == 200, conn.text
        sync = open_server.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
            "connection_id": conn.json()["connection_id"], "source_path": "b2-source/x/", "skip_batch_submission": True}).json()
        job = trigger(open_server, ns, bucket, sync["sync_config_id"])
        assert (job["status"], job["counts"]["new"]) == ("completed", 3), job
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        b2.server.shutdown()


def test_a_run_killed_mid_way_resumes_after_restart_with_exact_counts(tmp_path, s3):
    fresh_bucket(s3, "crash-source")
    for i in range(300):
        s3.put_object(Bucket="crash-source", Key=f"c/{i:04d}.txt", Body=f"file {i}".encode())
    env = {"AWS_ENDPOINT_URL_S3": MOTO, "SLUICE_SYNC_PAGE_SIZE": "10", "SLUICE_VISIBILITY_TIMEOUT_SECS": "2",
           "SLUICE_SYNC_LEASE_SECS": "5", "SLUICE_SYNC_POLL_SECS": "1"}
    data = tmp_path / "data"
    proc, url, key = start(data, env)
    sluice = Sluice(url, key, data)
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "crash-syncs"}).json()["namespace_id"]
    bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "b", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
    conn = sluice.call("POST", "/v1/organizations/connections", json={
        "name": "crash", "provider_type": "s3",
        "provider_config": {"credentials": {"type": "access_key", "access_key_id": "AKIACRASH", "secret_access_key": SECRET}}}).json()
    sync = sluice.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
        "connection_id": conn["connection_id"], "source_path": "crash-source/c/", "skip_batch_submission": True}).json()
    sid = sync["sync_config_id"]
    job_id = kill_mid_run(proc, sluice, ns, bucket, sid, after=30, total=300)
    proc, url, key = start(data, env)
    try:
        sluice = Sluice(url, key, data)
        job = wait_run(sluice, ns, bucket, sid, job_id)
        c = job["counts"]
        assert job["status"] == "completed", job
        assert (c["scanned"], c["new"], c["unchanged"], c["failed"]) == (300, 300, 0, 0), job
        assert sluice.call("GET", f"/v1/buckets/{bucket}", ns=ns).json()["object_count"] == 300
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def peak_rss_mib(pid):
    """The process's peak resident memory so far (VmHWM), in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def wait_batches(sluice, ns, bucket, batch_ids, timeout=600):
    done = []
    for batch_id in batch_ids:
        deadline = time.time() + timeout
        while time.time() < deadline:
            b = sluice.call("GET", f"/v1/buckets/{bucket}/batches/{batch_id}", ns=ns).json()
            if b["status"] not in ("QUEUED", "PROCESSING", "DRAFT"):
                break
            time.sleep(0.5)
        done.append(b)
    return done


@pytest.mark.skipif(not have_tool("ffmpeg"), reason="ffmpeg is not installed (scripts/test installs it)")
def test_a_1_gib_video_syncs_and_processes_with_peak_memory_far_below_its_size(tmp_path, s3):
    """The blob stage streams a synced video to a temporary file (read at the listed
    version), hashing it on the way; ffprobe and ffmpeg read it there. sluice-local's peak
    RSS grows by a small fraction of the video's size."""
    fresh_bucket(s3, "big-video")
    small, big = tmp_path / "small.mkv", tmp_path / "big.mkv"
    raw = ["-c:v", "rawvideo", "-pix_fmt", "yuv420p"]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                    "-frames:v", "50", *raw, str(small)], check=True)
    # 777 frames of 1280x720 raw video: just over 1 GiB, 31 s, four 10 s segments.
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=25",
                    "-frames:v", "777", *raw, str(big)], check=True)
    size = big.stat().st_size
    assert size >= 1 << 30
    s3.upload_file(str(small), "big-video", "clips/small.mkv")

    data = tmp_path / "data"
    proc, url, key = start(data, {"AWS_ENDPOINT_URL_S3": MOTO, "SLUICE_MAX_FETCH_BYTES": str(2 << 30)})
    try:
        sluice = Sluice(url, key, data)
        ns = sluice.call("POST", "/v1/namespaces", json={
            "namespace_name": "big-video",
            "feature_extractors": [{"feature_extractor_name": "multimodal_extractor", "version": "v1"}],
        }).json()["namespace_id"]
        bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={
            "bucket_name": "clips", "bucket_schema": {"properties": {"clip": {"type": "video"}}}}).json()["bucket_id"]
        conn = sluice.call("POST", "/v1/organizations/connections", json={
            "name": "videos", "provider_type": "s3",
            "provider_config": {"credentials": {"type": "access_key", "access_key_id": "AKIAVIDEO", "secret_access_key": SECRET}}}).json()
        sync = sluice.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
            "connection_id": conn["connection_id"], "source_path": "big-video/clips/"}).json()
        sid = sync["sync_config_id"]

        # A small video first: the models and code paths are loaded before the baseline.
        first = trigger(sluice, ns, bucket, sid)
        assert first["counts"]["new"] == 1, first
        [b] = wait_batches(sluice, ns, bucket, first["batch_ids"])
        assert b["status"] == "COMPLETED", b
        before = peak_rss_mib(proc.pid)

        s3.upload_file(str(big), "big-video", "clips/big.mkv")
        big.unlink()
        second = trigger(sluice, ns, bucket, sid)
        assert (second["counts"]["new"], second["counts"]["unchanged"]) == (1, 1), second
        assert second["bytes_synced"] == size, second
        [b] = wait_batches(sluice, ns, bucket, second["batch_ids"])
        assert b["status"] == "COMPLETED", b
        after = peak_rss_mib(proc.pid)

        objects = sluice.call("GET", f"/v1/buckets/{bucket}/objects?limit=10", ns=ns).json()["results"]
        [obj] = [o for o in objects if o["blobs"][0]["properties"]["synced"]["key"] == "clips/big.mkv"]
        docs = sluice.call("GET", f"/v1/buckets/{bucket}/objects/{obj['object_id']}/documents", ns=ns).json()["results"]
        spans = [(d["segment"]["start_time"], d["segment"]["end_time"]) for d in docs]
        assert spans[:3] == [(0, 10), (10, 20), (20, 30)] and spans[3][0] == 30, spans
        assert abs(spans[3][1] - 777 / 25) < 0.05, spans
        video = docs[0]["video"]
        assert (video["codec"], video["width"], video["height"]) == ("rawvideo", 1280, 720), video
        print(f"peak RSS: {before:.0f} MiB before the 1 GiB video, {after:.0f} MiB after "
              f"(+{after - before:.0f} MiB for {size / 2**20:.0f} MiB)")
        assert after - before < 128, f"peak RSS grew {after - before:.0f} MiB for a {size >> 20} MiB video"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
