"""A bounded schemathesis run against /openapi.json.

Every operation of the document is sent schema-driven requests, valid and invalid, with
a fixed seed and a fixed number of examples each, so a run repeats and stays within a
few minutes. Path parameters name real resources (a namespace, bucket, object, batch,
collection, document, task, webhook, upload and, with moto, a connection and sync), so
requests reach the code behind the lookups. The run fails on any 5xx, any response
outside its declared schema (4xx bodies included: the error envelope), any undeclared
status or content type, and any invalid request that is not refused with a 4xx.
"""

import json
import os
import pathlib
import subprocess
import sys

from conftest import Sluice, start
from test_batches import add_objects, make_space, wait_batch

EXAMPLES = int(os.environ.get("SLUICE_FUZZ_EXAMPLES", "25"))
SEED = 20261202
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_schema_conformance", "response_headers_conformance", "negative_data_rejection",
])
MOTO = os.environ.get("AWS_ENDPOINT_URL")


def real_ids(s: Sluice) -> dict:
    ns, bucket = make_space(s, "fuzzed")
    objects = add_objects(s, ns, bucket, [{"property": "body", "type": "text", "content": t} for t in ("a", "b")])
    done = s.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": objects[:1], "auto_submit": True}).json()
    done = wait_batch(s, ns, bucket, done["batch_id"])
    collection = done["collection_ids"][0]
    document = s.call("POST", f"/v1/collections/{collection}/documents/list", ns=ns, json={}).json()["results"][0]
    draft = s.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": objects[1:]}).json()
    hook = s.call("POST", "/v1/organizations/webhooks", json={
        "webhook_name": "fuzzed", "event_types": ["object.created"],
        "channels": [{"channel": "webhook", "configs": {"url": "https://example.com/hook"}}]}).json()
    upload = s.call("POST", f"/v1/buckets/{bucket}/uploads", ns=ns, json={
        "filename": "f.txt", "content_type": "text/plain"}).json()
    ids = {
        "namespace_identifier": ns, "bucket_identifier": bucket, "object_identifier": objects[0],
        "batch_id": draft["batch_id"], "collection_identifier": collection,
        "document_id": document["document_id"], "task_id": done["task_id"],
        "identifier": hook["webhook_id"], "upload_id": upload["upload_id"],
        "feature_extractor_id": "passthrough_extractor_v1",
    }
    if MOTO:
        conn = s.call("POST", "/v1/organizations/connections", json={
            "name": "fuzzed", "provider_type": "s3", "provider_config": {"region": "us-east-1", "credentials": {
                "type": "access_key", "access_key_id": "test", "secret_access_key": "test"}}})
        assert conn.status_code == 200, conn.text
        ids["connection_identifier"] = conn.json()["connection_id"]
        sync = s.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
            "connection_id": ids["connection_identifier"], "source_path": "fuzz-source/"})
        if sync.status_code == 200:
            ids["sync_config_id"] = sync.json()["sync_config_id"]
    return ids


def toml_table(values: dict) -> str:
    # JSON strings are TOML basic strings for the ASCII ids used here.
    return "\n".join(f"{json.dumps('path.' + k)} = {json.dumps(v)}" for k, v in sorted(values.items()))


def test_schemathesis_finds_nothing(tmp_path):
    env = {"AWS_ENDPOINT_URL_S3": MOTO} if MOTO else {}
    proc, url, key = start(tmp_path / "data", env)
    try:
        s = Sluice(url, key, tmp_path / "data")
        ids = real_ids(s)
        # Deletes get ids of nothing, so that the run does not remove what the other
        # operations are pointed at (deleting is tested by the flows that own it).
        gone = {k: v[:4] + "0" * (len(v) - 4) for k, v in ids.items()}
        config = tmp_path / "schemathesis.toml"
        config.write_text(
            f"seed = {SEED}\n"
            "[generation]\n"
            f"max-examples = {EXAMPLES}\n"
            "deterministic = true\n"
            "database = \"none\"\n"
            "[parameters]\n" + toml_table(ids) + "\n"
            "[[operations]]\n"
            "include-method = \"DELETE\"\n"
            "[operations.parameters]\n" + toml_table(gone) + "\n")
        cli = pathlib.Path(sys.executable).parent / "schemathesis"
        ran = subprocess.run(
            [str(cli), "--config-file", str(config), "--no-color", "run", f"{url}/openapi.json",
             "--checks", CHECKS, "--phases", "examples,coverage,fuzzing", "--workers", "1",
             "-H", f"Authorization: Bearer {key}", "-H", f"X-Namespace: {ids['namespace_identifier']}",
             "--request-timeout", "30", "--suppress-health-check", "all", "--max-failures", "40"],
            capture_output=True, text=True, timeout=900, cwd=tmp_path)
        (tmp_path / "schemathesis.out").write_text(ran.stdout + ran.stderr)
        report = ran.stdout[-20000:]
        assert ran.returncode == 0, f"{tmp_path / 'schemathesis.out'}:\n" + report + ran.stderr[-3000:]
        assert "Tested: " in report and " passed" in report, report
    finally:
        proc.terminate()
        proc.wait(timeout=10)
