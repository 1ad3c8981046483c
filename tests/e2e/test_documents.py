"""Documents written through the API, and the namespace, batch and feature methods of the
`mixpeek` SDK that came with them, driven through its generated client and strict models."""

import json
import time

import mixpeek
import pytest
from mixpeek.api.batches_api import BatchesApi
from mixpeek.api.collection_documents_api import CollectionDocumentsApi
from mixpeek.api.collections_api import CollectionsApi
from mixpeek.api.documents_api import DocumentsApi
from mixpeek.api.features_api import FeaturesApi
from mixpeek.api.namespace_extractors_api import NamespaceExtractorsApi
from mixpeek.api.namespaces_api import NamespacesApi
from mixpeek.api.organization_connections_api import OrganizationConnectionsApi
from mixpeek.exceptions import ApiException
from mixpeek.models.batch_delete_documents_request import BatchDeleteDocumentsRequest
from mixpeek.models.batch_get_documents_request import BatchGetDocumentsRequest
from mixpeek.models.batch_update_documents_request import BatchUpdateDocumentsRequest
from mixpeek.models.bulk_update_documents_request import BulkUpdateDocumentsRequest
from mixpeek.models.create_namespace_request import CreateNamespaceRequest
from mixpeek.models.document_create_request import DocumentCreateRequest
from mixpeek.models.namespace_stats_batch_request import NamespaceStatsBatchRequest
from mixpeek.models.update_document_acl_request import UpdateDocumentACLRequest

from test_sdk import client


def search(sluice, ns, text):
    r = sluice.call("POST", "/v1/features/search", ns=ns, json={"query": {"text": text}, "top_k": 5})
    assert r.status_code == 200, r.text
    return [hit["document_id"] for hit in r.json()["results"]]


@pytest.fixture(scope="module")
def space(sluice):
    ns = NamespacesApi(client(sluice)).create_namespace(CreateNamespaceRequest.from_dict({
        "namespace_name": "documents-space",
        "feature_extractors": [{"feature_extractor_name": "text_extractor", "version": "v1"}],
    }))
    api = client(sluice, ns.namespace_id)
    collection = CollectionsApi(api).list_collections_get().results[0]
    return ns, api, collection.collection_id


def test_a_created_document_is_embedded_counted_found_and_changed(sluice, space):
    ns, api, col = space
    docs = CollectionDocumentsApi(api)
    made = docs.create_document(col, DocumentCreateRequest.from_dict({
        "text": "The lighthouse keeper logged every passing ship in his journal.",
        "metadata": {"shelf": "maritime"},
    }))
    assert made.document_id.startswith("doc_") and made.collection_id == col
    assert docs.count_documents(col).count == 1
    assert search(sluice, ns.namespace_id, "a person recording boats near the coast")[0] == made.document_id

    # A changed text is embedded again: search follows the new words.
    patched = docs.patch_document(col, made.document_id, {"text": "Bees gather nectar from lavender fields in June."})
    assert patched.to_dict()["metadata"] == {"shelf": "maritime"}
    assert search(sluice, ns.namespace_id, "insects collecting pollen from flowers")[0] == made.document_id

    replaced = docs.update_document(col, made.document_id, {"text": "Bees gather nectar.", "rating": 5})
    assert "metadata" not in replaced.to_dict() and replaced.to_dict()["rating"] == 5
    with pytest.raises(ApiException) as refused:
        docs.patch_document(col, made.document_id, {"batch_id": "btch_x"})
    assert refused.value.status == 422

    # By id alone, as DocumentsApi does it.
    by_id = DocumentsApi(api)
    assert by_id.patch_document_ns(made.document_id, {"rating": 4}).to_dict()["rating"] == 4
    assert by_id.update_document_ns(made.document_id, {"text": "Bees.", "rating": 3}).to_dict()["rating"] == 3
    found = by_id.batch_get(BatchGetDocumentsRequest.from_dict({"document_ids": [made.document_id, "doc_missing"]}))
    assert [d.document_id for d in found.documents] == [made.document_id]
    assert found.not_found == ["doc_missing"]

    listed = docs.list_documents_0(col, limit=10)
    assert [d.document_id for d in listed.results] == [made.document_id]

    docs.delete_document(col, made.document_id)
    assert docs.count_documents(col).count == 0
    assert made.document_id not in search(sluice, ns.namespace_id, "bees and flowers")
    with pytest.raises(ApiException) as gone:
        by_id.get_document_ns(made.document_id)
    assert gone.value.status == 404


