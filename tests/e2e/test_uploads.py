"""Direct uploads against sluice-local: presigned PUT, confirm, and every refusal."""

import base64
import concurrent.futures
import hashlib
import os
import subprocess
import time
import urllib.parse
import uuid

import pytest
import requests

from conftest import stored_blobs

from test_quickstart import curl_commands, find, run

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(2048)


def b64sha(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture()
def photos(sluice):
    name = f"up-{uuid.uuid4().hex[:16]}"
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": name}).json()["namespace_id"]
    bkt = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "photos",
        "bucket_schema": {"properties": {"hero_image": {"type": "image"}, "caption": {"type": "string"}}},
    }).json()["bucket_id"]
    return ns, bkt


def put(url, data, content_type, checksum=None):
    headers = {"Content-Type": content_type}
    if checksum:
        headers["x-amz-checksum-sha256"] = checksum
    return requests.put(url, data=data, headers=headers, timeout=10)


def wait_completed(sluice, ns, bkt, upl, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        up = sluice.call("GET", f"/v1/buckets/{bkt}/uploads/{upl}", ns=ns).json()
        if up["status"] == "COMPLETED":
            return up
        time.sleep(0.05)
    raise AssertionError(f"upload {upl} did not complete: {up}")


def test_quickstart_upload_requests_verbatim(sluice, photos, tmp_path):
    ns, bkt = photos
    env = dict(os.environ, MIXPEEK_API_KEY=sluice.api_key, NAMESPACE_ID=ns, BUCKET_ID=bkt)
    status, up = run(find(curl_commands(), "POST", "/uploads"), sluice.url, env)
    assert status == 200, up
    assert up["blob_property"] == "hero_image" and up["presigned_url"]
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(4096))
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(photo), "-H", "Content-Type: image/jpeg", up["presigned_url"]],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout == "200"
    confirm = f'curl -X POST "https://api.mixpeek.com/v1/buckets/$BUCKET_ID/uploads/{up["upload_id"]}/confirm" \\\n' \
              '  -H "Authorization: Bearer $MIXPEEK_API_KEY" \\\n  -H "X-Namespace: $NAMESPACE_ID"'
    status, done = run(confirm, sluice.url, env)
    assert status == 200, done
    assert done["status"] == "COMPLETED" and done["object_id"]
    obj = sluice.call("GET", f"/v1/buckets/{bkt}/objects/{done['object_id']}?return_presigned_urls=true", ns=ns).json()
    blob = obj["blobs"][0]
    assert blob["property"] == "hero_image" and blob["details"]["size_bytes"] == photo.stat().st_size
    assert requests.get(blob["presigned_url"], timeout=10).content == photo.read_bytes()


def test_quickstart_bucket_needs_its_required_text(sluice):
    # The quickstart bucket requires product_text: an image alone cannot become its object.
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "qs-uploads"}).json()["namespace_id"]
    bkt = sluice.call("POST", "/v1/buckets", ns=ns, json={"bucket_name": "product-catalog", "bucket_schema": {"properties": {
        "product_text": {"type": "text", "required": True}, "hero_image": {"type": "image"}, "year": {"type": "integer"}}}}).json()["bucket_id"]
    # Not asked for an object, the upload stands alone and says what the object needs.
    r = sluice.call("POST", f"/v1/buckets/{bkt}/uploads", ns=ns, json={"filename": "photo.jpg", "content_type": "image/jpeg"})
    assert r.status_code == 200 and not r.json()["create_object_on_confirm"]
    assert "product_text" in r.json()["message"] and r.json()["upload_id"] in r.json()["message"]
    # Asked for one, it cannot be had: a 422 names the missing blob.
    r = sluice.call("POST", f"/v1/buckets/{bkt}/uploads", ns=ns, json={
        "filename": "photo.jpg", "content_type": "image/jpeg", "create_object_on_confirm": True})
    assert r.status_code == 422 and "product_text" in r.json()["error"]["message"]
    # Metadata the object could never take is refused either way.
    r = sluice.call("POST", f"/v1/buckets/{bkt}/uploads", ns=ns, json={
        "filename": "photo.jpg", "content_type": "image/jpeg", "object_metadata": {"year": "soon"}})
    assert r.status_code == 422 and "year" in r.json()["error"]["message"]


