"""The non-S3 providers end to end through sluice-local and the mixpeek SDK, each on its
emulator or fake: the SDK's typed connection, a sync, a run that registers and processes
every file into documents, then 4 modified, 3 deleted and 6 added counted exactly, an
unchanged re-sync, the quickstart's inline body, and a run killed with SIGKILL that
resumes without a duplicate object."""

import json
import os
import time

import mixpeek
import pytest
import requests
from mixpeek.api.bucket_syncs_api import BucketSyncsApi
from mixpeek.api.organization_connections_api import OrganizationConnectionsApi
from mixpeek.models.azure_blob_config import AzureBlobConfig
from mixpeek.models.box_config import BoxConfig
from mixpeek.models.gcs_config import GCSConfig
from mixpeek.models.mux_config import MuxConfig
from mixpeek.models.storage_connection_create_request import StorageConnectionCreateRequest
from mixpeek.models.storage_connection_model import StorageConnectionModel
from mixpeek.models.sync_create_request import SyncCreateRequest

from conftest import Sluice, start
from providers import AzureStore, BoxStore, GcsStore, GoogleTokens, MuxStore, emulator
from test_syncs import kill_mid_run, trigger, wait_batches, wait_run

PROVIDERS = ["gcs", "azure_blob", "box"]
# Typed configs the SDK has for each provider: the request is built through them.
SDK_CONFIGS = {"gcs": GCSConfig, "azure_blob": AzureBlobConfig, "box": BoxConfig}


@pytest.fixture(scope="module")
def google():
    tokens = GoogleTokens()
    yield tokens
    tokens.server.shutdown()


@pytest.fixture
def make_store(request, google):
    """A function making a fresh store of `provider` (its emulator required)."""
    def make(provider, name):
        name = f"{name}-{int(time.time() * 1000) % 10**9}"
        if provider == "gcs":
            return GcsStore(emulator("SLUICE_TEST_GCS_URL"), google, name)
        if provider == "azure_blob":
            return AzureStore(emulator("SLUICE_TEST_AZURE_URL"), name)
        if provider == "box":
            return BoxStore(emulator("SLUICE_TEST_BOX_URL"), name)
        if provider == "mux":
            return MuxStore(emulator("SLUICE_TEST_MUX_URL"), name)
        raise AssertionError(provider)
    return make


MUX = os.environ.get("SLUICE_TEST_MUX_URL", "")
ENV = {
    # The emulators listen on loopback, a tenant's endpoint here.
    "SLUICE_ALLOW_PRIVATE_URLS": "true",
    # Box's API: its fake.
    "SLUICE_BOX_API_URL": os.environ.get("SLUICE_TEST_BOX_URL", ""),
    # Mux's API and media host: its fake.
    "SLUICE_MUX_API_URL": MUX, "SLUICE_MUX_STREAM_URL": MUX,
    # Runs start only when a test triggers them.
    "SLUICE_SYNC_POLL_SECS": "3600",
}


@pytest.fixture(scope="module")
def sluice(tmp_path_factory):
    proc, url, key = start(tmp_path_factory.mktemp("providers"), ENV)
    try:
        yield Sluice(url, key, None)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log = "".join(proc.log)
        assert "PRIVATE KEY" not in log and "private_key" not in log, "a key reached the log"


def listed_key(store, key):
    """The key a file written as `key` is listed under (a Box file's id)."""
    return store.listed_key(key) if hasattr(store, "listed_key") else key


def space(sluice, name, extractor="passthrough_extractor"):
    ns = sluice.call("POST", "/v1/namespaces", json={
        "namespace_name": name, "feature_extractors": [{"feature_extractor_name": extractor, "version": "v1"}],
    }).json()["namespace_id"]
    bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "docs", "bucket_schema": {"properties": {"body": {"type": "text"}}},
    }).json()["bucket_id"]
    return ns, bucket


def sdk(sluice, ns):
    config = mixpeek.Configuration(host=sluice.url, access_token=sluice.api_key)
    config.api_key["NamespaceHeader"] = ns
    return mixpeek.ApiClient(config)


