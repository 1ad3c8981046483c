"""A bounded, hand-made fuzz tier over the connection and sync routes: huge strings, deep
JSON, many keys, odd unicode and wrong types in every field, with a fixed seed so a run
repeats. Every answer must be in the error envelope or a success, never a 5xx, and the
server must still answer (and still run a sync) afterwards."""

import json
import random

from conftest import Sluice, start

SEED = 20261207
ODD = ["", " ", "\u0000", "\u202e", "\ud7ff", "😀" * 50, "a\r\nb", "../../etc/passwd", "%00", "\\", "'\"",
       "ｌｏｃａｌｈｏｓｔ", "ǅ" * 1000, "x" * 70_000, "http://[::1]/", "http://169.254.169.254/latest/"]


def value(rng: random.Random, depth=0):
    kind = rng.randrange(9)
    if kind == 0:
        return rng.choice(ODD)
    if kind == 1:
        return rng.choice([0, -1, 2**63, -2**63, 1e308, 3.5, True, False, None])
    if kind == 2 and depth < 3:
        return [value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 3 and depth < 3:
        return {rng.choice(ODD)[:20] or "k": value(rng, depth + 1) for _ in range(rng.randrange(4))}
    if kind == 4:
        return {f"k{i}": i for i in range(rng.choice([60, 5000]))}
    if kind == 5:
        nested = 1
        for _ in range(rng.choice([64, 200, 500])):  # deeper: the raw bodies below
            nested = [nested]
        return nested
    if kind == 6:
        return ["*" * rng.choice([1, 1000, 100_000])] * rng.choice([1, 150])
    return "".join(rng.choice("ab/*?.[]{}") for _ in range(rng.randrange(1, 60)))


CONNECTION_FIELDS = ["name", "provider_type", "provider_config", "description", "metadata", "test_before_save"]
CONFIG_FIELDS = ["endpoint_url", "region", "bucket", "account_id", "project_ref", "preset", "credentials"]
SYNC_FIELDS = ["connection_id", "source_path", "sync_mode", "file_filters", "schema_mapping", "sync_from",
               "polling_interval_seconds", "batch_size", "description", "metadata", "provider_filters",
               "max_objects_per_run", "provider", "connection", "sync_config", "reconcile"]
FILTER_FIELDS = ["include_patterns", "exclude_patterns", "extensions", "mime_types", "min_size_bytes"]


def mutated(rng, base: dict, fields) -> dict:
    body = json.loads(json.dumps(base))
    for field in rng.sample(fields, rng.randrange(1, min(3, len(fields) + 1))):
        body[field] = value(rng)
    return body


def send(s: Sluice, method, path, ns=None, body=None):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    r = s.call(method, path, ns=ns, data=data, headers={"Content-Type": "application/json"})
    assert r.status_code < 500, f"{method} {path}: {r.status_code} {r.text[:500]}"
    if r.status_code >= 400:
        err = r.json()["error"]
        assert isinstance(err["message"], str) and len(r.content) < 20_000, r.text[:500]
    return r


def test_connection_and_sync_routes_survive_hostile_bodies(tmp_path):
    rng = random.Random(SEED)
    data = tmp_path / "data"
    proc, url, key = start(data, {"SLUICE_ALLOW_PRIVATE_URLS": "false"})
    try:
        s = Sluice(url, key, data)
        ns = s.call("POST", "/v1/namespaces", json={"namespace_name": "fuzz"}).json()["namespace_id"]
        bucket = s.call("POST", "/v1/buckets", ns=ns, json={
            "bucket_name": "b", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
        creds = {"type": "access_key", "access_key_id": "AKIAFUZZ", "secret_access_key": "fuzz-secret"}
        conn = send(s, "POST", "/v1/organizations/connections", body={
            "name": "fuzz", "provider_type": "s3", "test_before_save": False,
            "provider_config": {"region": "us-east-1", "credentials": creds}}).json()["connection_id"]
        sync = send(s, "POST", f"/v1/buckets/{bucket}/syncs", ns=ns, body={
            "connection_id": conn, "source_path": "src/in/", "skip_batch_submission": True}).json()["sync_config_id"]
        conn_base = {"name": "n", "provider_type": "s3", "test_before_save": False,
                     "provider_config": {"credentials": creds}}
        sync_base = {"connection_id": conn, "source_path": "src/in/"}
        statuses = {}
        for i in range(400):
            bodies = [
                ("POST", "/v1/organizations/connections", None, mutated(rng, conn_base, CONNECTION_FIELDS)),
                ("POST", "/v1/organizations/connections", None,
                 {**conn_base, "name": f"c{i}", "provider_config": mutated(rng, conn_base["provider_config"], CONFIG_FIELDS)}),
                ("PATCH", f"/v1/organizations/connections/{conn}", None,
                 mutated(rng, {"test_before_save": False}, ["description", "metadata", "provider_config", "status", "name"])),
                ("POST", f"/v1/buckets/{bucket}/syncs", ns, mutated(rng, sync_base, SYNC_FIELDS)),
                ("POST", f"/v1/buckets/{bucket}/syncs", ns,
                 {**sync_base, "file_filters": mutated(rng, {}, FILTER_FIELDS)}),
                ("PATCH", f"/v1/buckets/{bucket}/syncs/{sync}", ns, mutated(rng, {}, SYNC_FIELDS[2:14])),
                ("POST", f"/v1/buckets/{bucket}/syncs/{sync}/dlq", ns, mutated(rng, {}, ["error_types", "only_max_retries"])),
                ("POST", f"/v1/buckets/{bucket}/syncs/{sync}/dlq/requeue", ns, mutated(rng, {}, ["error_types"])),
                ("POST", f"/v1/organizations/connections/list", None, mutated(rng, {}, ["provider_type", "status"])),
                ("GET", f"/v1/buckets/{bucket}/syncs/" + rng.choice(ODD)[:2000].replace("/", "_"), ns, None),
            ]
            method, path, space, body = bodies[i % len(bodies)]
            r = send(s, method, path, ns=space, body=body if body is not None else b"")
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        # Raw bodies: not JSON, deeply nested, truncated.
        for raw in [b"{", b"[" * 100_000, b'{"name": "\xff\xfe"}', b"null", b'"x"', b"{}" * 1000]:
            send(s, "POST", "/v1/organizations/connections", body=raw)
            send(s, "POST", f"/v1/buckets/{bucket}/syncs", ns=ns, body=raw)
        print(f"statuses: {sorted(statuses.items())}")
        assert proc.poll() is None, "the server died"
        assert s.call("GET", f"/v1/buckets/{bucket}/syncs/{sync}", ns=ns).status_code == 200
        assert s.call("GET", f"/v1/organizations/connections/{conn}").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
