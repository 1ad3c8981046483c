"""The routes no other flow reaches, so that every route's real response is checked
against /openapi.json (contract.py validates each response these calls receive), and
the document itself is a valid OpenAPI 3.1 document."""

import json

import pytest
from openapi_spec_validator import validate

import contract
import secret_scan
from test_batches import add_objects, make_space, wait_batch


def test_document_is_valid_openapi(sluice):
    doc = sluice.call("GET", "/openapi.json").json()
    validate(doc)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ok = next(code for code in op["responses"] if code.startswith("2"))
            body = op["responses"][ok]["content"]["application/json"]["schema"]
            if path != "/openapi.json":
                assert body not in ({}, {"type": "object"}, True), f"{method} {path} declares no body"
            assert op["responses"]["4XX"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_a_drifted_response_is_caught(sluice):
    """The checker itself: a body missing a declared field fails."""
    with pytest.raises(AssertionError, match="does not match"):
        contract.observe("GET", sluice.url + "/v1/tasks/task_x", 200, "application/json", b'{"task_id": "task_x"}')
    with pytest.raises(AssertionError, match="does not match"):
        contract.observe("GET", sluice.url + "/v1/tasks/task_x", 404, "application/json", b'{"detail": "gone"}')
    # A list row missing a field passes only when the request selected fields.
    sluice.call("POST", "/v1/namespaces", json={"namespace_name": "contract-drift"})
    page = sluice.call("POST", "/v1/namespaces/list", json={}).json()
    assert page["results"], page
    page["results"][0].pop("created_at")
    drifted = json.dumps(page).encode()
    with pytest.raises(AssertionError, match="does not match"):
        contract.observe("POST", sluice.url + "/v1/namespaces/list", 200, "application/json", drifted, b"{}")
    contract.observe("POST", sluice.url + "/v1/namespaces/list", 200, "application/json", drifted,
                     b'{"select": ["namespace_name"]}')


def test_a_value_the_sdks_enum_lacks_is_caught(sluice):
    """The SDK-model half of the checker: a task type the SDK's enum lacks (the one Sluice
    once emitted for batch confirms) fails; a seed-only field type passes."""
    ns, bucket = make_space(sluice, "contract-enums")
    ids = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": "x"}])
    batch = sluice.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": ids, "auto_submit": True}).json()
    wait_batch(sluice, ns, bucket, batch["batch_id"])
    task_id = sluice.call("GET", f"/v1/buckets/{bucket}/batches/{batch['batch_id']}", ns=ns).json()["task_id"]
    task = sluice.call("GET", f"/v1/tasks/{task_id}").json()
    bad = dict(task, task_type="api_buckets_uploads_confirm_batch")
    with pytest.raises(AssertionError, match="the SDK's TaskResponse does not accept"):
        contract.observe("GET", f"{sluice.url}/v1/tasks/{task_id}", 200, "application/json", json.dumps(bad).encode())
    made = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "binaries", "bucket_schema": {"properties": {"file": {"type": "binary"}}}})
    assert made.status_code == 200, made.text


def test_a_leaked_secret_is_caught(sluice):
    """The secrets scan itself: a sent credential, a second sight of a signing secret, an
    API key or a key file's bytes in a log line all fail; the dev key's start-up line and
    the response that creates a webhook pass."""
    secret = "cred-never-shown-1234"
    made = sluice.call("POST", "/v1/organizations/connections", json={
        "name": "scan-self-test", "provider_type": "s3",
        "provider_config": {"credentials": {"type": "access_key", "access_key_id": "AKIASCANSELFTEST", "secret_access_key": secret}}})
    # Without a reachable S3 the connection test fails (422); either way the secret stays hidden.
    assert made.status_code in (200, 422) and secret not in made.text, made.text
    with pytest.raises(AssertionError, match="shows a secret"):
        contract.observe("GET", sluice.url + "/v1/organizations/connections/x", 200, "application/json",
                         json.dumps({"credentials": {"secret_access_key": secret}}).encode())
    hook = {"signing_secret": "whsec_" + "A" * 40}
    secret_scan.observe("POST", "/v1/organizations/webhooks", 200, json.dumps(hook).encode())
    with pytest.raises(AssertionError, match="shows a secret"):
        secret_scan.observe("POST", "/v1/organizations/webhooks", 200, json.dumps(hook).encode())
    key = "sk_" + "k" * 30
    assert secret_scan.check_log([f"SLUICE_API_KEY={key}\n"]) == []
    assert secret_scan.check_log([f"INFO auth failed for {key}\n"])
    assert secret_scan.check_log([f"connecting with {secret}\n"])
    signing = (sluice.data_dir / "blobs" / "signing.key").read_bytes()
    assert secret_scan.check_log([f"key {signing.hex()}\n"], sluice.data_dir)