def object_count(sluice, ns, bucket):
    return sluice.call("GET", f"/v1/buckets/{bucket}", ns=ns).json()["object_count"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sdk_connection_sync_documents_and_every_change(sluice, make_store, provider):
    store = make_store(provider, "changes")
    n = 20
    for i in range(n):
        store.put(f"docs/{i:03d}.txt", f"document {i} of {provider}".encode())
    store.put("outside/skip.txt", b"outside the source path")
    ns, bucket = space(sluice, f"{provider}-changes")
    api = sdk(sluice, ns)

    typed = SDK_CONFIGS[provider].from_dict(store.provider_config())
    # The SDK's model has no endpoint: an emulator's (or a private endpoint's) is added
    # to the dict the request takes.
    body = {**typed.to_dict(), **store.endpoint_setting()}
    conns = OrganizationConnectionsApi(api)
    conn = conns.create_storage_connection_organizations(StorageConnectionCreateRequest.from_dict({
        "name": f"{provider} source", "provider_type": provider, "provider_config": body}))
    shown = sluice.call("GET", f"/v1/organizations/connections/{conn.connection_id}").json()
    StorageConnectionModel.from_dict(shown)  # the SDK reads what it gets back
    assert shown["provider_config"]["credentials"] == {"type": body["credentials"]["type"]}, shown
    tested = sluice.call("POST", f"/v1/organizations/connections/{conn.connection_id}/test").json()
    assert tested["success"] is True, tested

    syncs = BucketSyncsApi(api)
    sync = syncs.create_sync_configuration_buckets(bucket, SyncCreateRequest.from_dict({
        "connection_id": conn.connection_id, "source_path": "/docs/", "polling_interval_seconds": 3600}))
    first = trigger(sluice, ns, bucket, sync.sync_config_id)
    assert first["status"] == "completed", first
    assert (first["counts"]["new"], first["counts"]["scanned"], first["counts"]["failed"]) == (n, n, 0), first
    assert object_count(sluice, ns, bucket) == n
    for b in wait_batches(sluice, ns, bucket, first["batch_ids"], timeout=180):
        assert b["status"] == "COMPLETED", b
    objects = sluice.call("GET", f"/v1/buckets/{bucket}/objects?limit=100", ns=ns).json()["results"]
    docs = sluice.call("GET", f"/v1/buckets/{bucket}/objects/{objects[0]['object_id']}/documents", ns=ns).json()["results"]
    assert docs, "a synced object was processed into documents"

    again = trigger(sluice, ns, bucket, sync.sync_config_id)
    assert (again["counts"]["unchanged"], again["counts"]["new"], again["counts"]["modified"]) == (n, 0, 0), again
    assert again["batch_ids"] == [], "an unchanged re-sync submits nothing"

    time.sleep(1.1)  # stores that version by the second see a new version
    for i in (1, 2, 3, 4):
        store.put(f"docs/{i:03d}.txt", f"modified {i}".encode())
    for i in (5, 6, 7):
        store.delete(f"docs/{i:03d}.txt")
    for i in range(100, 106):
        store.put(f"docs/{i:03d}.txt", f"added {i}".encode())
    third = trigger(sluice, ns, bucket, sync.sync_config_id)
    c = third["counts"]
    assert (c["new"], c["modified"], c["deleted"], c["unchanged"], c["failed"]) == (6, 4, 3, n - 7, 0), third
    assert object_count(sluice, ns, bucket) == n + 3
    for b in wait_batches(sluice, ns, bucket, third["batch_ids"], timeout=180):
        assert b["status"] == "COMPLETED", b


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_quickstart_inline_body_makes_the_connection(sluice, make_store, provider):
    store = make_store(provider, "inline")
    names = ["a.txt", "with space.txt", "ünïcode.txt", "sub/b.txt"]
    for name in names:
        store.put(f"videos/{name}", f"text of {name}".encode())
    ns, bucket = space(sluice, f"{provider}-inline")
    r = sluice.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
        "provider": provider, "connection": store.inline_connection(),
        "sync_config": {"source_path": "/videos/", "sync_mode": "incremental", "polling_interval": 3600}})
    assert r.status_code == 200, r.text
    sync = r.json()
    job = trigger(sluice, ns, bucket, sync["sync_config_id"])
    assert job["status"] == "completed" and job["counts"]["new"] == len(names), job
    objects = sluice.call("GET", f"/v1/buckets/{bucket}/objects?limit=100", ns=ns).json()["results"]
    keys = sorted(o["blobs"][0]["properties"]["synced"]["key"] for o in objects)
    assert keys == sorted(listed_key(store, f"videos/{n}") for n in names)


