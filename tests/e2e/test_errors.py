"""Bad input gets a clear 4xx in the error envelope, and nothing is half-written."""

import json

import pytest


def envelope(resp, status):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["success"] is False
    assert body["status"] == status
    assert body["error"]["type"] and body["error"]["message"]
    return body["error"]


@pytest.fixture(scope="module")
def space(sluice):
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "errors-space"}).json()
    bucket = sluice.call("POST", "/v1/buckets", ns=ns["namespace_id"], json={
        "bucket_name": "errors-bucket",
        "bucket_schema": {"properties": {
            "body": {"type": "text", "required": True},
            "photo": {"type": "image"},
            "sku": {"type": "string", "required": True},
            "price": {"type": "number"},
            "tier": {"type": "string", "enum": ["gold", "silver"]},
        }},
        "unique_key": {"fields": ["sku"]},
    }).json()
    return ns["namespace_id"], bucket["bucket_id"]


def obj(sku, **extra):
    body = {"blobs": [{"property": "body", "type": "text", "content": f"text {sku}"}], "metadata": {"sku": sku}}
    body.update(extra)
    return body


def test_auth_is_required(sluice):
    envelope(sluice.call("GET", "/v1/namespaces", headers={"Authorization": ""}), 401)
    envelope(sluice.call("GET", "/v1/namespaces", key="sk_not_a_real_key_at_all_000"), 401)
    envelope(sluice.call("GET", "/v1/namespaces", headers={"Authorization": "Basic abc"}), 401)


def test_routes_and_methods(sluice):
    envelope(sluice.call("GET", "/v1/nothing-here"), 404)
    refused = sluice.call("DELETE", "/v1/namespaces/list")
    envelope(refused, 405)
    assert refused.headers["Allow"] == "POST", refused.headers
    assert sluice.call("GET", "/openapi.json", headers={"Authorization": ""}).json()["openapi"].startswith("3.1")


def test_malformed_and_mistyped_bodies(sluice):
    err = envelope(sluice.call("POST", "/v1/namespaces", data=b'{"namespace_name": ', headers={"Content-Type": "application/json"}), 400)
    assert "JSON" in err["message"]
    err = envelope(sluice.call("POST", "/v1/namespaces", json={"namespace_name": 5}), 422)
    assert err["details"]["field"] == "namespace_name"
    err = envelope(sluice.call("POST", "/v1/namespaces", json={}), 422)
    assert err["details"]["field"] == "namespace_name"
    err = envelope(sluice.call("POST", "/v1/namespaces", json={"namespace_name": "x"}), 422)
    assert err["details"]["field"] == "namespace_name"
    err = envelope(sluice.call("POST", "/v1/namespaces", json={
        "namespace_name": "bad-extractor",
        "feature_extractors": [{"feature_extractor_name": "multimodal_extractor", "version": "v9"}],
    }), 422)
    assert err["details"]["field"] == "feature_extractors[0]"
    envelope(sluice.call("POST", "/v1/namespaces", json={"namespace_name": "ns_01m8htsp2wfxe48vb8k3e26gts"}), 422)
    # Nothing half-written: the failed names are free.
    assert sluice.call("GET", "/v1/namespaces/bad-extractor").status_code == 404


