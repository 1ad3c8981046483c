"""Collection operations through the `mixpeek` SDK's generated client and strict models:
update, features, clone, trigger, reconcile, export and import."""

import json

import pytest
import requests
from mixpeek.api.collection_documents_api import CollectionDocumentsApi
from mixpeek.api.collections_api import CollectionsApi
from mixpeek.exceptions import ApiException
from mixpeek.models.clone_collection_request import CloneCollectionRequest
from mixpeek.models.collection_export_request import CollectionExportRequest
from mixpeek.models.document_create_request import DocumentCreateRequest
from mixpeek.models.import_request import ImportRequest
from mixpeek.models.mapping_validation_request import MappingValidationRequest
from mixpeek.models.schema_inference_request import SchemaInferenceRequest
from mixpeek.models.trigger_collection_request import TriggerCollectionRequest

from test_batches import add_objects, make_space, wait_batch
from test_sdk import client


def test_update_features_clone_trigger_and_reconcile(sluice):
    ns, bucket = make_space(sluice, "col-ops", "text_extractor")
    ids = add_objects(sluice, ns, bucket, [{"property": "body", "type": "text", "content": f"fact {i}"} for i in range(3)])
    api = CollectionsApi(client(sluice, ns))
    col = api.list_collections_get().results[0]

    renamed = api.update_collection(col.collection_id, {"collection_name": "facts", "description": "short facts"})
    assert (renamed.collection_name, renamed.description) == ("facts", "short facts")
    assert api.get_collection("facts").collection_id == col.collection_id
    with pytest.raises(ApiException) as fixed:
        api.update_collection("facts", {"feature_extractor": {"feature_extractor_name": "image_extractor", "version": "v1"}})
    assert fixed.value.status == 422

    features = api.describe_collection_features("facts").features
    assert features[0].feature_uri == "mixpeek://text_extractor@v1/embedding"
    assert features[0].vector_index.dimensions == 384

    before = api.reconcile_collection_reconciliation("facts")
    assert (before.source_object_count, before.produced_object_count, before.delta) == (3, 0, 3)
    assert {d.reason for d in before.discrepancies} == {"no_document"}

    clone = api.clone_collection("facts", CloneCollectionRequest.from_dict({"collection_name": "facts-copy"}))
    assert clone.source_collection_id == col.collection_id
    assert clone.collection.feature_extractor.feature_extractor_name == "text_extractor"
    assert clone.collection.document_count == 0

    triggered = api.trigger_collection(clone.collection.collection_id, TriggerCollectionRequest.from_dict({"object_ids": ids[:2]}))
    assert (triggered.object_count, triggered.batch_count, triggered.total_tiers) == (2, 1, 1)
    assert triggered.task_id.startswith("task_")
    assert wait_batch(sluice, ns, bucket, triggered.batch_id)["status"] == "COMPLETED"
    after = api.reconcile_collection_reconciliation(clone.collection.collection_id)
    assert (after.produced_object_count, after.delta, after.document_count) == (2, 1, 2)
    # Only the clone was written to.
    assert api.reconcile_collection_reconciliation("facts").produced_object_count == 0

    # A clone that copies documents with their vectors (a task); searching it finds them.
    copied = sluice.call("POST", f"/v1/collections/{clone.collection.collection_id}/clone?copy_documents=true",
                         ns=ns, json={"collection_name": "facts-copy-2"}).json()
    assert sluice.wait_task(copied["task_id"])["status"] == "COMPLETED"
    again = api.get_collection("facts-copy-2")
    assert again.document_count == 2
    hits = sluice.call("POST", "/v1/features/search", ns=ns, json={
        "query": {"text": "fact 1"}, "collection_identifiers": [again.collection_id], "top_k": 2}).json()
    assert {h["collection_id"] for h in hits["results"]} == {again.collection_id}, hits
    refused = sluice.call("POST", "/v1/collections/facts/clone?copy_documents=true", ns=ns, json={
        "collection_name": "x-copy", "feature_extractor": {"feature_extractor_name": "text_extractor", "version": "v1"}})
    assert refused.status_code == 422 and "copy_documents" in refused.text


def test_export_streams_shards_and_import_maps_rows(sluice):
    ns, _ = make_space(sluice, "col-transfer", "text_extractor")
    api = CollectionsApi(client(sluice, ns))
    col = api.list_collections_get().results[0].collection_id
    docs = CollectionDocumentsApi(client(sluice, ns))
    for i in range(5):
        docs.create_document(col, DocumentCreateRequest.from_dict({"text": f"row {i}", "metadata": {"n": i}}))

    exported = api.export_collection(col, CollectionExportRequest.from_dict({"samples_per_shard": 2}))
    assert (exported.document_count, exported.shard_count) == (5, 3)
    lines = []
    for shard in exported.shards:
        body = requests.get(shard.download_url, timeout=10).text
        assert len(body.encode()) == shard.file_size_bytes
        lines += [json.loads(l) for l in body.splitlines()]
    assert sorted(l["metadata"]["n"] for l in lines) == [0, 1, 2, 3, 4]
    manifest = requests.get(exported.download_url, timeout=10).json()
    assert [s["sample_count"] for s in manifest["shards"]] == [2, 2, 1]
    with pytest.raises(ApiException) as parquet:
        api.export_collection(col, CollectionExportRequest.from_dict({"format": "parquet"}))
    assert parquet.value.status == 422

    rows = [{"title": "Cedar", "body": "cedar trees grow slowly", "score": 3}, {"title": "Pine", "body": "pine needles", "score": 5}]
    inferred = api.infer_import_schema(SchemaInferenceRequest.from_dict({"sample_rows": rows}))
    targets = {f.path: (f.suggested_target.kind, f.suggested_target.path) for f in inferred.fields}
    assert targets == {"body": ("metadata", "text"), "score": ("metadata", "score"), "title": ("metadata", "title")}
    mapping = {"fields": [
        {"source_field": "body", "target": {"kind": "metadata", "path": "text"}},
        {"source_field": "title", "target": {"kind": "metadata", "path": "metadata.title"}},
        {"source_field": "score", "target": {"kind": "metadata", "path": "metadata.score"}},
    ]}
    ok = api.validate_import_mapping(MappingValidationRequest.from_dict({"mapping": mapping, "source_fields": [
        {"path": "body", "type": "string"}, {"path": "title", "type": "string"}, {"path": "score", "type": "integer"}]}))
    assert ok.ok
    bad = api.validate_import_mapping(MappingValidationRequest.from_dict({"mapping": {"fields": [
        {"source_field": "v", "target": {"kind": "vector", "dim": 3}}]}, "known_index_dims": {"embedding": 384}}))
    assert not bad.ok and "384" in bad.errors[0].error

    csv = "title,body,score\nOak,oak leaves turn brown,4\nBirch,birch bark is white,2\n"
    dry = api.import_collection(col, ImportRequest.from_dict({"mapping": mapping, "csv": csv, "dry_run": True}))
    assert (dry.reconstructed, dry.imported, dry.dry_run) == (2, 0, True)
    done = api.import_collection(col, ImportRequest.from_dict({"mapping": mapping, "rows": rows}))
    assert done.imported == 2 and not done.errors
    assert docs.count_documents(col).count == 7
    hits = sluice.call("POST", "/v1/features/search", ns=ns, json={"query": {"text": "conifer growth rate"}, "top_k": 1}).json()
    assert hits["results"][0]["metadata"]["title"] == "Cedar"
