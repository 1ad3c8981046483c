"""Syncs and connections under hostile input, against sluice-local: inputs that once
killed the server, a provider (the tenant's own endpoint, here a fault proxy in front of
moto) that answers with huge tokens, unsorted pages, long keys or an internal service's
body, the network guard at every use, secrets that must not follow a moved endpoint,
field limits, and the API key printed only when the server made it.

The reproductions are those of ../shared/research/reliability-probe-3.md."""

import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import Sluice, binary, start
from fault_proxy import FaultProxy
from test_batches import make_space
from test_syncs import MOTO, fresh_bucket, start_run, trigger, wait_run

SECRET = "hardening-secret-never-shown"
CREDS = {"type": "access_key", "access_key_id": "AKIAHARDEN", "secret_access_key": SECRET}


@pytest.fixture(scope="module")
def proxy(s3):
    p = FaultProxy(MOTO)
    yield p
    p.close()


@pytest.fixture(scope="module")
def s3():
    import boto3
    if not MOTO:
        pytest.fail("the hardening tests need moto (AWS_ENDPOINT_URL)")
    return boto3.client("s3", endpoint_url=MOTO, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """A server that may reach private addresses: its provider is the loopback proxy."""
    data = tmp_path_factory.mktemp("hardening-data")
    proc, url, key = start(data, {"SLUICE_ALLOW_PRIVATE_URLS": "true"})
    yield Sluice(url, key, data), proc
    stop(proc)


def space(s, name):
    ns = s.call("POST", "/v1/namespaces", json={"namespace_name": name}).json()["namespace_id"]
    bucket = s.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "b", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
    return ns, bucket


def proxied_connection(s, proxy, name, **extra_creds):
    r = s.call("POST", "/v1/organizations/connections", json={
        "name": name, "provider_type": "s3",
        "provider_config": {"endpoint_url": proxy.url, "credentials": {**CREDS, **extra_creds}},
        "test_before_save": False})
    assert r.status_code == 200, r.text
    return r.json()["connection_id"]


def make_sync(s, ns, bucket, conn, path, **extra):
    r = s.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
        "connection_id": conn, "source_path": path, "skip_batch_submission": True, **extra})
    assert r.status_code == 200, r.text
    return r.json()["sync_config_id"]


def objects(s, ns, bucket):
    return s.call("GET", f"/v1/buckets/{bucket}", ns=ns).json()["object_count"]


def test_inputs_that_killed_the_server_are_refused_or_fail_only_their_run(open_server, proxy, s3):
    s, proc = open_server
    fresh_bucket(s3, "crash-inputs")
    for i in range(3):
        s3.put_object(Bucket="crash-inputs", Key=f"in/{i}.txt", Body=b"text")
    ns, bucket = space(s, "crash-inputs")
    conn = proxied_connection(s, proxy, "crash-inputs")
    base = {"connection_id": conn, "skip_batch_submission": True}
    # A 64 KB prefix (the SDK panicked building the URI) and 200 000 stars (a recursive
    # glob overflowed the stack) are refused at the door, saying which field.
    for body, field in [
        ({"source_path": "crash-inputs/" + "a" * 65536}, "source_path"),
        ({"source_path": "crash-inputs/in/", "file_filters": {"include_patterns": ["*" * 200_000]}}, "file_filters.include_patterns"),
        ({"source_path": "crash-inputs/in/", "file_filters": {"exclude_patterns": ["*.tmp"] * 100_001}}, "file_filters.exclude_patterns"),
        ({"source_path": "crash-inputs/in/", "provider_filters": {"prefix": "p" * 512}, "description": "d"}, None),
    ]:
        r = s.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={**base, **body})
        if field is None:
            assert r.status_code == 200, r.text
            continue
        assert r.status_code == 422, (field, r.status_code, r.text[:300])
        assert r.json()["error"]["details"]["field"] == field, r.text[:300]
    # A crafted glob is matched in linear time: the run ends at once.
    crafted = "*a" * 13 + "b"
    sid = make_sync(s, ns, bucket, conn, "crash-inputs/in/", file_filters={"include_patterns": [crafted]})
    started = time.time()
    job = trigger(s, ns, bucket, sid)
    assert job["status"] == "completed" and job["counts"]["filtered"] == 3, job
    assert time.time() - started < 20
    # The provider answers with a 70 KB continuation token: the run fails, saying why.
    proxy.faults["crash-inputs"] = ("token", 70_000)
    try:
        sid = make_sync(s, ns, bucket, conn, "crash-inputs/in/")
        job = trigger(s, ns, bucket, sid)
    finally:
        proxy.faults.pop("crash-inputs")
    assert job["status"] == "failed" and "continuation token" in job["error"], job
    assert objects(s, ns, bucket) == 0, "nothing was registered from the refused page"
    assert proc.poll() is None, "the server died"
    assert s.call("GET", "/v1/namespaces/" + ns).status_code == 200