def test_sdk_upload_flow(sluice, photos):
    import mixpeek
    from mixpeek.api.bucket_uploads_api import BucketUploadsApi
    from mixpeek.models.confirm_upload_request import ConfirmUploadRequest
    from mixpeek.models.create_upload_request import CreateUploadRequest
    ns, bkt = photos
    config = mixpeek.Configuration(host=sluice.url, access_token=sluice.api_key)
    config.api_key["NamespaceHeader"] = ns
    api = BucketUploadsApi(mixpeek.ApiClient(config))
    up = api.create_upload_buckets(bkt, CreateUploadRequest(
        filename="sdk.png", content_type="image/png", file_size_bytes=len(PNG),
        file_hash=hashlib.sha256(PNG).hexdigest(), object_metadata={"caption": "from the SDK"}))
    assert up.status == "PENDING" and up.presigned_url
    r = put(up.presigned_url, PNG, "image/png", b64sha(PNG))
    assert r.status_code == 200, r.text
    done = api.confirm_upload_buckets(bkt, up.upload_id, confirm_upload_request=ConfirmUploadRequest(
        etag=r.headers["ETag"], file_size_bytes=len(PNG)))
    assert done.status == "COMPLETED" and done.object_id
    got = api.get_upload_buckets(bkt, up.upload_id)
    assert got["object_id"] == done.object_id and got["file_hash"] == hashlib.sha256(PNG).hexdigest()
    listed = api.list_uploads_buckets(bkt)
    assert [u.upload_id for u in listed.results] == [up.upload_id]
    obj = sluice.call("GET", f"/v1/buckets/{bkt}/objects/{done.object_id}", ns=ns).json()
    assert obj["metadata"] == {"caption": "from the SDK"}


def test_the_store_refuses_what_was_not_signed(sluice, photos):
    ns, bkt = photos
    up = sluice.call("POST", f"/v1/buckets/{bkt}/uploads", ns=ns, json={
        "filename": "pinned.png", "content_type": "image/png", "file_size_bytes": len(PNG),
        "file_hash": hashlib.sha256(PNG).hexdigest()}).json()
    url = up["presigned_url"]
    parts = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qs(parts.query)

    def with_params(**changes):
        params = {k: v[0] for k, v in q.items()}
        params.update(changes)
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(params)))

    sig = q["X-Sluice-Signature"][0]
    forged = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    assert put(with_params(**{"X-Sluice-Signature": forged}), PNG, "image/png", b64sha(PNG)).status_code == 403
    assert put(with_params(**{"X-Sluice-Expires": str(int(q["X-Sluice-Expires"][0]) + 3600)}), PNG, "image/png", b64sha(PNG)).status_code == 403
    assert put(with_params(**{"X-Sluice-Expires": "1000"}), PNG, "image/png", b64sha(PNG)).status_code == 403
    assert put(url, PNG[:-1], "image/png", b64sha(PNG[:-1])).status_code == 400          # wrong length
    assert put(url, PNG, "image/jpeg", b64sha(PNG)).status_code == 400                   # wrong type
    other = PNG[:-1] + b"!"
    assert put(url, other, "image/png", b64sha(other)).status_code == 400                # wrong checksum
    assert put(url, other, "image/png", b64sha(PNG)).status_code == 400                  # lying checksum
    assert put(url, PNG, "image/png").status_code == 400                                  # no checksum header
    r = sluice.call("POST", f"/v1/buckets/{bkt}/uploads/{up['upload_id']}/confirm", ns=ns)
    assert r.status_code == 409 and "PUT the file" in r.json()["error"]["message"]      # nothing was stored
    assert put(url, PNG, "image/png", b64sha(PNG)).status_code == 200


