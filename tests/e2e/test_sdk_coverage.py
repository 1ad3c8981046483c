"""Every method of the `mixpeek` SDK's seventeen ingestion classes, called through its
generated client with its strict response models against one sluice-local (S3 syncs
read from moto). Each must succeed, or be refused with the status listed in REFUSED
for a reason Sluice documents. The count is printed: `N passed, M failed`."""

import inspect
import io
import time

import mixpeek
import pytest
import requests
from mixpeek.exceptions import ApiException
from mixpeek.models import (
    AddObjectsToBatchRequest, BatchConfirmRequest, BatchDeleteDocumentsRequest, BatchGetDocumentsRequest,
    BatchListDocumentsRequest, BatchUpdateDocumentsRequest, BatchUploadRequest, BucketCreateRequest,
    BucketPatchRequest, BucketUpdateRequest, BulkMarkDLQRequest, BulkSoftDeleteRequest, BulkSubmitBatchesRequest,
    BulkUpdateDocumentsRequest, CloneCollectionRequest, CollectionExportRequest, ConfirmUploadRequest,
    CreateBatchRequest, CreateCollectionRequest, CreateNamespaceRequest, CreateObjectRequest,
    CreateObjectsBatchRequest, CreateUploadRequest, DistinctValuesRequest, DocumentAggregationRequest,
    DocumentCreateRequest, FeatureSearchRequest, ImportRequest, ListBatchesRequest, MappingValidationRequest,
    NamespaceListDocumentsRequest, NamespaceStatsBatchRequest, ObjectAggregationRequest, PatchBatchRequest,
    PatchNamespaceRequest, PatchObjectRequest, RetryBatchRequest, SchemaInferenceRequest,
    StorageConnectionCreateRequest, StorageConnectionUpdateRequest, SubmitBatchRequest, SyncCreateRequest,
    SyncUpdateRequest, TriggerCollectionRequest, UpdateDocumentACLRequest, UpdateNamespaceRequest,
    UpdateObjectRequest, WebhookInput,
)
from mixpeek.models.body_heal_tier_v1_buckets_bucket_identifier_batches_batch_id_tiers_tier_num_heal_post import (
    BodyHealTierV1BucketsBucketIdentifierBatchesBatchIdTiersTierNumHealPost as HealBody,
)
from PIL import Image

from conftest import Sluice, start
from test_batches import wait_batch
from test_syncs import MOTO, fresh_bucket, s3  # noqa: F401 (fixture)

CLASSES = [
    "BatchesApi", "BucketBatchesApi", "BucketObjectsApi", "BucketSyncsApi", "BucketUploadsApi", "BucketsApi",
    "CollectionDocumentsApi", "CollectionsApi", "DocumentsApi", "FeatureExtractorsApi", "FeatureSearchApi",
    "FeaturesApi", "NamespaceExtractorsApi", "NamespacesApi", "OrganizationConnectionsApi", "TasksApi", "WebhooksApi",
]

# Refused by design, with the status the answer carries (the body says why).
REFUSED = {
    # Sluice runs no Ray jobs: a batch's work is queue messages.
    "BucketBatchesApi.cancel_job_buckets_batches_batch_id_tiers_num_ray": 422,
    # Files and folders are browsed on Google Drive connections, which Sluice has not.
    "OrganizationConnectionsApi.list_google_drive_files_organizations_connections": 422,
    "OrganizationConnectionsApi.list_google_drive_folders_organizations_connections": 422,
}


def sdk_methods():
    for c in CLASSES:
        for name, _ in inspect.getmembers(getattr(mixpeek, c), inspect.isfunction):
            if not name.startswith("_") and not name.endswith(("_with_http_info", "_without_preload_content")):
                yield f"{c}.{name}"


class World:
    """What the calls act on, made as they go."""

    def __init__(self, sluice):
        self.sluice = sluice
        config = mixpeek.Configuration(host=sluice.url, access_token=sluice.api_key)
        self.org_client = mixpeek.ApiClient(config)
        self.ns_client = None

    def api(self, cls):
        client = self.org_client if cls in ("NamespacesApi", "NamespaceExtractorsApi", "OrganizationConnectionsApi",
                                            "WebhooksApi", "FeatureExtractorsApi", "FeaturesApi") else self.ns_client
        return getattr(mixpeek, cls)(client)

    def in_namespace(self, ns):
        config = mixpeek.Configuration(host=self.sluice.url, access_token=self.sluice.api_key)
        config.api_key["NamespaceHeader"] = ns
        self.ns_client = mixpeek.ApiClient(config)