@pytest.mark.parametrize("provider", PROVIDERS + ["mux"])
def test_a_run_killed_mid_way_resumes_without_duplicates(tmp_path, make_store, provider):
    """Mux lists newest first: its run resumes from its saved page and finds its gone
    files by the merge, which the kill must not disturb either."""
    store = make_store(provider, "crash")
    for i in range(200):
        if provider == "mux":
            store.put(f"c{i:04d}", mp4(i), created_at=1_800_000_000 + i)
        else:
            store.put(f"c/{i:04d}.txt", f"file {i}".encode())
    env = {**ENV, "SLUICE_SYNC_PAGE_SIZE": "10", "SLUICE_VISIBILITY_TIMEOUT_SECS": "2",
           "SLUICE_SYNC_LEASE_SECS": "5", "SLUICE_SYNC_POLL_SECS": "1"}
    data = tmp_path / "data"
    proc, url, key = start(data, env)
    sluice = Sluice(url, key, data)
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": f"{provider}-crash"}).json()["namespace_id"]
    bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={"bucket_name": "b", "bucket_schema": {"properties": {
        "body": {"type": "text"}, "video": {"type": "video"}}}}).json()["bucket_id"]
    conn = sluice.call("POST", "/v1/organizations/connections", json={
        "name": "crash", "provider_type": provider, "provider_config": store.provider_config()}).json()
    sync = sluice.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
        "connection_id": conn["connection_id"], "source_path": "/" if provider == "mux" else "/c/",
        "skip_batch_submission": True}).json()
    sid = sync["sync_config_id"]
    job_id = kill_mid_run(proc, sluice, ns, bucket, sid, after=20, total=200)
    proc, url, key = start(data, env)
    try:
        sluice = Sluice(url, key, data)
        job = wait_run(sluice, ns, bucket, sid, job_id)
        c = job["counts"]
        assert job["status"] == "completed", job
        assert (c["scanned"], c["new"], c["unchanged"], c["failed"]) == (200, 200, 0, 0), job
        # Every file once: the objects themselves, listed (the bucket's object_count can
        # miss a page whose objects landed just before the kill; see docs/syncs.md).
        listed = sluice.call("GET", f"/v1/buckets/{bucket}/objects?limit=1000", ns=ns).json()["results"]
        keys = [o["blobs"][0]["properties"]["synced"]["key"] for o in listed]
        want = [f"c{i:04d}.mp4" if provider == "mux" else listed_key(store, f"c/{i:04d}.txt") for i in range(200)]
        assert sorted(keys) == sorted(want), "a file missing or twice"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_azure_managed_identity_is_refused_at_once_where_the_runtime_has_none(sluice):
    """No IMDS, App Service identity or workload identity here: a clear 422, quickly."""
    started = time.time()
    r = sluice.call("POST", "/v1/organizations/connections", json={
        "name": "by identity", "provider_type": "azure_blob",
        "provider_config": {"account_name": "acct1", "container": "media", "credentials": {"type": "managed_identity"}}})
    assert r.status_code == 422, r.text
    assert "managed_identity" in r.json()["error"]["message"] and "account_key" in r.json()["error"]["message"], r.text
    assert time.time() - started < 10, "the identity probe must not hang"


def mp4(i):
    """Bytes an MP4 sniffer takes for one (an `ftyp` box), distinct per asset."""
    return b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + f"asset {i}".encode()