def test_confirm_paths(sluice, photos):
    ns, bkt = photos
    create = lambda **kw: sluice.call("POST", f"/v1/buckets/{bkt}/uploads", ns=ns, json={"filename": "c.png", "content_type": "image/png", **kw}).json()
    up = create()
    path = f"/v1/buckets/{bkt}/uploads/{up['upload_id']}"
    assert sluice.call("POST", path + "/confirm", ns=ns).status_code == 409          # before the PUT
    assert put(up["presigned_url"], PNG, "image/png").status_code == 200
    first = sluice.call("POST", path + "/confirm", ns=ns, json={"file_size_bytes": len(PNG)}).json()
    second = sluice.call("POST", path + "/confirm", ns=ns).json()
    assert first["object_id"] == second["object_id"] and first["status"] == "COMPLETED"
    r = sluice.call("DELETE", path, ns=ns)
    assert r.status_code == 409                                                          # completed: delete the object
    # (A wrong size or ETag at confirm is tested in the conformance suite, where no
    # notification confirms the upload first.)
    # Cancel a pending upload: its bytes go, and it cannot be confirmed.
    up3 = create()
    p3 = f"/v1/buckets/{bkt}/uploads/{up3['upload_id']}"
    canceled = sluice.call("DELETE", p3, ns=ns).json()
    assert canceled["status"] == "CANCELED"
    late = put(up3["presigned_url"], PNG, "image/png")                                  # the URL is refused...
    assert late.status_code == 403 and "AccessDenied" in late.text, late.text
    assert sluice.call("GET", p3, ns=ns).json()["status"] == "CANCELED"                 # ...and nothing confirms it
    assert sluice.call("POST", p3 + "/confirm", ns=ns).status_code == 409
    assert not [k for k in stored_blobs(sluice.data_dir) if up3["upload_id"] in k]      # no bytes left


def test_a_replayed_put_cannot_change_a_confirmed_file(sluice, photos):
    """The URL outlives its upload; what the object reads must stay what was confirmed."""
    ns, bkt = photos
    up = sluice.call("POST", f"/v1/buckets/{bkt}/uploads", ns=ns, json={
        "filename": "kept.png", "content_type": "image/png"}).json()
    assert put(up["presigned_url"], PNG, "image/png").status_code == 200
    done = wait_completed(sluice, ns, bkt, up["upload_id"])
    other = b"\x89PNG\r\n\x1a\n" + os.urandom(2048)
    replay = put(up["presigned_url"], other, "image/png")                               # plain curl -T, no headers
    assert replay.status_code == 403 and "AccessDenied" in replay.text, replay.text
    obj = sluice.call("GET", f"/v1/buckets/{bkt}/objects/{done['object_id']}", ns=ns,
                      params={"return_presigned_urls": "true"}).json()
    blob = obj["blobs"][0]
    assert blob["details"]["hash"] == hashlib.sha256(PNG).hexdigest()
    served = requests.get(blob["presigned_url"], timeout=10)
    assert served.status_code == 200 and served.content == PNG


def test_auto_confirm_races_explicit_confirms(sluice, photos):
    ns, bkt = photos
    for _ in range(5):
        up = sluice.call("POST", f"/v1/buckets/{bkt}/uploads", ns=ns, json={"filename": "race.png", "content_type": "image/png"}).json()
        path = f"/v1/buckets/{bkt}/uploads/{up['upload_id']}/confirm"
        # Confirms fired while the PUT (which confirms on arrival) is in flight.
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            confirms = [pool.submit(sluice.call, "POST", path, ns=ns) for _ in range(3)]
            put_done = pool.submit(put, up["presigned_url"], PNG, "image/png")
            confirms += [pool.submit(sluice.call, "POST", path, ns=ns) for _ in range(2)]
            assert put_done.result().status_code == 200
            answers = [c.result() for c in confirms]
        assert all(a.status_code in (200, 409) for a in answers)
        ids = {a.json()["object_id"] for a in answers if a.status_code == 200}
        ids.add(sluice.call("POST", path, ns=ns).json()["object_id"])
        assert len(ids) == 1 and None not in ids
    objects = sluice.call("GET", f"/v1/buckets/{bkt}/objects?limit=100", ns=ns).json()["results"]
    assert len(objects) == 5
    assert sluice.call("GET", f"/v1/buckets/{bkt}", ns=ns).json()["object_count"] == 5


