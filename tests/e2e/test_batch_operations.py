"""Batch operations (logs, audit, diagnose, estimate, resubmit, the tier routes, bulk
submits) and document aggregates and lineage, through the `mixpeek` SDK's generated
client and strict models."""

import pytest
import requests
from mixpeek.api.bucket_batches_api import BucketBatchesApi
from mixpeek.api.collection_documents_api import CollectionDocumentsApi
from mixpeek.api.collections_api import CollectionsApi
from mixpeek.api.documents_api import DocumentsApi
from mixpeek.exceptions import ApiException
from mixpeek.models.batch_list_documents_request import BatchListDocumentsRequest
from mixpeek.models.body_heal_tier_v1_buckets_bucket_identifier_batches_batch_id_tiers_tier_num_heal_post import (
    BodyHealTierV1BucketsBucketIdentifierBatchesBatchIdTiersTierNumHealPost as HealBody,
)
from mixpeek.models.bulk_submit_batches_request import BulkSubmitBatchesRequest
from mixpeek.models.distinct_values_request import DistinctValuesRequest
from mixpeek.models.document_aggregation_request import DocumentAggregationRequest
from mixpeek.models.document_create_request import DocumentCreateRequest
from mixpeek.models.namespace_list_documents_request import NamespaceListDocumentsRequest
from mixpeek.models.patch_batch_request import PatchBatchRequest

from test_batches import add_objects, make_space, wait_batch
from test_sdk import client


def draft(sluice, ns, bucket, ids):
    r = sluice.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": ids})
    assert r.status_code == 200, r.text
    return r.json()["batch_id"]


def test_a_batch_explains_itself_and_runs_again(sluice):
    ns, bucket = make_space(sluice, "batch-ops", "text_extractor")
    ids = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": f"note {i}"} for i in range(3)])
    api = BucketBatchesApi(client(sluice, ns))
    batch = draft(sluice, ns, bucket, ids)

    estimate = api.estimate_batch_cost_buckets_batches(bucket, batch)
    assert estimate.object_count == 3 and estimate.estimated_credits == 0
    assert estimate.extractors == ["text_extractor_v1"]
    assert estimate.content_summary["by_blob_type"]["text"]["blobs"] == 3
    patched = api.patch_batch_buckets_batches(bucket, batch, PatchBatchRequest.from_dict({"metadata": {"tags": ["nightly"]}}))
    assert patched.metadata.tags == ["nightly"]

    submitted = api.submit_all_drafts_buckets_batches(bucket)
    assert submitted["submitted"] >= 1
    done = wait_batch(sluice, ns, bucket, batch)
    assert done["status"] == "COMPLETED", done

    logs = api.get_batch_logs_buckets_batches(bucket, batch)
    assert [line["message"].split()[0] for line in logs["logs"]][:2] == ["created", "submitted"]
    audit = api.get_batch_audit_buckets_batches(bucket, batch)
    assert audit["invariant_holds"] and audit["tiers"][0]["processed_objects"] == 3
    diagnosis = api.diagnose_batch_buckets_batches(bucket, batch)
    assert diagnosis["health"] == "OK" and diagnosis["progress"]["processed"] == 3
    failed = api.get_failed_documents_buckets_batches_batch(bucket, batch, tier_num=0)
    assert failed["total"] == 0
    healed = api.heal_tier_buckets_batches_batch_id_num(bucket, batch, 0, HealBody.from_dict({"action": "detect_stuck"}))
    assert healed["stuck"] is False

    # Other tiers do not exist; Ray jobs are not Sluice's.
    with pytest.raises(ApiException) as no_tier:
        api.retry_tier_buckets_batches_batch_id_num(bucket, batch, 1)
    assert no_tier.value.status == 404 and "[0]" in no_tier.value.body
    with pytest.raises(ApiException) as no_ray:
        api.cancel_job_buckets_batches_batch_id_tiers_num_ray(bucket, batch, 0, "raysubmit_1")
    assert no_ray.value.status == 422 and "Ray" in no_ray.value.body
    with pytest.raises(ApiException) as nothing_failed:
        api.retry_tier_buckets_batches_batch_id_num(bucket, batch, 0)
    assert nothing_failed.value.status == 409

    again = api.resubmit_batch_buckets_batches(bucket, batch)
    assert again["status"] == "QUEUED"
    assert wait_batch(sluice, ns, bucket, batch)["processed_objects"] == 3
    removed = api.delete_batch_documents_buckets_batches(bucket, batch)
    assert removed["documents_deleted"] == 3
    api.delete_batch_buckets_batches(bucket, batch)
    r = sluice.call("GET", f"/v1/buckets/{bucket}/batches/{batch}", ns=ns)
    assert r.status_code == 404