def jpeg():
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(buf, "JPEG")
    return buf.getvalue()


def put(url, body, content_type):
    r = requests.put(url, data=body, headers={"Content-Type": content_type}, timeout=10)
    assert r.status_code == 200, r.text


def calls(w):
    """(Class.method, call) in an order where each finds what it needs."""
    s = w
    yield "NamespacesApi.create_namespace", lambda a: setattr(s, "ns", a.create_namespace(CreateNamespaceRequest.from_dict({
        "namespace_name": "coverage", "feature_extractors": [{"feature_extractor_name": "text_extractor", "version": "v1"}]})).namespace_id)
    yield "NamespacesApi.get_namespace", lambda a: (a.get_namespace(s.ns), w.in_namespace(s.ns))
    yield "NamespacesApi.list_namespaces", lambda a: a.list_namespaces()
    yield "NamespacesApi.list_namespaces_get", lambda a: a.list_namespaces_get()
    yield "NamespacesApi.patch_namespace", lambda a: a.patch_namespace(s.ns, PatchNamespaceRequest.from_dict({"description": "covered"}))
    yield "NamespacesApi.update_namespace", lambda a: a.update_namespace(s.ns, UpdateNamespaceRequest.from_dict({"namespace_name": "coverage"}))
    yield "NamespaceExtractorsApi.list_extractors_namespaces", lambda a: a.list_extractors_namespaces(s.ns)
    yield "NamespaceExtractorsApi.get_extractor_namespaces", lambda a: a.get_extractor_namespaces(s.ns, "text_extractor_v1")
    yield "FeatureExtractorsApi.list_feature_extractors", lambda a: a.list_feature_extractors()
    yield "FeatureExtractorsApi.get_feature_extractor_by", lambda a: a.get_feature_extractor_by("text_extractor_v1")
    yield "FeaturesApi.discover_features", lambda a: a.discover_features()

    yield "BucketsApi.create_bucket", lambda a: setattr(s, "bucket", a.create_bucket(BucketCreateRequest.from_dict({
        "bucket_name": "items", "bucket_schema": {"properties": {"body": {"type": "text"}, "cover": {"type": "image"}, "n": {"type": "integer"}}}})).bucket_id)
    yield "BucketsApi.get_bucket", lambda a: a.get_bucket(s.bucket)
    yield "BucketsApi.list_buckets", lambda a: a.list_buckets()
    yield "BucketsApi.list_buckets_get", lambda a: a.list_buckets_get()
    yield "BucketsApi.patch_bucket", lambda a: a.patch_bucket(s.bucket, BucketPatchRequest.from_dict({"description": "patched"}))
    yield "BucketsApi.update_bucket", lambda a: a.update_bucket(s.bucket, BucketUpdateRequest.from_dict({"description": "updated"}))

    yield "BucketObjectsApi.create_object_buckets", lambda a: setattr(s, "obj", a.create_object_buckets(s.bucket, CreateObjectRequest.from_dict({
        "blobs": [{"property": "body", "type": "text", "data": "the first object"}], "metadata": {"n": 1}})).object_id)
    yield "BucketObjectsApi.create_objects_batch_buckets", lambda a: setattr(s, "objs", [o.object_id for o in a.create_objects_batch_buckets(
        s.bucket, CreateObjectsBatchRequest.from_dict({"objects": [
            {"blobs": [{"property": "body", "type": "text", "data": f"object {i}"}], "metadata": {"n": i}} for i in range(2, 6)]})).succeeded])
    yield "BucketObjectsApi.get_object_buckets", lambda a: a.get_object_buckets(s.bucket, s.obj)
    yield "BucketObjectsApi.list_objects_buckets", lambda a: a.list_objects_buckets(s.bucket)
    yield "BucketObjectsApi.list_objects_get_buckets", lambda a: a.list_objects_get_buckets(s.bucket)
    yield "BucketObjectsApi.patch_object_buckets", lambda a: a.patch_object_buckets(s.bucket, s.obj, PatchObjectRequest.from_dict({"metadata": {"n": 10}}))
    yield "BucketObjectsApi.update_object_buckets", lambda a: a.update_object_buckets(s.bucket, s.objs[-1], UpdateObjectRequest.from_dict({
        "blobs": [{"property": "body", "type": "text", "data": "replaced"}], "metadata": {"n": 5}}))
    yield "BucketObjectsApi.aggregate_objects_buckets", lambda a: a.aggregate_objects_buckets(s.bucket, ObjectAggregationRequest.from_dict({
        "group_by": [{"field": "status"}], "aggregations": [{"function": "count", "alias": "n"}]}))

    def upload(a):
        up = a.create_upload_buckets(s.bucket, CreateUploadRequest.from_dict({"filename": "cover.jpg", "content_type": "image/jpeg"}))
        put(up.presigned_url, jpeg(), "image/jpeg")
        s.upload = up.upload_id
    yield "BucketUploadsApi.create_upload_buckets", upload
    yield "BucketUploadsApi.confirm_upload_buckets", lambda a: a.confirm_upload_buckets(s.bucket, s.upload, confirm_upload_request=ConfirmUploadRequest.from_dict({}))
    yield "BucketUploadsApi.get_upload_buckets", lambda a: a.get_upload_buckets(s.bucket, s.upload)
    yield "BucketUploadsApi.list_uploads_buckets", lambda a: a.list_uploads_buckets(s.bucket)

    def uploads(a):
        made = a.create_uploads_batch_buckets(s.bucket, BatchUploadRequest.from_dict({"uploads": [
            {"filename": f"c{i}.jpg", "content_type": "image/jpeg"} for i in range(2)]}))
        for u in made.uploads:
            put(u.presigned_url, jpeg(), "image/jpeg")
        s.uploads = [u.upload_id for u in made.uploads]
    yield "BucketUploadsApi.create_uploads_batch_buckets", uploads
    yield "BucketUploadsApi.confirm_uploads_batch_buckets", lambda a: a.confirm_uploads_batch_buckets(s.bucket, BatchConfirmRequest.from_dict({
        "confirmations": [{"upload_id": u} for u in s.uploads]}))
    # A pending upload (one whose object exists is deleted through its object).
    yield "BucketUploadsApi.delete_upload_buckets", lambda a: a.delete_upload_buckets(s.bucket, a.create_upload_buckets(
        s.bucket, CreateUploadRequest.from_dict({"filename": "later.jpg", "content_type": "image/jpeg"})).upload_id)

    yield "BucketBatchesApi.create_batch_buckets_batches", lambda a: setattr(s, "batch", a.create_batch_buckets_batches(
        s.bucket, CreateBatchRequest.from_dict({"object_ids": [s.obj]})).batch_id)
    yield "BucketBatchesApi.add_objects_to_batch_buckets_batches", lambda a: a.add_objects_to_batch_buckets_batches(
        s.bucket, s.batch, AddObjectsToBatchRequest.from_dict({"object_ids": s.objs[:2]}))
    yield "BucketBatchesApi.patch_batch_buckets_batches", lambda a: a.patch_batch_buckets_batches(s.bucket, s.batch, PatchBatchRequest.from_dict({"metadata": {"tags": ["cov"]}}))
    yield "BucketBatchesApi.estimate_batch_cost_buckets_batches", lambda a: a.estimate_batch_cost_buckets_batches(s.bucket, s.batch)
    yield "BucketBatchesApi.get_batch_buckets_batches", lambda a: a.get_batch_buckets_batches(s.bucket, s.batch)
    yield "BucketBatchesApi.list_batches_buckets", lambda a: a.list_batches_buckets(s.bucket, ListBatchesRequest.from_dict({}))

    def submit(a):
        a.submit_batch_buckets_batches(s.bucket, s.batch, submit_batch_request=SubmitBatchRequest.from_dict({}))
        assert wait_batch(s.sluice, s.ns, s.bucket, s.batch)["status"] == "COMPLETED"
    yield "BucketBatchesApi.submit_batch_buckets_batches", submit
    yield "BatchesApi.get_batch_by_id_batches", lambda a: a.get_batch_by_id_batches(s.batch)
    yield "BatchesApi.list_all_batches", lambda a: a.list_all_batches(ListBatchesRequest.from_dict({}))
    yield "BatchesApi.get_queue_status_batches", lambda a: a.get_queue_status_batches()
    yield "BucketBatchesApi.get_batch_logs_buckets_batches", lambda a: a.get_batch_logs_buckets_batches(s.bucket, s.batch)
    yield "BucketBatchesApi.get_batch_audit_buckets_batches", lambda a: a.get_batch_audit_buckets_batches(s.bucket, s.batch)
    yield "BucketBatchesApi.diagnose_batch_buckets_batches", lambda a: a.diagnose_batch_buckets_batches(s.bucket, s.batch)
    yield "BucketBatchesApi.get_failed_documents_buckets_batches_batch", lambda a: a.get_failed_documents_buckets_batches_batch(s.bucket, s.batch)
    yield "BucketBatchesApi.heal_tier_buckets_batches_batch_id_num", lambda a: a.heal_tier_buckets_batches_batch_id_num(
        s.bucket, s.batch, 0, HealBody.from_dict({"action": "detect_stuck"}))
    yield "BucketBatchesApi.cancel_job_buckets_batches_batch_id_tiers_num_ray", lambda a: a.cancel_job_buckets_batches_batch_id_tiers_num_ray(
        s.bucket, s.batch, 0, "raysubmit_1")

    def failing_batch(a):
        # An object whose blob cannot be fetched fails its batch: then retry has work.
        bad = w.api("BucketObjectsApi").create_object_buckets(s.bucket, CreateObjectRequest.from_dict({
            "blobs": [{"property": "cover", "type": "image", "data": "https://127.0.0.1:9/missing.jpg"}]})).object_id
        s.failing = a.create_batch_buckets_batches(s.bucket, CreateBatchRequest.from_dict({"object_ids": [bad]})).batch_id
        a.submit_batch_buckets_batches(s.bucket, s.failing, submit_batch_request=SubmitBatchRequest.from_dict({}))
        assert wait_batch(s.sluice, s.ns, s.bucket, s.failing)["status"] == "FAILED"
        a.retry_batch_buckets_batches(s.bucket, s.failing, RetryBatchRequest.from_dict({}))
        wait_batch(s.sluice, s.ns, s.bucket, s.failing)
    yield "BucketBatchesApi.retry_batch_buckets_batches", failing_batch
    yield "BucketBatchesApi.retry_tier_buckets_batches_batch_id_num", lambda a: (
        a.retry_tier_buckets_batches_batch_id_num(s.bucket, s.failing, 0), wait_batch(s.sluice, s.ns, s.bucket, s.failing))
    yield "BucketBatchesApi.resubmit_batch_buckets_batches", lambda a: (
        a.resubmit_batch_buckets_batches(s.bucket, s.batch), wait_batch(s.sluice, s.ns, s.bucket, s.batch))
    yield "BucketBatchesApi.submit_all_drafts_buckets_batches", lambda a: (
        a.create_batch_buckets_batches(s.bucket, CreateBatchRequest.from_dict({"object_ids": [s.objs[2]]})),
        a.submit_all_drafts_buckets_batches(s.bucket))
    yield "BucketBatchesApi.bulk_submit_batches_buckets", lambda a: a.bulk_submit_batches_buckets(
        s.bucket, BulkSubmitBatchesRequest.from_dict({"chunk_size": 2, "max_objects": 4}))

    def cancel_paths(a):
        s.draft = a.create_batch_buckets_batches(s.bucket, CreateBatchRequest.from_dict({"object_ids": [s.obj]})).batch_id
        a.cancel_batch_buckets_batches(s.bucket, s.draft)
    yield "BucketBatchesApi.cancel_batch_buckets_batches", cancel_paths
    yield "BucketBatchesApi.delete_batch_buckets_batches", lambda a: a.delete_batch_buckets_batches(s.bucket, s.draft)
    yield "BucketBatchesApi.cancel_tier_buckets_batches_batch_id_num", lambda a: a.cancel_tier_buckets_batches_batch_id_num(
        s.bucket, a.create_batch_buckets_batches(s.bucket, CreateBatchRequest.from_dict({"object_ids": [s.obj]})).batch_id, 0)
    yield "BatchesApi.cancel_batch_by_id_batches", lambda a: a.cancel_batch_by_id_batches(
        w.api("BucketBatchesApi").create_batch_buckets_batches(s.bucket, CreateBatchRequest.from_dict({"object_ids": [s.obj]})).batch_id)

    yield "CollectionsApi.list_collections", lambda a: setattr(s, "col", a.list_collections().results[0].collection_id)
    yield "CollectionsApi.list_collections_get", lambda a: a.list_collections_get()
    yield "CollectionsApi.get_collection", lambda a: a.get_collection(s.col)
    yield "CollectionsApi.describe_collection_features", lambda a: a.describe_collection_features(s.col)
    yield "CollectionsApi.update_collection", lambda a: a.update_collection(s.col, {"description": "covered"})
    yield "CollectionsApi.create_collection", lambda a: setattr(s, "col2", a.create_collection(CreateCollectionRequest.from_dict({
        "collection_name": "second", "source": {"type": "bucket", "bucket_ids": [s.bucket]},
        "feature_extractor": {"feature_extractor_name": "text_extractor", "version": "v1"}})).collection_id)
    yield "CollectionsApi.clone_collection", lambda a: setattr(s, "col3", a.clone_collection(s.col, CloneCollectionRequest.from_dict({
        "collection_name": "third"})).collection.collection_id)
    yield "CollectionsApi.trigger_collection", lambda a: wait_batch(s.sluice, s.ns, s.bucket, a.trigger_collection(
        s.col3, TriggerCollectionRequest.from_dict({"object_ids": [s.obj]})).batch_id)
    yield "CollectionsApi.reconcile_collection_reconciliation", lambda a: a.reconcile_collection_reconciliation(s.col)
    yield "CollectionsApi.export_collection", lambda a: a.export_collection(s.col, CollectionExportRequest.from_dict({}))
    yield "CollectionsApi.infer_import_schema", lambda a: a.infer_import_schema(SchemaInferenceRequest.from_dict({"sample_rows": [{"body": "x", "n": 1}]}))
    mapping = {"fields": [{"source_field": "body", "target": {"kind": "metadata", "path": "text"}}]}
    yield "CollectionsApi.validate_import_mapping", lambda a: a.validate_import_mapping(MappingValidationRequest.from_dict({"mapping": mapping}))
    yield "CollectionsApi.import_collection", lambda a: a.import_collection(s.col, ImportRequest.from_dict({
        "mapping": mapping, "rows": [{"body": "an imported row"}]}))

    yield "CollectionDocumentsApi.create_document", lambda a: setattr(s, "doc", a.create_document(s.col, DocumentCreateRequest.from_dict({
        "text": "a created document", "metadata": {"kind": "made"}})).document_id)
    yield "CollectionDocumentsApi.get_document", lambda a: a.get_document(s.col, s.doc)
    yield "CollectionDocumentsApi.list_documents", lambda a: a.list_documents(s.col)
    yield "CollectionDocumentsApi.list_documents_0", lambda a: a.list_documents_0(s.col)
    yield "CollectionDocumentsApi.count_documents", lambda a: a.count_documents(s.col)
    yield "CollectionDocumentsApi.aggregate_documents", lambda a: a.aggregate_documents(s.col, DocumentAggregationRequest.from_dict({
        "group_by": [{"field": "metadata.kind"}], "aggregations": [{"function": "count", "alias": "n"}]}))
    yield "CollectionDocumentsApi.distinct_document_values", lambda a: a.distinct_document_values(s.col, DistinctValuesRequest.from_dict({"field": "metadata.kind"}))
    yield "CollectionDocumentsApi.get_document_ancestors", lambda a: a.get_document_ancestors(s.col, s.doc)
    yield "CollectionDocumentsApi.get_document_descendants", lambda a: a.get_document_descendants(s.col, s.doc)
    yield "CollectionDocumentsApi.get_document_diagnostics", lambda a: a.get_document_diagnostics(s.col, s.doc)
    yield "CollectionDocumentsApi.download_document_media", lambda a: a.download_document_media(s.col, extracted_document(w))
    yield "CollectionDocumentsApi.validate_document_schema", lambda a: a.validate_document_schema(s.col, {"text": "ok"})
    yield "CollectionDocumentsApi.patch_document", lambda a: a.patch_document(s.col, s.doc, {"metadata": {"kind": "patched"}})
    yield "CollectionDocumentsApi.update_document", lambda a: a.update_document(s.col, s.doc, {"text": "replaced text"})
    yield "CollectionDocumentsApi.update_document_acl", lambda a: a.update_document_acl(s.col, s.doc, UpdateDocumentACLRequest.from_dict({"public": True}))
    yield "CollectionDocumentsApi.batch_update", lambda a: a.batch_update(s.col, BatchUpdateDocumentsRequest.from_dict({
        "updates": [{"document_id": s.doc, "update_data": {"tag": "b"}}]}))
    yield "CollectionDocumentsApi.bulk_update", lambda a: a.bulk_update(s.col, BulkUpdateDocumentsRequest.from_dict({
        "filters": {"AND": [{"field": "document_id", "operator": "eq", "value": s.doc}]}, "update_data": {"tag": "c"}}))
    yield "DocumentsApi.get_document_ns", lambda a: a.get_document_ns(s.doc)
    yield "DocumentsApi.patch_document_ns", lambda a: a.patch_document_ns(s.doc, {"tag": "d"})
    yield "DocumentsApi.update_document_ns", lambda a: a.update_document_ns(s.doc, {"text": "by id"})
    yield "DocumentsApi.batch_get", lambda a: a.batch_get(BatchGetDocumentsRequest.from_dict({"document_ids": [s.doc]}))
    yield "DocumentsApi.list_documents_ns", lambda a: a.list_documents_ns(namespace_list_documents_request=NamespaceListDocumentsRequest.from_dict({}))
    yield "DocumentsApi.list_documents_batch", lambda a: a.list_documents_batch(BatchListDocumentsRequest.from_dict({
        "queries": [{"key": "one", "request": {"collection_ids": [s.col]}}]}))
    yield "FeatureSearchApi.feature_search", lambda a: a.feature_search(FeatureSearchRequest.from_dict({"query": {"text": "created document"}}))
    yield "CollectionDocumentsApi.delete_document", lambda a: a.delete_document(s.col, s.doc)
    yield "CollectionDocumentsApi.batch_delete", lambda a: a.batch_delete(s.col, BatchDeleteDocumentsRequest.from_dict({
        "filters": {"AND": [{"field": "text", "operator": "eq", "value": "an imported row"}]}}))
    yield "BucketBatchesApi.delete_batch_documents_buckets_batches", lambda a: a.delete_batch_documents_buckets_batches(s.bucket, s.batch)

    yield "NamespacesApi.get_namespace_stats", lambda a: a.get_namespace_stats(s.ns)
    yield "NamespacesApi.get_namespace_stats_batch", lambda a: a.get_namespace_stats_batch(NamespaceStatsBatchRequest.from_dict({"namespace_ids": [s.ns]}))
    yield "NamespacesApi.ensure_namespace_indexes", lambda a: a.ensure_namespace_indexes(s.ns)

    yield "OrganizationConnectionsApi.create_storage_connection_organizations", lambda a: setattr(s, "conn", a.create_storage_connection_organizations(
        StorageConnectionCreateRequest.from_dict({"name": "coverage-s3", "provider_type": "s3", "provider_config": {
            "region": "us-east-1", "credentials": {"type": "access_key", "access_key_id": "test", "secret_access_key": "test"}}})).connection_id)
    yield "OrganizationConnectionsApi.get_storage_connection_organizations", lambda a: a.get_storage_connection_organizations(s.conn)
    yield "OrganizationConnectionsApi.list_storage_connections_organizations", lambda a: a.list_storage_connections_organizations()
    yield "OrganizationConnectionsApi.update_storage_connection_organizations", lambda a: a.update_storage_connection_organizations(
        s.conn, StorageConnectionUpdateRequest.from_dict({"description": "covered"}))
    yield "OrganizationConnectionsApi.test_storage_connection_organizations", lambda a: a.test_storage_connection_organizations(s.conn)
    yield "OrganizationConnectionsApi.list_google_drive_files_organizations_connections", lambda a: a.list_google_drive_files_organizations_connections(s.conn)
    yield "OrganizationConnectionsApi.list_google_drive_folders_organizations_connections", lambda a: a.list_google_drive_folders_organizations_connections(s.conn)

    yield "BucketSyncsApi.create_sync_configuration_buckets", lambda a: setattr(s, "sync", a.create_sync_configuration_buckets(
        s.bucket, SyncCreateRequest.from_dict({"connection_id": s.conn, "source_path": "sluice-coverage/"})).sync_config_id)
    yield "BucketSyncsApi.get_sync_configuration_buckets_id_config", lambda a: a.get_sync_configuration_buckets_id_config(s.bucket, s.sync)
    yield "BucketSyncsApi.list_sync_configurations_buckets", lambda a: a.list_sync_configurations_buckets(s.bucket)
    yield "BucketSyncsApi.update_sync_configuration_buckets_id_config", lambda a: a.update_sync_configuration_buckets_id_config(
        s.bucket, s.sync, SyncUpdateRequest.from_dict({"description": "covered"}))
    yield "BucketSyncsApi.pause_sync_configuration_buckets_id_config", lambda a: a.pause_sync_configuration_buckets_id_config(s.bucket, s.sync)
    yield "BucketSyncsApi.resume_sync_configuration_buckets_id_config", lambda a: a.resume_sync_configuration_buckets_id_config(s.bucket, s.sync)

    def trigger(a):
        s.job = a.trigger_sync_configuration_buckets_id_config(s.bucket, s.sync)["sync_job_id"]
        deadline = time.time() + 60
        while a.get_sync_job_buckets_id_config(s.bucket, s.sync, s.job).status not in ("completed", "failed"):
            assert time.time() < deadline, "the sync run did not end"
            time.sleep(0.3)
    yield "BucketSyncsApi.trigger_sync_configuration_buckets_id_config", trigger
    yield "BucketSyncsApi.get_sync_job_buckets_id_config", lambda a: a.get_sync_job_buckets_id_config(s.bucket, s.sync, s.job)
    yield "BucketSyncsApi.list_sync_jobs_buckets_id_config", lambda a: a.list_sync_jobs_buckets_id_config(s.bucket, s.sync)
    yield "BucketSyncsApi.get_sync_metrics_buckets_id_config", lambda a: a.get_sync_metrics_buckets_id_config(s.bucket, s.sync)
    yield "BucketSyncsApi.list_dlq_entries_buckets_id_syncs_config", lambda a: a.list_dlq_entries_buckets_id_syncs_config(s.bucket, s.sync)
    yield "BucketSyncsApi.requeue_dlq_entries_buckets_id_syncs_config", lambda a: a.requeue_dlq_entries_buckets_id_syncs_config(s.bucket, s.sync)
    yield "BucketSyncsApi.bulk_mark_dlq_permanently_failed_buckets_id_syncs_config", lambda a: a.bulk_mark_dlq_permanently_failed_buckets_id_syncs_config(
        s.bucket, s.sync, BulkMarkDLQRequest.from_dict({"error_types": ["NotFoundError"]}))
    yield "BucketSyncsApi.force_unlock_sync_configuration_buckets_id_config", lambda a: a.force_unlock_sync_configuration_buckets_id_config(s.bucket, s.sync)
    yield "BucketSyncsApi.delete_sync_configuration_buckets_id_config", lambda a: a.delete_sync_configuration_buckets_id_config(s.bucket, s.sync)
    yield "OrganizationConnectionsApi.delete_storage_connection_organizations", lambda a: a.delete_storage_connection_organizations(s.conn)

    yield "WebhooksApi.create_webhook_organizations", lambda a: setattr(s, "hook", a.create_webhook_organizations(WebhookInput.from_dict({
        "webhook_name": "coverage", "event_types": ["document.created"], "is_active": False,
        "channels": [{"channel": "webhook", "configs": {"url": "https://example.com/hook"}}]})).webhook_id)
    yield "WebhooksApi.get_webhook_organizations", lambda a: a.get_webhook_organizations(s.hook)
    yield "WebhooksApi.list_webhooks_organizations", lambda a: a.list_webhooks_organizations()
    yield "WebhooksApi.update_webhook_organizations", lambda a: a.update_webhook_organizations(s.hook, WebhookInput.from_dict({
        "webhook_name": "coverage", "event_types": ["document.updated"], "is_active": False,
        "channels": [{"channel": "webhook", "configs": {"url": "https://example.com/hook"}}]}))
    yield "WebhooksApi.delete_webhook_organizations", lambda a: a.delete_webhook_organizations(s.hook)

    yield "TasksApi.list_tasks", lambda a: setattr(s, "task", a.list_tasks().results[0].task_id)
    yield "TasksApi.get_task", lambda a: a.get_task(s.task)
    yield "TasksApi.kill_task", lambda a: a.kill_task(s.task)

    def soft_delete(a):
        done = a.bulk_soft_delete_objects_buckets(s.bucket, BulkSoftDeleteRequest.from_dict({"object_ids": [s.obj, "obj_missing"], "reason": "coverage"}))
        assert (done.soft_deleted, done.requested) == (1, 2), done
        gone = s.sluice.call("GET", f"/v1/buckets/{s.bucket}/objects/{s.obj}", ns=s.ns)
        assert gone.status_code == 404, gone.text
    yield "BucketObjectsApi.bulk_soft_delete_objects_buckets", soft_delete
    yield "BucketObjectsApi.delete_object_buckets", lambda a: a.delete_object_buckets(s.bucket, s.objs[1])
    yield "CollectionsApi.delete_collection", lambda a: a.delete_collection(s.col2)
    yield "BucketsApi.delete_bucket", lambda a: a.delete_bucket(s.bucket)
    yield "NamespacesApi.delete_namespace", lambda a: a.delete_namespace(s.ns)