def test_upload_without_object_then_referenced(sluice, photos):
    ns, bkt = photos
    up = sluice.call("POST", f"/v1/buckets/{bkt}/uploads", ns=ns, json={
        "filename": "later.png", "content_type": "image/png", "create_object_on_confirm": False}).json()
    assert put(up["presigned_url"], PNG, "image/png").status_code == 200
    done = wait_completed(sluice, ns, bkt, up["upload_id"])
    assert done["object_id"] is None
    blob = {"property": "hero_image", "type": "image", "upload_id": up["upload_id"]}
    obj = sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json={"blobs": [blob]}).json()
    assert obj["blobs"][0]["properties"]["source"] == "upload"
    r = sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json={"blobs": [blob]})
    assert r.status_code == 422 and "already backs" in r.json()["error"]["message"]
    pending = sluice.call("POST", f"/v1/buckets/{bkt}/uploads", ns=ns, json={
        "filename": "p.png", "content_type": "image/png", "create_object_on_confirm": False}).json()
    r = sluice.call("POST", f"/v1/buckets/{bkt}/objects", ns=ns, json={"blobs": [{**blob, "upload_id": pending["upload_id"]}]})
    assert r.status_code == 422 and "confirm it first" in r.json()["error"]["message"]


@pytest.mark.parametrize("body, field", [
    ({"filename": "../etc/passwd", "content_type": "image/png"}, "filename"),
    ({"filename": "a\\b.png", "content_type": "image/png"}, "filename"),
    ({"filename": "a.png", "content_type": "nonsense"}, "content_type"),
    ({"filename": "a.mp4", "content_type": "video/mp4"}, "blob_type"),
    ({"filename": "a.png", "content_type": "image/png", "blob_property": "caption"}, "blob_property"),
    ({"filename": "a.png", "content_type": "image/png", "blob_property": "ghost"}, "blob_property"),
    ({"filename": "a.png", "content_type": "video/mp4", "blob_type": "image"}, "content_type"),
    ({"filename": "a.png", "content_type": "image/png", "presigned_url_expiration": 30}, "presigned_url_expiration"),
    ({"filename": "a.png", "content_type": "image/png", "presigned_url_expiration": 90000}, "presigned_url_expiration"),
    ({"filename": "a.png", "content_type": "image/png", "file_hash": "abc"}, "file_hash"),
    ({"filename": "a.png", "content_type": "image/png", "file_size_bytes": 0}, "file_size_bytes"),
    ({"filename": "a.png", "content_type": "image/png", "object_metadata": {"caption": 5}}, "object_metadata.caption"),
])
def test_uploads_are_validated_before_a_url_is_issued(sluice, photos, body, field):
    ns, bkt = photos
    r = sluice.call("POST", f"/v1/buckets/{bkt}/uploads", ns=ns, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]["field"] == field