def test_a_page_listed_out_of_order_fails_its_run_and_deletes_nothing(open_server, proxy, s3):
    s, _ = open_server
    fresh_bucket(s3, "unsorted")
    for i in range(6):
        s3.put_object(Bucket="unsorted", Key=f"u/{i}.txt", Body=f"file {i}".encode())
    ns, bucket = space(s, "unsorted")
    sid = make_sync(s, ns, bucket, proxied_connection(s, proxy, "unsorted"), "unsorted/u/")
    assert trigger(s, ns, bucket, sid)["counts"]["new"] == 6
    proxy.faults["unsorted"] = ("reversed",)
    try:
        job = trigger(s, ns, bucket, sid)
    finally:
        proxy.faults.pop("unsorted")
    assert job["status"] == "failed" and "out of order" in job["error"], job
    assert job["counts"]["deleted"] == 0 and objects(s, ns, bucket) == 6
    again = trigger(s, ns, bucket, sid)
    assert (again["counts"]["unchanged"], again["counts"]["new"]) == (6, 0), again
    assert objects(s, ns, bucket) == 6, "a duplicate object was made"
    synced = s.call("GET", f"/v1/buckets/{bucket}/syncs/{sid}", ns=ns).json()
    assert synced["manifest_count"] == 6, synced


def test_a_slow_page_does_not_hold_up_another_tenants_sync(open_server, proxy, s3):
    s, _ = open_server
    for name in ("slow-src", "fast-src"):
        fresh_bucket(s3, name)
        s3.put_object(Bucket=name, Key="f/a.txt", Body=b"a")
    slow_ns, slow_bucket = space(s, "slow")
    fast_ns, fast_bucket = space(s, "fast")
    slow = make_sync(s, slow_ns, slow_bucket, proxied_connection(s, proxy, "slow"), "slow-src/f/")
    fast = make_sync(s, fast_ns, fast_bucket, proxied_connection(s, proxy, "fast"), "fast-src/f/")
    proxy.faults["slow-src"] = ("delay", 12)
    try:
        slow_run = start_run(s, slow_ns, slow_bucket, slow)
        time.sleep(1)  # the slow page is being worked
        started = time.time()
        job = trigger(s, fast_ns, fast_bucket, fast)
        took = time.time() - started
    finally:
        proxy.faults.pop("slow-src")
    assert job["status"] == "completed", job
    assert took < 8, f"the other sync waited {took:.1f}s behind a slow page"
    wait_run(s, slow_ns, slow_bucket, slow, slow_run)


def test_provider_errors_are_short_sentences_without_the_providers_body(open_server, proxy):
    s, _ = open_server
    body = '{"service": "internal", "db_password": "INTERNAL-DATA-5f2e", "junk": "' + "x" * 3000 + '"}'
    proxy.faults["internal-svc"] = ("status", 404, body)
    denied = ("<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied\r\n\tfor"
              " this key</Message><RequestId>r1</RequestId></Error>")
    proxy.faults["denied-src"] = ("status", 403, denied)
    try:
        for bucket in ("internal-svc", "denied-src"):
            r = s.call("POST", "/v1/organizations/connections", json={
                "name": f"errors {bucket}", "provider_type": "s3",
                "provider_config": {"endpoint_url": proxy.url, "bucket": bucket, "credentials": CREDS}})
            assert r.status_code == 422, r.text
            error = r.json()["error"]
            assert "INTERNAL-DATA" not in r.text and "xxxx" not in r.text, r.text
            assert "RequestId" not in r.text and "DispatchFailure" not in r.text, r.text
            assert len(error["message"]) < 400, error["message"]
            if bucket == "denied-src":
                assert "HTTP 403 AccessDenied" in error["message"], error
                assert error["details"]["provider_message"] == "Access Denied for this key", error
            else:
                assert "HTTP 404" in error["message"], error
    finally:
        proxy.faults.pop("internal-svc")
        proxy.faults.pop("denied-src")