def test_bodies_are_one_json_object_sent_as_json(sluice):
    json_ct = {"Content-Type": "application/json"}
    err = envelope(sluice.call("POST", "/v1/namespaces", data=b'{"namespace_name":"trailing-data"} garbage', headers=dict(json_ct)), 400)
    assert "after its JSON object" in err["message"]
    err = envelope(sluice.call("POST", "/v1/namespaces", data=b'["namespace_name", "x"]', headers=dict(json_ct)), 400)
    assert "JSON object" in err["message"]
    err = envelope(sluice.call("POST", "/v1/namespaces", data=b'{"namespace_name":"as-text"}', headers={"Content-Type": "text/plain"}), 415)
    assert "application/json" in err["message"]
    envelope(sluice.call("POST", "/v1/namespaces", data=b"", headers=dict(json_ct)), 400)
    for name in ("trailing-data", "as-text"):
        assert sluice.call("GET", f"/v1/namespaces/{name}").status_code == 404, name
    # JSON with a charset, or no content type at all, is still JSON.
    ok = sluice.call("POST", "/v1/namespaces", data=b'{"namespace_name":"charset-ok"}', headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 200, ok.text
    bare = sluice.call("POST", "/v1/namespaces", data=b'{"namespace_name":"no-content-type"}')
    assert bare.status_code == 200, bare.text


def test_oversized_body(sluice, space):
    ns, bkt = space
    big = b"x" * (7 * 1024 * 1024)
    envelope(sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, data=big), 413)
    # Inline content over the cap (5 MB) but inside the body limit (6 MB).
    text = "y" * (5 * 1024 * 1024 + 10)
    err = envelope(sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json={
        "blobs": [{"property": "body", "type": "text", "content": text}], "metadata": {"sku": "big"}}), 422)
    assert "presigned upload" in err["message"]


def test_namespace_header(sluice, space):
    envelope(sluice.call("GET", "/v1/buckets"), 400)
    envelope(sluice.call("GET", "/v1/buckets", ns="no-such-namespace"), 404)
    envelope(sluice.call("GET", "/v1/buckets", ns="ns_01m8htsp2wfxe48vb8k3e26gts"), 404)


@pytest.mark.parametrize("body, field", [
    ({"blobs": [{"property": "body", "type": "text", "content": "t"}], "metadata": {"sku": "a", "ghost": 1}}, "metadata.ghost"),
    ({"blobs": [{"property": "photo", "type": "video", "url": "https://example.com/v.mp4"},
                {"property": "body", "type": "text", "content": "t"}], "metadata": {"sku": "a"}}, "blobs[0].type"),
    ({"blobs": [{"property": "nope", "type": "text", "content": "t"}], "metadata": {"sku": "a"}}, "blobs[0].property"),
    ({"blobs": [], "metadata": {"sku": "a"}}, "blobs.body"),
    ({"blobs": [{"property": "body", "type": "text", "content": "t"}], "metadata": {}}, "metadata.sku"),
    ({"blobs": [{"property": "body", "type": "text", "content": "t"}], "metadata": {"sku": "a", "price": "cheap"}}, "metadata.price"),
    ({"blobs": [{"property": "body", "type": "text", "content": "t"}], "metadata": {"sku": "a", "tier": "bronze"}}, "metadata.tier"),
    ({"blobs": [{"property": "body", "type": "text", "content": "t"},
                {"property": "photo", "type": "image", "url": "ftp://example.com/a.jpg"}], "metadata": {"sku": "a"}}, "blobs[1].url"),
    ({"blobs": [{"property": "body", "type": "text", "content": "t"},
                {"property": "photo", "type": "image", "url": "https://user:pw@example.com/a.jpg"}], "metadata": {"sku": "a"}}, "blobs[1].url"),
    ({"blobs": [{"property": "body", "type": "text", "content": "t"},
                {"property": "photo", "type": "image", "data": "%%%not base64%%%"}], "metadata": {"sku": "a"}}, "blobs[1].data"),
    ({"blobs": [{"property": "body", "type": "text"}], "metadata": {"sku": "a"}}, "blobs[0]"),
    ({"blobs": [{"property": "body", "type": "text", "content": "t", "url": "https://example.com/t.txt"}], "metadata": {"sku": "a"}}, "blobs[0]"),
    ({"blobs": "nope"}, "blobs"),
])
def test_schema_violations_name_the_field(sluice, space, body, field):
    ns, bkt = space
    err = envelope(sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json=body), 422)
    assert err["details"]["field"] == field, err


def test_bad_bucket_schemas(sluice, space):
    ns, _ = space
    for schema, field in [
        ({}, "bucket_schema.properties"),
        ({"properties": {"a": {"type": "weird"}}}, "bucket_schema.properties.a.type"),
        ({"properties": {"a": {"type": "string", "enum": [1, 2]}}}, "bucket_schema.properties.a.enum[0]"),
    ]:
        err = envelope(sluice.call("POST", "/v1/buckets", ns=ns, json={"bucket_name": "b-bad", "bucket_schema": schema}), 422)
        assert err["details"]["field"] == field
    err = envelope(sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "b-bad", "bucket_schema": {"properties": {"a": {"type": "image"}}}, "unique_key": {"fields": ["a"]}}), 422)
    assert err["details"]["field"] == "unique_key.fields[0]"


