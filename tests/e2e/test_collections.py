"""Collections: a namespace's own, created ones over chosen buckets, through the SDK, and
which collections a batch writes to."""

import mixpeek
from mixpeek.api.collections_api import CollectionsApi
from mixpeek.models.create_collection_request import CreateCollectionRequest

from test_batches import add_objects, make_space, wait_batch


def test_collections_through_the_sdk_and_batches(sluice):
    ns, bucket = make_space(sluice, "cols")
    other = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "other", "bucket_schema": {"properties": {"body": {"type": "text"}}},
    }).json()["bucket_id"]
    config = mixpeek.Configuration(host=sluice.url, access_token=sluice.api_key)
    config.api_key["NamespaceHeader"] = ns
    api = CollectionsApi(mixpeek.ApiClient(config))

    # The namespace's own collection, for its configured extractor.
    own = api.list_collections()
    assert [c.collection_name for c in own.results] == ["passthrough_extractor_v1"]

    created = api.create_collection(CreateCollectionRequest.from_dict({
        "collection_name": "items-only",
        "source": {"type": "bucket", "bucket_ids": [bucket]},
        "feature_extractor": {"feature_extractor_name": "passthrough_extractor", "version": "v1"},
    }))
    assert created.collection_id.startswith("col_")
    assert api.get_collection("items-only").collection_id == created.collection_id
    dup = sluice.call("POST", "/v1/collections", ns=ns, json={
        "collection_name": "items-only", "source": {"type": "bucket", "bucket_ids": [bucket]},
        "feature_extractor": {"feature_extractor_name": "passthrough_extractor", "version": "v1"},
    })
    assert dup.status_code == 409, dup.text
    bad = sluice.call("POST", "/v1/collections", ns=ns, json={
        "collection_name": "nowhere", "source": {"type": "bucket", "bucket_ids": ["bkt_missing"]},
        "feature_extractor": {"feature_extractor_name": "passthrough_extractor", "version": "v1"},
    })
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "source.bucket_ids"
    unknown = sluice.call("POST", "/v1/collections", ns=ns, json={
        "collection_name": "nope", "source": {"type": "bucket", "bucket_ids": [bucket]},
        "feature_extractor": {"feature_extractor_name": "clip_extractor", "version": "v9"},
    })
    assert unknown.status_code == 422, unknown.text

    # A batch of the first bucket writes to both collections; one of the other bucket,
    # only to the namespace's own.
    ids = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": "x"}])
    b = sluice.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": ids, "auto_submit": True}).json()
    done = wait_batch(sluice, ns, bucket, b["batch_id"])
    assert sorted(done["collection_ids"]) == sorted([own.results[0].collection_id, created.collection_id])
    assert done["documents_written"] == 2
    o = sluice.call("POST", f"/v1/buckets/{other}/objects", ns=ns, json={"blobs": [{"property": "body", "type": "text", "content": "y"}]}).json()
    b2 = sluice.call("POST", f"/v1/buckets/{other}/batches", ns=ns, json={"object_ids": [o["object_id"]], "auto_submit": True}).json()
    assert wait_batch(sluice, ns, other, b2["batch_id"])["collection_ids"] == [own.results[0].collection_id]

    docs = sluice.call("POST", f"/v1/collections/{created.collection_id}/documents/list", ns=ns, json={}).json()["results"]
    assert [d["source_object_id"] for d in docs] == ids
    # Documents by id: alone, within their collection, and not within another.
    doc_id = docs[0]["document_id"]
    assert sluice.call("GET", f"/v1/documents/{doc_id}", ns=ns).json()["source_object_id"] == ids[0]
    assert sluice.call("GET", f"/v1/collections/items-only/documents/{doc_id}", ns=ns).json()["document_id"] == doc_id
    assert sluice.call("GET", f"/v1/collections/{own.results[0].collection_id}/documents/{doc_id}", ns=ns).status_code == 404
    other_ns, _ = make_space(sluice, "cols-other")
    assert sluice.call("GET", f"/v1/documents/{doc_id}", ns=other_ns).status_code == 404
    api.delete_collection("items-only")
    assert sluice.call("GET", f"/v1/collections/{created.collection_id}", ns=ns).status_code == 404
    # Its documents went with it; the namespace's own collection keeps its.
    left = sluice.call("GET", f"/v1/buckets/{bucket}/objects/{ids[0]}/documents", ns=ns).json()["results"]
    assert [d["collection_id"] for d in left] == [own.results[0].collection_id]
    assert sluice.call("GET", f"/v1/documents/{doc_id}", ns=ns).status_code == 404