def test_a_canceled_batch_can_be_deleted_and_a_tier_canceled(sluice):
    ns, bucket = make_space(sluice, "batch-cancel")
    ids = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": "x"}])
    api = BucketBatchesApi(client(sluice, ns))
    batch = draft(sluice, ns, bucket, ids)
    api.cancel_tier_buckets_batches_batch_id_num(bucket, batch, 0)
    assert sluice.call("GET", f"/v1/buckets/{bucket}/batches/{batch}", ns=ns).json()["status"] == "CANCELED"
    api.delete_batch_buckets_batches(bucket, batch)


def test_bulk_submit_chunks_a_bucket(sluice):
    ns, bucket = make_space(sluice, "batch-bulk")
    add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": f"b{i}"} for i in range(7)])
    api = BucketBatchesApi(client(sluice, ns))
    bulk = api.bulk_submit_batches_buckets(bucket, BulkSubmitBatchesRequest.from_dict({"chunk_size": 3}))
    assert (bulk.total_objects, bulk.total_batches, bulk.submitted) == (7, 3, 3)
    for b in bulk.batches:
        assert wait_batch(sluice, ns, bucket, b.batch_id)["status"] == "COMPLETED"
    capped = api.bulk_submit_batches_buckets(bucket, BulkSubmitBatchesRequest.from_dict({"chunk_size": 5, "max_objects": 2}))
    assert (capped.total_objects, capped.total_batches) == (2, 1)


def test_aggregates_and_lineage(sluice):
    ns, bucket = make_space(sluice, "doc-lineage", "text_extractor")
    api = client(sluice, ns)
    col = CollectionsApi(api).list_collections_get().results[0].collection_id
    docs = CollectionDocumentsApi(api)
    made = [
        docs.create_document(col, DocumentCreateRequest.from_dict({"text": f"item {i}", "metadata": {"kind": kind, "price": price}}))
        for i, (kind, price) in enumerate([("a", 1), ("a", 3), ("b", 10)])
    ]
    agg = docs.aggregate_documents(col, DocumentAggregationRequest.from_dict({
        "group_by": [{"field": "metadata.kind", "alias": "kind"}],
        "aggregations": [{"function": "count", "alias": "n"}, {"function": "sum", "field": "metadata.price", "alias": "total"}],
        "sort_by": "total",
    }))
    assert [(r.group["kind"], r.metrics["n"], r.metrics["total"]) for r in agg.results] == [("b", 1, 10.0), ("a", 2, 4.0)]
    distinct = docs.distinct_document_values(col, DistinctValuesRequest.from_dict({"field": "metadata.kind"}))
    assert {(v.value, v.count) for v in distinct.values} == {("a", 2), ("b", 1)}

    child = docs.create_document(col, DocumentCreateRequest.from_dict({"text": "derived", "source_document_id": made[0].document_id}))
    ancestors = docs.get_document_ancestors(col, child.document_id)
    assert ancestors[0].document_id == made[0].document_id
    descendants = docs.get_document_descendants(col, made[0].document_id)
    assert [d.document_id for d in descendants] == [child.document_id]
    diagnostics = docs.get_document_diagnostics(col, made[0].document_id)
    assert diagnostics.visibility_reason.searchable
    valid = docs.validate_document_schema(col, {"text": "ok", "batch_id": "x"})
    assert valid["valid"] is False and valid["errors"][0]["field"] == "batch_id"

    listed = DocumentsApi(api).list_documents_ns(limit=2, namespace_list_documents_request=NamespaceListDocumentsRequest.from_dict({}))
    assert len(listed.results) == 2 and listed.pagination.next_cursor
    rest = DocumentsApi(api).list_documents_ns(namespace_list_documents_request=NamespaceListDocumentsRequest.from_dict({"cursor": listed.pagination.next_cursor}))
    assert len(rest.results) == 2
    both = DocumentsApi(api).list_documents_batch(BatchListDocumentsRequest.from_dict({"queries": [
        {"key": "all", "request": {"collection_ids": [col]}},
        {"key": "bad", "request": {"collection_ids": ["nope"]}},
    ]}))
    assert len(both.results[0].response.results) == 4 and "nope" in both.results[1].error


def test_media_of_an_extracted_document(sluice):
    ns, bucket = make_space(sluice, "doc-media", "text_extractor")
    ids = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": "a stored note"}])
    batch = draft(sluice, ns, bucket, ids)
    sluice.call("POST", f"/v1/buckets/{bucket}/batches/{batch}/submit", ns=ns, json={})
    wait_batch(sluice, ns, bucket, batch)
    doc = sluice.call("GET", f"/v1/buckets/{bucket}/objects/{ids[0]}/documents", ns=ns).json()["results"][0]
    api = CollectionDocumentsApi(client(sluice, ns))
    ancestors = api.get_document_ancestors(doc["collection_id"], doc["document_id"])
    assert [a.to_dict()["lineage_type"] for a in ancestors] == ["batch", "blob", "object"]
    media = api.download_document_media(doc["collection_id"], doc["document_id"])
    assert requests.get(media.download_url, timeout=10).content == b"a stored note"
    assert (media.start_time, media.end_time) == (0, 0)
