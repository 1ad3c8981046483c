"""Namespaces and buckets: rename, update, list, and deletes that really delete."""

import base64
import os
import pathlib

import requests

from conftest import stored_blobs


def stored_files(sluice, prefix):
    return stored_blobs(sluice.data_dir, prefix + "/")


def test_namespace_update_and_lists(sluice):
    ids = [sluice.call("POST", "/v1/namespaces", json={"namespace_name": f"page-{i}"}).json()["namespace_id"] for i in range(5)]
    renamed = sluice.call("PATCH", f"/v1/namespaces/{ids[0]}", json={
        "namespace_name": "page-renamed",
        "feature_extractors": [{"feature_extractor_name": "passthrough_extractor", "version": "v1"}],
    }).json()
    assert renamed["namespace_name"] == "page-renamed"
    assert sluice.call("GET", "/v1/namespaces/page-0").status_code == 404
    assert sluice.call("GET", "/v1/namespaces/page-renamed").json()["namespace_id"] == ids[0]
    # The old name is free again.
    assert sluice.call("POST", "/v1/namespaces", json={"namespace_name": "page-0"}).status_code == 200
    assert sluice.call("PATCH", f"/v1/namespaces/{ids[1]}", json={"namespace_name": "page-2"}).status_code == 409
    found = sluice.call("POST", "/v1/namespaces/list", json={"filters": {"namespace_name": "page-3"}}).json()
    assert [n["namespace_id"] for n in found["results"]] == [ids[3]]
    # Paging with GET and POST.
    seen, cursor = [], None
    while True:
        q = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = sluice.call("GET", "/v1/namespaces" + q).json()
        seen += [n["namespace_id"] for n in page["results"]]
        cursor = page["pagination"]["next_cursor"]
        if not cursor:
            break
    assert set(ids) <= set(seen) and len(seen) == len(set(seen))
    newest_first = sluice.call("POST", "/v1/namespaces/list", json={"sort": {"field": "created_at", "direction": "desc"}, "limit": 1}).json()
    assert newest_first["results"][0]["namespace_name"] == "page-0"


def test_bucket_schema_changes(sluice):
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "schema-space"}).json()["namespace_id"]
    bkt = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "s", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
    sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json={"blobs": [{"property": "body", "type": "text", "content": "x"}]})
    add = {"bucket_schema": {"properties": {"body": {"type": "text"}, "year": {"type": "integer"}}}}
    assert sluice.call("PATCH", f"/v1/buckets/{bkt}", ns=ns, json=add).status_code == 200
    breaking = {"bucket_schema": {"properties": {"body": {"type": "image"}}}}
    assert sluice.call("PATCH", f"/v1/buckets/{bkt}", ns=ns, json=breaking).status_code == 422
    got = sluice.call("GET", "/v1/buckets/s", ns=ns).json()
    assert "year" in got["bucket_schema"]["properties"] and got["object_count"] == 1


def test_bucket_delete_purges_everything(sluice):
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "purge-bucket"}).json()["namespace_id"]
    bkt = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "doomed", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
    batch = {"objects": [{"blobs": [{"property": "body", "type": "text", "content": f"c{i}"}]} for i in range(20)]}
    assert sluice.call("POST", f"/v1/buckets/{bkt}/objects/batch", ns=ns, json=batch).json()["succeeded_count"] == 20
    assert len(stored_files(sluice, f"{ns}/{bkt}")) == 20
    deleted = sluice.call("DELETE", f"/v1/buckets/{bkt}", ns=ns).json()
    assert sluice.call("GET", f"/v1/buckets/{bkt}", ns=ns).status_code == 404
    assert sluice.call("POST", f"/v1/buckets/{bkt}/objects/list", ns=ns).status_code == 404
    task = sluice.wait_task(deleted["task_id"])
    assert task["status"] == "COMPLETED", task
    assert stored_files(sluice, f"{ns}/{bkt}") == []
    assert sluice.call("GET", f"/v1/namespaces/{ns}").json()["bucket_count"] == 0
    # The name is reusable at once.
    assert sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "doomed", "bucket_schema": {"properties": {"body": {"type": "text"}}}}).status_code == 200


def test_namespace_delete_purges_everything(sluice):
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "purge-ns"}).json()["namespace_id"]
    for name in ("one", "two"):
        bkt = sluice.call("POST", "/v1/buckets", ns=ns, json={
            "bucket_name": name, "bucket_schema": {"properties": {"body": {"type": "text"}}}}).json()["bucket_id"]
        sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json={"blobs": [{"property": "body", "type": "text", "content": name}]})
    assert len(stored_files(sluice, ns)) == 2
    deleted = sluice.call("DELETE", "/v1/namespaces/purge-ns").json()
    assert sluice.call("GET", f"/v1/namespaces/{ns}").status_code == 404
    assert sluice.call("GET", "/v1/buckets", ns=ns).status_code == 404
    assert sluice.wait_task(deleted["task_id"])["status"] == "COMPLETED"
    assert stored_files(sluice, ns) == []
    assert sluice.call("POST", "/v1/namespaces", json={"namespace_name": "purge-ns"}).status_code == 200


def test_tiny_objects_are_packed_not_a_file_each(sluice):
    """82 500 tiny inline objects once took 1.7 GB: a directory and two files each."""
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "packed"}).json()["namespace_id"]
    bkt = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "tiny", "bucket_schema": {"properties": {"body": {"type": "text"}, "blob": {"type": "binary"}}}}).json()["bucket_id"]
    batch = {"objects": [{"blobs": [{"property": "body", "type": "text", "content": f"tiny {i}"}]} for i in range(50)]}
    assert sluice.call("POST", f"/v1/buckets/{bkt}/objects/batch", ns=ns, json=batch).json()["succeeded_count"] == 50
    big = base64.b64encode(os.urandom(200 * 1024)).decode()
    sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json={
        "blobs": [{"property": "blob", "type": "binary", "data": {"base64": big, "mime_type": "application/octet-stream"}}]})
    files = pathlib.Path(sluice.data_dir) / "blobs" / "files"
    before = {p for p in files.rglob("*") if p.is_file()} if files.exists() else set()
    assert len(stored_files(sluice, f"{ns}/{bkt}")) == 51
    # Only the 200 KiB blob is a file of its own; and there is no per-key tree at all.
    assert len([p for p in before if p.is_file()]) >= 1
    assert not (pathlib.Path(sluice.data_dir) / "blobs" / "data" / ns).exists()
    assert not (pathlib.Path(sluice.data_dir) / "blobs" / "meta").exists()
    more = {"objects": [{"blobs": [{"property": "body", "type": "text", "content": f"more {i}"}]} for i in range(50)]}
    sluice.call("POST", f"/v1/buckets/{bkt}/objects/batch", ns=ns, json=more)
    after = {p for p in files.rglob("*") if p.is_file()}
    assert after == before, "tiny objects made files"
    # What is served is what was stored.
    objs = sluice.call("POST", f"/v1/buckets/{bkt}/objects/list", ns=ns, json={"limit": 5}).json()["results"]
    got = sluice.call("GET", f"/v1/buckets/{bkt}/objects/{objs[0]['object_id']}?return_presigned_urls=true", ns=ns).json()
    served = requests.get(got["blobs"][0]["presigned_url"], timeout=10)
    assert served.status_code == 200 and served.text.split(" ")[0] in ("tiny", "more"), served.text