def test_conflicts(sluice, space):
    ns, bkt = space
    envelope(sluice.call("POST", "/v1/namespaces", json={"namespace_name": "errors-space"}), 409)
    envelope(sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "errors-bucket", "bucket_schema": {"properties": {"a": {"type": "text"}}}}), 409)
    first = sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json=obj("uk-1"))
    assert first.status_code == 200, first.text
    envelope(sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json=obj("uk-1")), 409)
    # upsert replaces the holder of the key, keeping its id.
    upserted = sluice.call("POST", f"/v1/buckets/{bkt}/objects?policy=upsert", ns=ns, json=obj("uk-1", key_prefix="/v2")).json()
    assert upserted["object_id"] == first.json()["object_id"]
    assert upserted["key_prefix"] == "/v2"
    envelope(sluice.call("POST", f"/v1/buckets/{bkt}/objects?policy=update", ns=ns, json=obj("uk-none")), 404)
    envelope(sluice.call("POST", f"/v1/buckets/{bkt}/objects?policy=sometimes", ns=ns, json=obj("uk-2")), 422)


def test_skip_duplicates_returns_the_existing_object(sluice):
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "dupes"}).json()["namespace_id"]
    bkt = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "d", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
    body = {"blobs": [{"property": "body", "type": "text", "content": "same"}], "skip_duplicates": True}
    a = sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json=body).json()
    b = sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json=body).json()
    assert a["object_id"] == b["object_id"]
    batch = sluice.call("POST", f"/v1/buckets/{bkt}/objects/batch", ns=ns, json={"objects": [body, body]}).json()
    assert [r["object_id"] for r in batch["succeeded"]] == [a["object_id"]] * 2
    assert all(r["replayed"] for r in batch["succeeded"])
    assert sluice.call("GET", f"/v1/buckets/{bkt}", ns=ns).json()["object_count"] == 1
    # Without skip_duplicates the same content makes a new object.
    c = sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json={"blobs": body["blobs"]}).json()
    assert c["object_id"] != a["object_id"]


def test_batch_limits(sluice, space):
    ns, bkt = space
    envelope(sluice.call("POST", f"/v1/buckets/{bkt}/objects/batch", ns=ns, json={"objects": []}), 422)
    envelope(sluice.call("POST", f"/v1/buckets/{bkt}/objects/batch", ns=ns, json={"objects": [obj(f"m{i}") for i in range(101)]}), 422)
    # An item that is not a CreateObject refuses the request, and nothing is written...
    malformed = sluice.call("POST", f"/v1/buckets/{bkt}/objects/batch", ns=ns, json={"objects": [obj("b-no"), {"blobs": 7}]})
    assert envelope(malformed, 422)["details"]["field"] == "objects[1].blobs"
    assert envelope(sluice.call("POST", f"/v1/buckets/{bkt}/objects/batch", ns=ns, json={"objects": [obj("b-no"), 7]}), 422)
    listed = sluice.call("POST", f"/v1/buckets/{bkt}/objects/list", ns=ns, json={"limit": 100}).json()["results"]
    assert "b-no" not in [o["metadata"].get("sku") for o in listed]
    # ...while one its bucket refuses fails alone.
    mixed = sluice.call("POST", f"/v1/buckets/{bkt}/objects/batch", ns=ns, json={"objects": [
        obj("b-ok"), obj("b-bad", metadata={"sku": "b-bad", "price": "dear"}), obj("b-ok2")]}).json()
    assert mixed["succeeded_count"] == 2 and mixed["failed_count"] == 1
    assert mixed["failed"][0]["object_index"] == 1
    assert mixed["failed"][0]["error_type"] == "ValidationError"
    assert "metadata.price" in mixed["failed"][0]["error"], mixed