def test_batch_and_bulk_changes_and_deletes(sluice, space):
    _, api, col = space
    docs = CollectionDocumentsApi(api)
    ids = [
        docs.create_document(col, DocumentCreateRequest.from_dict({"text": f"note {i}", "metadata": {"n": i}})).document_id
        for i in range(4)
    ]
    changed = docs.batch_update(col, BatchUpdateDocumentsRequest.from_dict({"updates": [
        {"document_id": ids[0], "update_data": {"tag": "first"}},
        {"document_id": "doc_missing", "update_data": {"tag": "none"}},
    ]}))
    assert (changed.updated_count, changed.failed_count) == (1, 1)
    bulk = docs.bulk_update(col, BulkUpdateDocumentsRequest.from_dict({
        "filters": {"AND": [{"field": "metadata.n", "operator": "gte", "value": 2}]},
        "update_data": {"tag": "late"},
    }))
    assert bulk.updated_count == 2
    late = BatchDeleteDocumentsRequest.from_dict({"filters": {"AND": [{"field": "tag", "operator": "eq", "value": "late"}]}})
    assert docs.batch_delete(col, late).deleted_count == 2
    assert docs.batch_delete(col, BatchDeleteDocumentsRequest.from_dict({"document_ids": ids[:2]})).deleted_count == 2
    assert docs.count_documents(col).count == 0


def test_an_acl_keeps_a_document_from_other_keys(sluice, space):
    ns, api, col = space
    docs = CollectionDocumentsApi(api)
    made = docs.create_document(col, DocumentCreateRequest.from_dict({"text": "private ledger"}))
    docs.update_document_acl(col, made.document_id, UpdateDocumentACLRequest.from_dict({"read": ["key_nobody"]}))
    r = sluice.call("GET", f"/v1/documents/{made.document_id}", ns=ns.namespace_id)
    assert r.status_code == 404, r.text
    assert made.document_id not in search(sluice, ns.namespace_id, "private ledger")
    docs_list = docs.list_documents_0(col)
    assert made.document_id not in [d.document_id for d in docs_list.results]


def test_namespace_stats_indexes_and_extractors(sluice, space):
    ns, api, col = space
    docs = CollectionDocumentsApi(api)
    docs.create_document(col, DocumentCreateRequest.from_dict({"text": "counted"}))
    namespaces = NamespacesApi(client(sluice))
    stats = namespaces.get_namespace_stats(ns.namespace_id)
    assert stats.collection_count == 1 and stats.document_count >= 1 and stats.document_count_complete
    batch = namespaces.get_namespace_stats_batch(NamespaceStatsBatchRequest.from_dict({"namespace_ids": [ns.namespace_id]}))
    assert batch.stats[ns.namespace_id].document_count == stats.document_count
    ensured = namespaces.ensure_namespace_indexes(ns.namespace_id)
    assert ensured["indexes"][0]["collection_id"] == col
    assert namespaces.ensure_namespace_indexes(ns.namespace_id) == ensured, "idempotent"

    extractors = NamespaceExtractorsApi(client(sluice))
    listed = extractors.list_extractors_namespaces(ns.namespace_id)
    assert [e.feature_extractor_id for e in listed.extractors] == ["text_extractor_v1"]
    one = extractors.get_extractor_namespaces(ns.namespace_id, "text_extractor_v1")
    assert one.feature_extractor_name == "text_extractor"
    with pytest.raises(ApiException) as missing:
        extractors.get_extractor_namespaces(ns.namespace_id, "image_extractor_v1")
    assert missing.value.status == 404

    discovered = FeaturesApi(client(sluice)).discover_features()
    text = next(m for m in discovered.modalities if m["modality"] == "text")
    assert "mixpeek://text_extractor@v1/embedding" in text["search_by"]