def test_batches_of_uploads(sluice, photos):
    ns, bkt = photos
    bad = sluice.call("POST", f"/v1/buckets/{bkt}/uploads/batch", ns=ns, json={"uploads": [
        {"filename": "ok.png", "content_type": "image/png"}, {"filename": "../x", "content_type": "image/png"}]})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "uploads[1].filename"
    assert sluice.call("POST", f"/v1/buckets/{bkt}/uploads/list", ns=ns, json={"filters": {"status": "PENDING"}}).json()["results"] == []
    batch = sluice.call("POST", f"/v1/buckets/{bkt}/uploads/batch", ns=ns, json={
        "uploads": [{"filename": f"b{i}.png", "content_type": "image/png", "create_object_on_confirm": False} for i in range(3)],
        "shared_metadata": {"campaign": "spring"}}).json()
    assert batch["total"] == 3 and all(u["metadata"] == {"campaign": "spring"} for u in batch["uploads"])
    for u in batch["uploads"][:2]:
        assert put(u["presigned_url"], PNG, "image/png").status_code == 200
    ids = [u["upload_id"] for u in batch["uploads"]]
    queued = sluice.call("POST", f"/v1/buckets/{bkt}/uploads/confirm/batch", ns=ns, json={
        "confirmations": [{"upload_id": i} for i in ids]}).json()
    assert queued["confirmations_count"] == 3
    task = sluice.wait_task(queued["task_id"])
    by_id = {o["upload_id"]: o for o in task["outputs"]}
    assert by_id[ids[0]]["status"] == "COMPLETED" and by_id[ids[1]]["status"] == "COMPLETED"
    assert by_id[ids[2]]["status"] == "FAILED" and "PUT the file" in by_id[ids[2]]["error"]
    assert task["status"] == "COMPLETED_WITH_ERRORS"
    # The SDK reads every task of the namespace, this one's task_type included (its enum
    # has no value Sluice once sent, so list_tasks raised).
    import mixpeek
    from mixpeek.api.tasks_api import TasksApi
    config = mixpeek.Configuration(host=sluice.url, access_token=sluice.api_key)
    config.api_key["NamespaceHeader"] = ns
    listed = TasksApi(mixpeek.ApiClient(config)).list_tasks()
    assert queued["task_id"] in [t.task_id for t in listed.results]
    pending = sluice.call("POST", f"/v1/buckets/{bkt}/uploads/list", ns=ns, json={"filters": {"status": "PENDING"}}).json()
    assert [u["upload_id"] for u in pending["results"]] == [ids[2]]
    assert pending["stats"]["uploads_by_status"] == {"PENDING": 1}


def test_large_files_go_in_parts(tmp_path_factory):
    from conftest import Sluice, start
    data_dir = tmp_path_factory.mktemp("multipart")
    proc, url, key = start(data_dir, {"SLUICE_MULTIPART_THRESHOLD": str(6 * 1024 * 1024), "SLUICE_MULTIPART_PART_SIZE": str(5 * 1024 * 1024)})
    try:
        s = Sluice(url, key, data_dir)
        ns = s.call("POST", "/v1/namespaces", json={"namespace_name": "multipart"}).json()["namespace_id"]
        bkt = s.call("POST", "/v1/buckets", ns=ns, json={"bucket_name": "videos", "bucket_schema": {"properties": {"clip": {"type": "video"}}}}).json()["bucket_id"]
        data = os.urandom(12 * 1024 * 1024 + 123)
        up = s.call("POST", f"/v1/buckets/{bkt}/uploads", ns=ns, json={
            "filename": "clip.mp4", "content_type": "video/mp4", "file_size_bytes": len(data)}).json()
        assert up["presigned_url"] is None
        parts = up["multipart"]["parts"]
        assert [p["part_number"] for p in parts] == [1, 2, 3] and sum(p["size"] for p in parts) == len(data)
        size = up["multipart"]["part_size"]
        chunk = lambda p: data[(p["part_number"] - 1) * size:(p["part_number"] - 1) * size + p["size"]]
        assert requests.put(parts[0]["presigned_url"], data=chunk(parts[0])[:-1], timeout=30).status_code == 400  # exact length
        for p in parts[:2]:
            assert requests.put(p["presigned_url"], data=chunk(p), timeout=30).status_code == 200
        confirm = f"/v1/buckets/{bkt}/uploads/{up['upload_id']}/confirm"
        r = s.call("POST", confirm, ns=ns)
        assert r.status_code == 409 and "2 of its 3 parts" in r.json()["error"]["message"]
        assert requests.put(parts[2]["presigned_url"], data=chunk(parts[2]), timeout=30).status_code == 200
        done = s.call("POST", confirm, ns=ns).json()
        assert done["status"] == "COMPLETED" and done["file_size_bytes"] == len(data)
        assert done["file_hash"] == hashlib.sha256(data).hexdigest()
        obj = s.call("GET", f"/v1/buckets/{bkt}/objects/{done['object_id']}?return_presigned_urls=true", ns=ns).json()
        assert requests.get(obj["blobs"][0]["presigned_url"], timeout=30).content == data
    finally:
        proc.terminate()
        proc.wait(timeout=10)