def test_lists_reject_bad_paging(sluice, space):
    ns, bkt = space
    envelope(sluice.call("POST", f"/v1/buckets/{bkt}/objects/list", ns=ns, json={"limit": 0}), 422)
    envelope(sluice.call("POST", f"/v1/buckets/{bkt}/objects/list", ns=ns, json={"cursor": "garbage!"}), 400)
    envelope(sluice.call("GET", "/v1/namespaces?limit=abc"), 422)
    envelope(sluice.call("POST", "/v1/namespaces/list", json={"offset": 20}), 422)


def test_object_patch_put_delete(sluice, space):
    ns, bkt = space
    o = sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json=obj("p-1", metadata={"sku": "p-1", "price": 3})).json()
    path = f"/v1/buckets/{bkt}/objects/{o['object_id']}"
    patched = sluice.call("PATCH", path, ns=ns, json={"metadata": {"tier": "gold", "price": None}}).json()
    assert patched["metadata"] == {"sku": "p-1", "tier": "gold"}
    envelope(sluice.call("PATCH", path, ns=ns, json={"metadata": {"tier": "bronze"}}), 422)
    envelope(sluice.call("PUT", path, ns=ns, json={"metadata": {"sku": "p-1"}}), 422)  # body blob is required
    replaced = sluice.call("PUT", path, ns=ns, json=obj("p-1b")).json()
    assert replaced["metadata"] == {"sku": "p-1b"} and replaced["object_id"] == o["object_id"]
    before = sluice.call("GET", f"/v1/buckets/{bkt}", ns=ns).json()["object_count"]
    assert sluice.call("DELETE", path, ns=ns).status_code == 200
    envelope(sluice.call("GET", path, ns=ns), 404)
    envelope(sluice.call("DELETE", path, ns=ns), 404)
    assert sluice.call("GET", f"/v1/buckets/{bkt}", ns=ns).json()["object_count"] == before - 1
    # Its unique key is free again.
    assert sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json=obj("p-1b")).status_code == 200


def test_other_tenants_see_nothing(sluice, space):
    ns, bkt = space
    o = sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json=obj("tenant-1")).json()
    other = sluice.new_org_key("other-org")
    # Another org: the namespace, by id or name, does not exist for it.
    envelope(sluice.call("GET", f"/v1/namespaces/{ns}", key=other), 404)
    envelope(sluice.call("GET", "/v1/namespaces/errors-space", key=other), 404)
    envelope(sluice.call("GET", "/v1/buckets", ns=ns, key=other), 404)
    envelope(sluice.call("DELETE", f"/v1/namespaces/{ns}", key=other), 404)
    # Its own namespace of the same name is its own, and ids from the first org miss.
    own = sluice.call("POST", "/v1/namespaces", key=other, json={"namespace_name": "errors-space"}).json()
    envelope(sluice.call("GET", f"/v1/buckets/{bkt}", ns=own["namespace_id"], key=other), 404)
    envelope(sluice.call("GET", f"/v1/buckets/{bkt}/objects/{o['object_id']}", ns=own["namespace_id"], key=other), 404)
    listed = sluice.call("GET", "/v1/namespaces", key=other).json()
    assert [n["namespace_id"] for n in listed["results"]] == [own["namespace_id"]]
    assert listed["total_count"] == 1
    # And the first org's object is untouched.
    assert sluice.call("GET", f"/v1/buckets/{bkt}/objects/{o['object_id']}", ns=ns).status_code == 200


def test_undeclared_keys_are_refused(sluice, space):
    ns, bkt = space
    err = envelope(sluice.call("POST", "/v1/namespaces", json={"namespace_name": "extra-keys", "colour": "red"}), 422)
    assert err["details"]["code"] == "extra_forbidden" and err["details"]["field"] == "colour"
    assert "namespace_name" in err["message"]  # names the accepted keys
    err = envelope(sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "x", "bucket_schema": {"properties": {"a": {"type": "text"}}}, "shape": 1}), 422)
    assert err["details"]["field"] == "shape"
    err = envelope(sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json={
        "blobs": [{"property": "body", "type": "text", "content": "t", "colour": 1}], "metadata": {"sku": "k"}}), 422)
    assert err["details"]["field"] == "blobs[0].colour"
    envelope(sluice.call("POST", "/v1/namespaces", json={"namespace_name": "standalone-ns", "mode": "standalone"}), 422)