def test_mux_ready_assets_sync_with_their_metadata_and_the_rest_say_why(sluice):
    """Ready assets become objects read from their MP4 rendition, with duration, aspect
    ratio and passthrough in the bucket's fields; one still preparing waits for a later
    run; one without a rendition is a dead letter saying so; a new passthrough is a
    change; a deleted asset is deleted; an unchanged re-sync changes nothing."""
    store = MuxStore(emulator("SLUICE_TEST_MUX_URL"), f"e2e{int(time.time() * 1000) % 10**9}")
    for i in range(10):
        store.put(f"asset{i}", mp4(i), passthrough=f"video-{i}", created_at=1_800_000_000 + i)
    store.put("waiting", mp4(19), status="preparing")
    store.put("norendition", mp4(18), static=False)
    ns = sluice.call("POST", "/v1/namespaces", json={
        "namespace_name": "mux-assets", "feature_extractors": [{"feature_extractor_name": "passthrough_extractor", "version": "v1"}],
    }).json()["namespace_id"]
    bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={"bucket_name": "videos", "bucket_schema": {"properties": {
        "video": {"type": "video"}, "duration": {"type": "number"}, "aspect_ratio": {"type": "string"},
        "passthrough": {"type": "string"}}}}).json()["bucket_id"]
    api = sdk(sluice, ns)
    typed = MuxConfig.from_dict(store.provider_config())
    conn = OrganizationConnectionsApi(api).create_storage_connection_organizations(StorageConnectionCreateRequest.from_dict({
        "name": "mux", "provider_type": "mux", "provider_config": typed.to_dict()}))
    StorageConnectionModel.from_dict(sluice.call("GET", f"/v1/organizations/connections/{conn.connection_id}").json())
    sync = BucketSyncsApi(api).create_sync_configuration_buckets(bucket, SyncCreateRequest.from_dict({
        "connection_id": conn.connection_id, "source_path": "/", "polling_interval_seconds": 3600}))
    first = trigger(sluice, ns, bucket, sync.sync_config_id)
    c = first["counts"]
    assert (c["scanned"], c["new"], c["failed"]) == (11, 10, 1), first
    dead = sluice.call("POST", f"/v1/buckets/{bucket}/syncs/{sync.sync_config_id}/dlq", ns=ns, json={}).json()
    assert "static rendition" in json.dumps(dead), dead
    for b in wait_batches(sluice, ns, bucket, first["batch_ids"], timeout=180):
        assert b["status"] == "COMPLETED", json.dumps(b)[:3000]
    objects = sluice.call("GET", f"/v1/buckets/{bucket}/objects?limit=100", ns=ns).json()["results"]
    by_key = {o["blobs"][0]["properties"]["synced"]["key"]: o for o in objects}
    assert sorted(by_key) == [f"asset{i}.mp4" for i in range(10)]
    meta = by_key["asset3.mp4"]["metadata"]
    assert (meta["passthrough"], meta["duration"], meta["aspect_ratio"]) == ("video-3", 12.5, "16:9"), meta

    again = trigger(sluice, ns, bucket, sync.sync_config_id)
    assert (again["counts"]["unchanged"], again["counts"]["new"], again["counts"]["modified"]) == (10, 0, 0), again

    store.put("waiting", mp4(19), created_at=1_800_000_100)  # ready now
    store.put("asset1", mp4(1), passthrough="renamed", created_at=1_800_000_001)
    store.delete("asset2")
    third = trigger(sluice, ns, bucket, sync.sync_config_id)
    c = third["counts"]
    assert (c["new"], c["modified"], c["deleted"], c["unchanged"]) == (1, 1, 1, 8), third
    obj = next(o for o in sluice.call("GET", f"/v1/buckets/{bucket}/objects?limit=100", ns=ns).json()["results"]
               if o["blobs"][0]["properties"]["synced"]["key"] == "asset1.mp4")
    assert obj["metadata"]["passthrough"] == "renamed"


def test_the_quickstart_inline_body_makes_a_mux_connection(sluice):
    """Mux's assets have no paths: the quickstart's body names no bucket, its path is `/`,
    and its flat credentials are an access token."""
    store = MuxStore(emulator("SLUICE_TEST_MUX_URL"), f"inline{int(time.time() * 1000) % 10**9}")
    for i in range(3):
        store.put(f"clip{i}", mp4(i), created_at=1_800_000_000 + i)
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "mux-inline"}).json()["namespace_id"]
    bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={"bucket_name": "clips", "bucket_schema": {
        "properties": {"video": {"type": "video"}}}}).json()["bucket_id"]
    creds = store.provider_config()["credentials"]
    r = sluice.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
        "provider": "mux", "connection": {"credentials": {k: v for k, v in creds.items() if k != "type"}},
        "sync_config": {"source_path": "/", "sync_mode": "incremental", "polling_interval": 3600}})
    assert r.status_code == 200, r.text
    sync = r.json()
    job = trigger(sluice, ns, bucket, sync["sync_config_id"])
    assert job["status"] == "completed" and job["counts"]["new"] == 3, job
    conn = sluice.call("GET", f"/v1/organizations/connections/{sync['connection_id']}").json()
    assert conn["provider_type"] == "mux" and conn["provider_config"]["credentials"] == {"type": "access_token"}, conn