def test_dead_letters_keep_a_long_key_once_and_bounded(open_server, proxy):
    s, _ = open_server
    ns, bucket = space(s, "long-keys")
    proxy.faults["long-keys"] = ("long_keys", 3, 300_000)
    try:
        sid = make_sync(s, ns, bucket, proxied_connection(s, proxy, "long keys"), "long-keys/")
        job = trigger(s, ns, bucket, sid)
    finally:
        proxy.faults.pop("long-keys")
    assert job["status"] == "completed" and job["counts"]["failed"] == 3, job
    dlq = s.call("POST", f"/v1/buckets/{bucket}/syncs/{sid}/dlq", ns=ns, json={})
    assert dlq.status_code == 200 and dlq.json()["total"] == 3, dlq.text[:300]
    assert len(dlq.content) < 20_000, f"{len(dlq.content)} bytes for 3 dead letters"
    for d in dlq.json()["results"]:
        assert d["error_type"] == "key_too_long" and d["retry_count"] == 1, d
        assert len(d["source_path"].encode()) <= 1024 and d["source_path"].endswith("…")


def test_moving_a_connection_needs_its_credentials_again_and_sends_none_before(open_server, proxy):
    s, _ = open_server
    sink = FaultProxy(MOTO)  # stands in for the new endpoint; counts what reaches it
    try:
        conn = proxied_connection(s, proxy, "moving", session_token="SESSION-" + SECRET)
        moved = s.call("PATCH", f"/v1/organizations/connections/{conn}", json={
            "provider_config": {"endpoint_url": sink.url}})
        assert moved.status_code == 422, moved.text
        assert moved.json()["error"]["details"]["field"] == "provider_config.credentials", moved.text
        assert "endpoint_url" in moved.json()["error"]["message"]
        tested = s.call("POST", f"/v1/organizations/connections/{conn}/test").json()
        assert sink.reached() == 0, "the stored credentials went to the new endpoint"
        assert tested["success"] is True, tested
        again = s.call("PATCH", f"/v1/organizations/connections/{conn}", json={
            "provider_config": {"endpoint_url": sink.url, "credentials": CREDS}})
        assert again.status_code == 200, again.text
        sent = [h for _, _, h in sink.requests]
        assert sent and not any("SESSION-" in str(h) for h in sent), "the old session token followed"
    finally:
        sink.close()


def test_connection_and_sync_fields_have_limits(open_server, proxy):
    s, _ = open_server
    ns, bucket = space(s, "limits")
    conn = proxied_connection(s, proxy, "limits")
    for body, field in [
        ({"description": "d" * 2_000_000}, "description"),
        ({"metadata": {f"k{i}": i for i in range(10_000)}}, "metadata"),
        ({"metadata": {"k": "v" * 20_000}}, "metadata"),
    ]:
        r = s.call("POST", "/v1/organizations/connections", json={
            "name": f"limit {field}", "provider_type": "s3", "test_before_save": False,
            "provider_config": {"credentials": CREDS}, **body})
        assert r.status_code == 422 and r.json()["error"]["details"]["field"] == field, (field, r.text[:300])
        r = s.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
            "connection_id": conn, "source_path": "x/", **body})
        assert r.status_code == 422 and r.json()["error"]["details"]["field"] == field, (field, r.text[:300])
    long_endpoint = s.call("POST", "/v1/organizations/connections", json={
        "name": "long endpoint", "provider_type": "s3", "test_before_save": False,
        "provider_config": {"endpoint_url": "https://example.com/" + "p" * 100_000, "credentials": CREDS}})
    assert long_endpoint.status_code == 422, long_endpoint.text[:300]
    assert long_endpoint.json()["error"]["details"]["field"] == "provider_config.endpoint_url"
    long_secret = s.call("POST", "/v1/organizations/connections", json={
        "name": "long secret", "provider_type": "s3", "test_before_save": False,
        "provider_config": {"credentials": {**CREDS, "session_token": "t" * 100_000}}})
    assert long_secret.status_code == 422, long_secret.text[:300]
    assert "t" * 1000 not in long_secret.text