def test_catalogue(sluice):
    catalogue = sluice.call("GET", "/v1/collections/features/extractors").json()
    assert {e["feature_extractor_id"] for e in catalogue} >= {"text_extractor_v1", "passthrough_extractor_v1"}
    one = sluice.call("GET", "/v1/collections/features/extractors/text_extractor_v1")
    assert one.status_code == 200 and one.json()["feature_extractor_name"] == "text_extractor"


def test_replacing_puts_and_plain_lists(sluice):
    ns, bucket = make_space(sluice, "contract-puts")
    put = sluice.call("PUT", f"/v1/namespaces/{ns}", json={"namespace_name": "contract-puts-2", "description": "replaced"})
    assert put.status_code == 200, put.text
    assert put.json()["namespace_name"] == "contract-puts-2"
    # The SDK's PUT declares only the name: a rename keeps the namespace's extractors.
    assert [e["feature_extractor_id"] for e in put.json()["feature_extractors"]] == ["passthrough_extractor_v1"]
    put = sluice.call("PUT", f"/v1/buckets/{bucket}", ns=ns, json={
        "bucket_name": "items-2", "bucket_schema": {"properties": {"body": {"type": "text"}, "n": {"type": "integer"}}},
    })
    assert put.status_code == 200, put.text
    assert put.json()["bucket_name"] == "items-2"
    buckets = sluice.call("GET", "/v1/buckets", ns=ns).json()
    assert [b["bucket_id"] for b in buckets["results"]] == [bucket]
    # The namespace's extractor has its collection, made with the namespace.
    collections = sluice.call("GET", "/v1/collections", ns=ns)
    assert collections.status_code == 200, collections.text
    assert [c["feature_extractor"]["feature_extractor_name"] for c in collections.json()["results"]] == ["passthrough_extractor"]


def test_draft_batches_grow_cancel_and_delete(sluice):
    ns, bucket = make_space(sluice, "contract-drafts")
    a, b, c = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": t} for t in "abc"])
    base = f"/v1/buckets/{bucket}/batches"
    draft = sluice.call("POST", base, ns=ns, json={"object_ids": [a]}).json()
    grown = sluice.call("POST", f"{base}/{draft['batch_id']}/objects", ns=ns, json={"object_ids": [b, c]})
    assert grown.status_code == 200, grown.text
    assert set(grown.json()["object_ids"]) == {a, b, c}
    canceled = sluice.call("POST", f"{base}/{draft['batch_id']}/cancel", ns=ns)
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["cancellation"]["batch_status"] == "CANCELED"

    other = sluice.call("POST", base, ns=ns, json={"object_ids": [a]}).json()
    by_id = sluice.call("POST", f"/v1/batches/{other['batch_id']}/cancel", ns=ns)
    assert by_id.status_code == 200, by_id.text

    third = sluice.call("POST", base, ns=ns, json={"object_ids": [b]}).json()
    deleted = sluice.call("DELETE", f"{base}/{third['batch_id']}", ns=ns)
    assert deleted.status_code == 200 and deleted.json()["success"] is True
    listed = sluice.call("POST", "/v1/batches/list", ns=ns, json={}).json()
    assert {x["batch_id"] for x in listed["results"]} == {draft["batch_id"], other["batch_id"]}


def test_failed_batch_retries_and_its_task_is_deleted(sluice):
    ns, bucket = make_space(sluice, "contract-retry")
    ids = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "url": "http://127.0.0.1:9/x"}])
    batch = sluice.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": ids, "auto_submit": True}).json()
    assert wait_batch(sluice, ns, bucket, batch["batch_id"])["status"] == "FAILED"
    retried = sluice.call("POST", f"/v1/buckets/{bucket}/batches/{batch['batch_id']}/retry", ns=ns, json={})
    assert retried.status_code == 200, retried.text
    assert retried.json()["retried_object_count"] == 1
    task_id = retried.json()["task_id"]
    assert wait_batch(sluice, ns, bucket, batch["batch_id"])["status"] == "FAILED"
    task = sluice.wait_task(task_id)
    assert task["status"] == "FAILED"
    gone = sluice.call("DELETE", f"/v1/tasks/{task_id}")
    assert gone.status_code == 200 and gone.json()["success"] is True, gone.text
    assert sluice.call("GET", f"/v1/tasks/{task_id}").status_code == 404


def test_webhook_replaced_whole(sluice):
    created = sluice.call("POST", "/v1/organizations/webhooks", json={
        "webhook_name": "contract", "event_types": ["batch.completed"],
        "channels": [{"channel": "webhook", "configs": {"url": "https://example.com/hook"}}],
    }).json()
    path = f"/v1/organizations/webhooks/{created['webhook_id']}"
    replaced = sluice.call("PUT", path, json={
        "webhook_name": "contract-2", "event_types": ["batch.failed"],
        "channels": [{"channel": "webhook", "configs": {"url": "https://example.com/other"}}],
        "is_active": False,
    })
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["webhook_name"] == "contract-2" and replaced.json()["is_active"] is False
    assert "signing_secret" not in replaced.json()
    sluice.call("DELETE", path)