def test_mux_signed_events_start_the_connections_syncs(sluice):
    """`POST /v1/webhooks/mux/{connection_id}`: Mux's signature (HMAC-SHA256 of `t.body`
    with the connection's webhook secret, five minutes' tolerance) is checked; a good
    `video.asset.ready` starts the sync, which takes the new asset; anything else is
    refused and starts nothing."""
    store = MuxStore(emulator("SLUICE_TEST_MUX_URL"), f"hook{int(time.time() * 1000) % 10**9}")
    store.put("first", mp4(1))
    ns = sluice.call("POST", "/v1/namespaces", json={"namespace_name": "mux-events"}).json()["namespace_id"]
    bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "videos", "bucket_schema": {"properties": {"video": {"type": "video"}}}}).json()["bucket_id"]
    conn = sluice.call("POST", "/v1/organizations/connections", json={
        "name": "mux events", "provider_type": "mux", "provider_config": store.provider_config()}).json()
    sync = sluice.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
        "connection_id": conn["connection_id"], "source_path": "/", "skip_batch_submission": True}).json()
    first = trigger(sluice, ns, bucket, sync["sync_config_id"])
    assert first["counts"]["new"] == 1, first

    store.put("second", mp4(2))
    hook = f"/v1/webhooks/mux/{conn['connection_id']}"
    for body, headers, why in [
        (*store.signed_event("video.asset.ready", "second", secret="not-the-secret"), "another secret"),
        (*store.signed_event("video.asset.ready", "second", at=time.time() - 600), "ten minutes old"),
        (store.signed_event("video.asset.ready", "second")[0], {"content-type": "application/json"}, "unsigned"),
    ]:
        r = requests.post(sluice.url + hook, data=body, headers=headers, timeout=10)
        assert r.status_code == 401 and r.json()["error"]["type"] == "AuthenticationError", (why, r.text)
    body, headers = store.signed_event("video.asset.ready", "second")
    r = requests.post(sluice.url + hook, data=body, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["event"] == "video.asset.ready" and len(got["sync_job_ids"]) == 1, got
    job = wait_run(sluice, ns, bucket, sync["sync_config_id"], got["sync_job_ids"][0])
    assert (job["status"], job["counts"]["new"], job["counts"]["unchanged"]) == ("completed", 1, 1), job
    assert object_count(sluice, ns, bucket) == 2
    # An event that changes no asset starts nothing; an unknown connection is a 404.
    body, headers = store.signed_event("video.upload.created", "x")
    r = requests.post(sluice.url + hook, data=body, headers=headers, timeout=10)
    assert r.status_code == 200 and r.json()["sync_job_ids"] == [], r.text
    r = requests.post(sluice.url + "/v1/webhooks/mux/conn_00000000000000000000000000", data=body, headers=headers, timeout=10)
    assert r.status_code == 404, r.text


def test_box_renames_update_their_object_and_expired_tokens_renew_into_the_connection(sluice):
    """A Box file keeps its id through a rename or a move: the object is updated, not
    deleted and made again. An expired OAuth access token is renewed with the refresh
    token (single-use), and the new pair is sealed into the connection: the next
    renewal spends the new refresh token, never the old one."""
    store = BoxStore(emulator("SLUICE_TEST_BOX_URL"), f"rename{int(time.time() * 1000) % 10**9}")
    for name in ("plan.txt", "notes/a.txt", "notes/deep/b.txt"):
        store.put(f"work/{name}", f"text of {name}".encode())
    ns, bucket = space(sluice, "box-renames")
    typed = BoxConfig.from_dict({**store.provider_config(), "folder_id": "0"})
    conn = OrganizationConnectionsApi(sdk(sluice, ns)).create_storage_connection_organizations(
        StorageConnectionCreateRequest.from_dict({"name": "box", "provider_type": "box",
                                                   "provider_config": typed.to_dict()}))
    sync = sluice.call("POST", f"/v1/buckets/{bucket}/syncs", ns=ns, json={
        "connection_id": conn.connection_id, "source_path": "/work/", "skip_batch_submission": True}).json()
    sid = sync["sync_config_id"]
    first = trigger(sluice, ns, bucket, sid)
    assert (first["counts"]["new"], first["status"]) == (3, "completed"), first
    before = {o["blobs"][0]["properties"]["synced"]["key"]: o["object_id"] for o in
              sluice.call("GET", f"/v1/buckets/{bucket}/objects?limit=100", ns=ns).json()["results"]}

    store.move("work/plan.txt", "work/archive/plan-final.txt")
    store.expire_tokens()
    second = trigger(sluice, ns, bucket, sid)
    c = second["counts"]
    assert (c["modified"], c["new"], c["deleted"], c["unchanged"]) == (1, 0, 0, 2), second
    after = {o["blobs"][0]["properties"]["synced"]["key"]: o for o in
             sluice.call("GET", f"/v1/buckets/{bucket}/objects?limit=100", ns=ns).json()["results"]}
    moved = after[store.listed_key("work/archive/plan-final.txt")]
    assert moved["object_id"] == before[moved["blobs"][0]["properties"]["synced"]["key"]], "the same object"
    assert store.stats()["refreshes"] == 1, store.stats()

    store.expire_tokens()
    third = trigger(sluice, ns, bucket, sid)
    assert third["status"] == "completed" and third["counts"]["unchanged"] == 3, third
    stats = store.stats()
    assert (stats["refreshes"], stats["refused_refreshes"]) == (2, 0), stats
    shown = sluice.call("GET", f"/v1/organizations/connections/{conn.connection_id}").json()
    assert shown["provider_config"]["credentials"] == {"type": "oauth"}, shown