def listener():
    """A loopback listener that counts the connections reaching it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    count = [0]

    def accept():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            count[0] += 1
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    return sock, count


def test_the_network_guard_holds_at_save_and_at_every_use(tmp_path, proxy, s3):
    """Saved while private addresses were allowed, then the server restarts with the guard
    on: the connection test, a sync run and a synced blob's read reach nothing."""
    fresh_bucket(s3, "guarded")
    s3.put_object(Bucket="guarded", Key="g/a.txt", Body=b"guarded text")
    data = tmp_path / "data"
    proc, url, key = start(data, {"SLUICE_ALLOW_PRIVATE_URLS": "true"})
    try:
        s = Sluice(url, key, data)
        ns, bucket = make_space(s, "guarded")  # with an extractor: batches read blobs
        conn = proxied_connection(s, proxy, "guarded")
        sid = make_sync(s, ns, bucket, conn, "guarded/g/")
        assert trigger(s, ns, bucket, sid)["counts"]["new"] == 1
        [obj] = s.call("GET", f"/v1/buckets/{bucket}/objects", ns=ns).json()["results"]
    finally:
        stop(proc)
    proc, url, key = start(data, {"SLUICE_SYNC_POLL_SECS": "1"})
    try:
        s = Sluice(url, key, data)
        before = proxy.reached("guarded")
        tested = s.call("POST", f"/v1/organizations/connections/{conn}/test").json()
        assert tested["success"] is False and "private or reserved" in tested["message"], tested
        s3.put_object(Bucket="guarded", Key="g/b.txt", Body=b"more")
        job = trigger(s, ns, bucket, sid)
        assert job["status"] == "failed" and "private or reserved" in job["error"], job
        batch = s.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={
            "object_ids": [obj["object_id"]], "auto_submit": True}).json()
        deadline = time.time() + 60
        while time.time() < deadline:
            b = s.call("GET", f"/v1/buckets/{bucket}/batches/{batch['batch_id']}", ns=ns).json()
            if b["status"] not in ("QUEUED", "PROCESSING", "DRAFT"):
                break
            time.sleep(0.3)
        assert b["status"] == "FAILED", b
        assert "private or reserved" in str(b["failed_objects"]), b
        assert proxy.reached("guarded") == before, "a guarded request reached the loopback provider"
        # At save: special-purpose ranges, and names that do not resolve, are refused.
        sock, reached = listener()
        port = sock.getsockname()[1]
        for endpoint in ["http://198.18.0.1", "http://192.88.99.1", "http://[2001::1]", "http://[64:ff9b::808:808]",
                         "http://no-such-host.invalid", "http://foo.localhost", f"http://127.0.0.1:{port}",
                         f"http://2130706433:{port}"]:
            r = s.call("POST", "/v1/organizations/connections", json={
                "name": f"guard {endpoint}", "provider_type": "s3", "test_before_save": False,
                "provider_config": {"endpoint_url": endpoint, "credentials": CREDS}})
            assert r.status_code == 422, (endpoint, r.text)
            assert r.json()["error"]["details"]["field"] == "provider_config.endpoint_url", (endpoint, r.text)
        sock.close()
        assert reached[0] == 0
    finally:
        stop(proc)


def test_the_api_key_is_printed_only_when_the_server_made_it(tmp_path):
    given = "sk_" + "g" * 40
    proc = subprocess.Popen([binary("sluice-local"), "--port", "0", "--data-dir", str(tmp_path / "d")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "SLUICE_API_KEY": given})
    lines = []
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("SLUICE_URL="):
                break
    finally:
        stop(proc)
        lines += proc.stdout.readlines()
    out = "".join(lines)
    assert "SLUICE_URL=" in out, out
    assert given not in out, "a key given in SLUICE_API_KEY was printed"