def test_the_batch_queue_and_drive_browsing(sluice, space):
    ns, api, _ = space
    queue = BatchesApi(api).get_queue_status_batches()
    assert set(queue) >= {"queued_batches", "processing_batches", "pending_objects"}
    r = sluice.call("POST", "/v1/organizations/connections", json={
        "name": "docs-s3", "provider_type": "s3", "test_before_save": False,
        "provider_config": {"credentials": {"type": "access_key", "access_key_id": "AKIAEXAMPLE", "secret_access_key": "x"}, "region": "us-east-1"},
    })
    if r.status_code != 200:
        pytest.skip(f"a connection could not be made here: {r.text}")
    conn = r.json()["connection_id"]
    with pytest.raises(ApiException) as refused:
        OrganizationConnectionsApi(client(sluice)).list_google_drive_files_organizations_connections(conn)
    assert refused.value.status == 422
    assert "s3" in refused.value.body and "google_drive" in refused.value.body


def test_a_soft_delete_leaves_search_and_the_operator_restores_it(sluice):
    """Soft-deleted objects leave search; `sluice-admin restore-objects`, run beside the
    server on the same data directory, brings them back with their vectors."""
    from conftest import Sluice
    from test_batches import add_objects, make_space, wait_batch

    org = sluice.admin("create-org", "--name", "restorers")
    me = Sluice(sluice.url, sluice.admin("create-key", "--org", org), sluice.data_dir)
    ns, bucket = make_space(me, "restorable", "text_extractor")
    texts = ["the lighthouse keeper lit the lamp at dusk", "a recipe for lemon cake with icing"]
    ids = add_objects(me, ns, bucket, [{"property": "body", "type": "text", "content": t} for t in texts])
    batch = me.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": ids}).json()
    me.call("POST", f"/v1/buckets/{bucket}/batches/{batch['batch_id']}/submit", ns=ns)
    assert wait_batch(me, ns, bucket, batch["batch_id"])["status"] == "COMPLETED"

    def top(query):
        r = me.call("POST", "/v1/features/search", ns=ns, json={"query": {"text": query}, "top_k": 1})
        assert r.status_code == 200, r.text
        return [hit["source_object_id"] for hit in r.json()["results"]]

    def top_soon(query, expected, within=5.0):
        # The server notices another process's vector writes within a second.
        deadline = time.time() + within
        while top(query) != expected and time.time() < deadline:
            time.sleep(0.2)
        return top(query)

    assert top("lighthouse lamp") == [ids[0]]
    gone = me.call("POST", f"/v1/buckets/{bucket}/objects/bulk-soft-delete", ns=ns,
                   json={"object_ids": [ids[0]], "reason": "takedown"}).json()
    assert gone["soft_deleted"] == 1, gone
    assert top("lighthouse lamp") != [ids[0]]
    assert me.call("GET", f"/v1/buckets/{bucket}/objects/{ids[0]}", ns=ns).status_code == 404

    out = json.loads(sluice.admin("restore-objects", "--org", org, "--namespace", ns, "--bucket", bucket, ids[0], "obj_missing"))
    assert (out["objects"], out["documents"]) == (1, 1), out
    assert out["not_restored"] == [{"object_id": "obj_missing", "reason": "no such object"}]
    assert top_soon("lighthouse lamp", [ids[0]]) == [ids[0]]
    assert me.call("GET", f"/v1/buckets/{bucket}/objects/{ids[0]}", ns=ns).status_code == 200
