"""The `mixpeek` Python SDK as a real client: only its base URL changes."""

import mixpeek
from mixpeek import Mixpeek
from mixpeek.api.bucket_objects_api import BucketObjectsApi
from mixpeek.api.buckets_api import BucketsApi
from mixpeek.api.namespaces_api import NamespacesApi
from mixpeek.models.bucket_create_request import BucketCreateRequest
from mixpeek.models.create_namespace_request import CreateNamespaceRequest
from mixpeek.models.create_object_request import CreateObjectRequest
from mixpeek.models.create_objects_batch_request import CreateObjectsBatchRequest
from mixpeek.models.list_objects_request import ListObjectsRequest


def client(sluice, namespace=None):
    config = mixpeek.Configuration(host=sluice.url, access_token=sluice.api_key)
    if namespace:
        config.api_key["NamespaceHeader"] = namespace
    return mixpeek.ApiClient(config)


def test_generated_api_flow(sluice):
    ns = NamespacesApi(client(sluice)).create_namespace(
        CreateNamespaceRequest.from_dict({
            "namespace_name": "sdk-space",
            "feature_extractors": [{"feature_extractor_name": "text_extractor", "version": "v1"}],
        })
    )
    assert ns.namespace_id.startswith("ns_")
    assert ns.feature_extractors[0].feature_extractor_id == "text_extractor_v1"
    api = client(sluice, ns.namespace_id)

    bucket = BucketsApi(api).create_bucket(
        BucketCreateRequest.from_dict({
            "bucket_name": "sdk-bucket",
            "bucket_schema": {"properties": {
                "body": {"type": "text", "required": True},
                "cover": {"type": "image"},
                "year": {"type": "integer"},
            }},
        })
    )
    assert bucket.bucket_id.startswith("bkt_")
    assert bucket.object_count == 0

    objects = BucketObjectsApi(api)
    created = objects.create_object_buckets(
        bucket.bucket_id,
        CreateObjectRequest.from_dict({
            "key_prefix": "/sdk",
            "blobs": [
                {"property": "body", "type": "text", "data": "hello from the SDK"},
                {"property": "cover", "type": "image", "data": "https://example.com/cover.png"},
            ],
            "metadata": {"year": 2024},
        }),
    )
    assert created.object_id.startswith("obj_")
    assert {b.var_property for b in created.blobs} == {"body", "cover"}

    batch = objects.create_objects_batch_buckets(
        bucket.bucket_id,
        CreateObjectsBatchRequest.from_dict({"objects": [
            {"blobs": [{"property": "body", "type": "text", "data": f"item {i}"}], "metadata": {"year": 2000 + i}}
            for i in range(5)
        ] + [{"blobs": [{"property": "body", "type": "text", "data": "bad"}], "metadata": {"year": "nope"}}]}),
    )
    assert batch.succeeded_count == 5
    assert batch.failed_count == 1
    assert batch.failed[0].object_index == 5
    assert "metadata.year" in batch.failed[0].error

    page = objects.list_objects_buckets(bucket.bucket_id, limit=4, list_objects_request=ListObjectsRequest.from_dict({}))
    assert len(page.results) == 4
    rest = objects.list_objects_buckets(bucket.bucket_id, limit=4, cursor=page.pagination.next_cursor)
    assert len(rest.results) == 2
    assert rest.pagination.next_cursor is None

    got = objects.get_object_buckets(bucket.bucket_id, created.object_id)
    assert got.key_prefix == "/sdk"

    buckets = BucketsApi(api).list_buckets()
    assert buckets.total_count == 1
    assert BucketsApi(api).get_bucket("sdk-bucket").object_count == 6

    spaces = NamespacesApi(client(sluice)).list_namespaces()
    assert "sdk-space" in [n.namespace_name for n in spaces.results]


def test_high_level_client(sluice):
    mp = Mixpeek(sluice.api_key, base_url=sluice.url + "/v1")
    ns = mp._request("POST", "/namespaces", body={"namespace_name": "hl-space"})
    mp = Mixpeek(sluice.api_key, namespace=ns["namespace_id"], base_url=sluice.url + "/v1")
    bucket = mp.buckets.create(name="hl-bucket", bucket_schema={"properties": {"photo": {"type": "image"}}})
    assert bucket.bucket_name == "hl-bucket"
    # upload() reads the bucket schema to pick the blob property, then registers the object.
    obj = mp.buckets.upload(bucket.bucket_id, url="https://example.com/a.jpg")
    assert obj.blobs[0].property == "photo"
    page = mp.buckets.list_objects(bucket.bucket_id)
    assert [o.object_id for o in page.results] == [obj.object_id]
    assert mp.buckets.get(bucket.bucket_id).object_count == 1


def test_extractor_catalogue_is_public(sluice):
    """Mixpeek's spec has no security on the extractor routes: the SDK sends no key."""
    from mixpeek.api.feature_extractors_api import FeatureExtractorsApi
    anonymous = mixpeek.ApiClient(mixpeek.Configuration(host=sluice.url))
    api = FeatureExtractorsApi(anonymous)
    listed = api.list_feature_extractors()
    ids = [e.feature_extractor_id for e in listed]
    assert "text_extractor_v1" in ids, ids
    one = api.get_feature_extractor_by("text_extractor_v1")
    assert one.feature_extractor_id == "text_extractor_v1"


def test_put_bucket_takes_the_sdks_all_optional_body(sluice):
    from mixpeek.models.bucket_update_request import BucketUpdateRequest
    ns = NamespacesApi(client(sluice)).create_namespace(
        CreateNamespaceRequest.from_dict({"namespace_name": "sdk-put-bucket"}))
    api = BucketsApi(client(sluice, ns.namespace_id))
    bucket = api.create_bucket(BucketCreateRequest.from_dict({
        "bucket_name": "put-me", "bucket_schema": {"properties": {"body": {"type": "text"}}}}))
    updated = api.update_bucket(bucket.bucket_id, BucketUpdateRequest.from_dict({"description": "now described"}))
    assert (updated.bucket_name, updated.description) == ("put-me", "now described")
    renamed = api.update_bucket(bucket.bucket_id, BucketUpdateRequest.from_dict({"bucket_name": "put-renamed"}))
    assert renamed.bucket_name == "put-renamed" and renamed.description == "now described"