def test_top_level_metadata_and_idempotency(sluice, space):
    ns, bkt = space
    # Undeclared top-level keys of an object are metadata fields, validated like them.
    o = sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json={
        "blobs": [{"property": "body", "type": "text", "content": "t"}], "sku": "top-1", "price": 2.5}).json()
    assert o["metadata"] == {"sku": "top-1", "price": 2.5}
    err = envelope(sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json={
        "blobs": [{"property": "body", "type": "text", "content": "t"}], "sku": "top-2", "weight": 1}), 422)
    assert err["details"]["field"] == "metadata.weight"
    body = {"blobs": [{"property": "body", "type": "text", "content": "idem"}], "metadata": {"sku": "idem-1"},
            "idempotency_key": "retry-me"}
    first = sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json=body).json()
    again = sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json=body).json()
    assert again["object_id"] == first["object_id"]
    batch = sluice.call("POST", f"/v1/buckets/{bkt}/objects/batch", ns=ns, json={"objects": [body]}).json()
    assert batch["succeeded"][0]["object_id"] == first["object_id"]
    assert batch["succeeded"][0]["replayed_by"] == "idempotency_key"


def test_list_select(sluice, space):
    ns, bkt = space
    for sku in ("sel-1", "sel-2"):   # rows of its own, so the test holds when run alone
        made = sluice.call("POST", f"/v1/buckets/{bkt}/objects?policy=upsert", ns=ns,
                           json=obj(sku, metadata={"sku": sku, "price": 3}))
        assert made.status_code == 200, made.text
    page = sluice.call("POST", f"/v1/buckets/{bkt}/objects/list", ns=ns, json={"select": ["metadata.sku"], "limit": 2}).json()
    assert len(page["results"]) == 2, page
    for row in page["results"]:
        assert set(row) == {"object_id", "bucket_id", "namespace_id", "metadata"}
        assert set(row["metadata"]) == {"sku"}, row


def test_concurrent_upserts_of_one_key_all_succeed(sluice, space):
    """An upsert that loses a race to another upsert of its key retries; it is not a 409."""
    import concurrent.futures
    ns, bkt = space
    def upsert(i):
        return sluice.call("POST", f"/v1/buckets/{bkt}/objects?policy=upsert", ns=ns,
                           json=obj("race-1", metadata={"sku": "race-1", "price": i}))
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        replies = list(pool.map(upsert, range(10)))
    assert [r.status_code for r in replies] == [200] * 10, [r.text for r in replies if r.status_code != 200]
    assert len({r.json()["object_id"] for r in replies}) == 1


@pytest.mark.parametrize("where, value", [
    ("filename", "../escape.txt"), ("filename", "a\nb.txt"), ("filename", "a\x00b.txt"), ("filename", ".."),
    ("base64_filename", "x/../../etc/passwd"),
    ("key_prefix", "/a/../b/"), ("key_prefix", "/a/./b"), ("key_prefix", "a\\b"), ("key_prefix", "line\nbreak"),
])
def test_names_a_client_would_save_by_are_plain(sluice, space, where, value):
    """Refused before anything is stored: what a client saving files by name trips on."""
    ns, bkt = space
    blob = {"property": "body", "type": "text", "content": "hello"}
    body = obj("plain-names")
    if where == "filename":
        blob["filename"] = value
        field = "blobs[0].filename"
    elif where == "base64_filename":
        blob = {"property": "photo", "type": "image", "data": {"base64": "iVBORw0KGgo=", "filename": value}}
        field = "blobs[0].data.filename"
    else:
        body["key_prefix"] = value
        field = "key_prefix"
    body["blobs"] = [blob] if where != "base64_filename" else [{"property": "body", "type": "text", "content": "t"}, blob]
    if where == "base64_filename":
        field = "blobs[1].data.filename"
    err = envelope(sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json=body), 422)
    assert err["details"]["field"] == field, err