def extracted_document(w):
    """A document a batch extracted (its media is the object's stored text)."""
    r = w.sluice.call("GET", f"/v1/buckets/{w.bucket}/objects/{w.obj}/documents", ns=w.ns)
    return next(d["document_id"] for d in r.json()["results"] if d["collection_id"] == w.col)


@pytest.fixture(scope="module")
def covered(tmp_path_factory, s3):  # noqa: F811
    fresh_bucket(s3, "sluice-coverage")
    for i in range(2):
        s3.put_object(Bucket="sluice-coverage", Key=f"note-{i}.txt", Body=f"synced note {i}".encode())
    data = tmp_path_factory.mktemp("coverage-data")
    proc, url, key = start(data, {"AWS_ENDPOINT_URL_S3": MOTO, "SLUICE_SYNC_POLL_SECS": "3600"})
    try:
        yield Sluice(url, key, data)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_every_ingestion_method_of_the_sdk(covered):
    w = World(covered)
    outcomes = {}
    for method, call in calls(w):
        cls, _ = method.split(".")
        try:
            call(w.api(cls))
            outcomes[method] = "ok" if method not in REFUSED else f"succeeded, but {REFUSED[method]} was expected"
        except ApiException as e:
            want = REFUSED.get(method)
            outcomes[method] = "ok" if e.status == want else f"{e.status}: {(e.body or '')[:300]}"
        except Exception as e:  # a model that refuses the answer, a broken precondition
            outcomes[method] = f"{type(e).__name__}: {str(e)[:300]}"
    every = set(sdk_methods())
    for missing in sorted(every - outcomes.keys()):
        outcomes[missing] = "not called"
    assert len(every) == 136, len(every)
    failed = {m: why for m, why in outcomes.items() if why != "ok"}
    print(f"\nSDK ingestion methods: {len(every) - len(failed)} passed, {len(failed)} failed")
    for m, why in sorted(failed.items()):
        print(f"  {m}: {why}")
    assert not failed, failed
