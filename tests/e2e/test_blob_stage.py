"""The blob stage as the README describes it, end to end: data URIs, the sniffed type
deciding over the declared one, and the fetch's size and time limits. (The SSRF guard's
handling of names and redirects is tested in shared/core/src/net.rs, where a resolver of
the test's own can make a name reach a chosen address.)"""

import base64

import pytest

from conftest import Files, Sluice, start
from test_batches import add_objects, make_space, wait_batch

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A server whose fetches may reach loopback, with a 1 000-byte and 1-second limit."""
    data = tmp_path_factory.mktemp("limited")
    proc, url, key = start(data, {
        "SLUICE_ALLOW_PRIVATE_URLS": "true", "SLUICE_MAX_FETCH_BYTES": "1000", "SLUICE_FETCH_TIMEOUT_SECS": "1",
    })
    yield Sluice(url, key, data)
    proc.kill()
    proc.wait()


def test_data_uris_sniffing_and_fetch_limits(limited):
    # Every body says it is text; /png is not, /big is over the limit, /slow is late.
    files = Files({"/ok": b"fetched text", "/png": PNG, "/big": b"x" * 2000, "/slow": b"late"},
                  content_type="text/plain", delays={"/slow": 3})
    ns, bucket = make_space(limited, "blob-stage")
    encoded = base64.b64encode(b"from a data URI").decode()
    ids = add_objects(limited, ns, bucket, [
        {"property": "body", "type": "text", "content": f"data:text/plain;base64,{encoded}"},
        {"property": "body", "type": "text", "url": f"{files.url}/ok"},
        {"property": "body", "type": "text", "url": f"{files.url}/png"},
        {"property": "body", "type": "text", "url": f"{files.url}/big"},
        {"property": "body", "type": "text", "url": f"{files.url}/slow"},
    ])
    data_uri, fetched, png, big, slow = ids
    batch = limited.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": ids, "auto_submit": True}).json()
    done = wait_batch(limited, ns, bucket, batch["batch_id"])
    assert done["status"] == "COMPLETED_WITH_ERRORS", done
    failed = {f["object_id"]: f for f in done["failed_objects"]}
    assert set(failed) == {png, big, slow}, failed
    assert all(f["stage"] == "blob" for f in failed.values()), failed
    # The server said text/plain; the bytes are a PNG, and they decide.
    assert "declared text but its content is image/png" in failed[png]["error"], failed[png]
    assert "larger than 1000 bytes" in failed[big]["error"], failed[big]
    assert "timed out" in failed[slow]["error"], failed[slow]
    for object_id, text in ((data_uri, "from a data URI"), (fetched, "fetched text")):
        docs = limited.call("GET", f"/v1/buckets/{bucket}/objects/{object_id}/documents", ns=ns).json()["results"]
        assert [d["text"] for d in docs] == [text], docs
    for object_id in (png, big, slow):
        obj = limited.call("GET", f"/v1/buckets/{bucket}/objects/{object_id}", ns=ns).json()
        assert obj["status"] == "FAILED" and obj["error"].startswith("blob: "), obj
