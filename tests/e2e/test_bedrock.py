"""Namespaces on the Bedrock backend, end to end through sluice-local.

No AWS account exists here, so Bedrock is a local fake of `InvokeModel` for Titan
Multimodal Embeddings G1 and Nova Multimodal Embeddings, written from their documented
request and response bodies (Titan: `inputText` / `inputImage` / `embeddingConfig` →
`embedding`; Nova: `taskType` SINGLE_EMBEDDING, `singleEmbeddingParams` with a purpose, a
dimension and one of text, image, audio or video → `embeddings[0].embedding`). It answers with vectors
derived from the input (text: hashed words, so shared words mean similar vectors;
images: their bytes), which is enough to check the plumbing: which model each
namespace uses, images sent as images, queries embedded by the same model, refusals.
"""

import base64
import hashlib
import http.server
import io
import json
import math
import re
import threading
import urllib.parse

import pytest
from PIL import Image

from conftest import Files, Sluice, have_tool, start
from test_batches import wait_batch
from test_search import video_red_then_blue, wav_tone_silence_tone

DIMS = 1024
NOVA = "amazon.nova-2-multimodal-embeddings-v1:0"


def text_vector(text, dims=DIMS):
    v = [0.0] * dims
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        h = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "big")
        v[h % dims] += 1.0 if (h >> 32) & 1 else -1.0
    return v


def bytes_vector(data, dims=DIMS):
    out, counter = [], 0
    while len(out) < dims:
        block = hashlib.sha256(data + counter.to_bytes(4, "big")).digest()
        out.extend(b / 127.5 - 1.0 for b in block)
        counter += 1
    return out[:dims]


class FakeBedrock:
    def __init__(self):
        self.calls = []
        self.deny = False
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                # The SDK percent-encodes the model id (Nova's has a colon).
                m = re.fullmatch(r"/model/([^/]+)/invoke", urllib.parse.unquote(self.path))
                auth = self.headers.get("Authorization", "")
                fake.calls.append({"model": m and m.group(1), "body": body, "auth": auth})
                if fake.deny:
                    return self.reply(403, {"message": "denied"}, "AccessDeniedException")
                if not auth.startswith("AWS4-HMAC-SHA256 ") or "/bedrock/aws4_request" not in auth:
                    return self.reply(403, {"message": "unsigned"}, "UnrecognizedClientException")
                if m and m.group(1) == NOVA:
                    return self.nova(body)
                if not m or m.group(1) != "amazon.titan-embed-image-v1":
                    return self.reply(404, {"message": "no such model"}, "ResourceNotFoundException")
                dims = body.get("embeddingConfig", {}).get("outputEmbeddingLength", DIMS)
                if "inputImage" in body:
                    v = bytes_vector(base64.b64decode(body["inputImage"]), dims)
                elif body.get("inputText"):
                    v = text_vector(body["inputText"], dims)
                else:
                    return self.reply(400, {"message": "inputText or inputImage"}, "ValidationException")
                self.reply(200, {"embedding": v, "inputTextTokenCount": 1})

            def nova(self, body):
                p = body.get("singleEmbeddingParams", {})
                if body.get("taskType") != "SINGLE_EMBEDDING" or p.get("embeddingPurpose") not in ("GENERIC_INDEX", "GENERIC_RETRIEVAL"):
                    return self.reply(400, {"message": "taskType / embeddingPurpose"}, "ValidationException")
                dims = p.get("embeddingDimension", 3072)
                if "text" in p:
                    kind, v = "TEXT", text_vector(p["text"]["value"], dims)
                else:
                    media = [k for k in ("image", "audio", "video") if k in p]
                    if len(media) != 1:
                        return self.reply(400, {"message": "one input"}, "ValidationException")
                    kind = media[0].upper()
                    v = bytes_vector(base64.b64decode(p[media[0]]["source"]["bytes"]), dims)
                self.reply(200, {"embeddings": [{"embeddingType": kind, "embedding": v}]})

            def reply(self, status, payload, error_type=None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def bedrock_sluice(tmp_path):
    fake = FakeBedrock()
    proc, url, key = start(tmp_path / "data", {
        "SLUICE_EMBEDDING_BACKEND": "bedrock",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fake.url,
        "AWS_ACCESS_KEY_ID": "AKIDFAKE", "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
        # URL queries fetch from the test's own server on loopback.
        "SLUICE_ALLOW_PRIVATE_URLS": "true",
    })
    yield Sluice(url, key, tmp_path / "data"), fake
    proc.kill()
    proc.wait()


def png(color, size=(160, 120)):
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def b64(data):
    return base64.b64encode(data).decode()


def namespace(sluice, name, params=None):
    fe = {"feature_extractor_name": "multimodal_extractor", "version": "v1"}
    if params is not None:
        fe["params"] = params
    return sluice.call("POST", "/v1/namespaces", json={"namespace_name": name, "feature_extractors": [fe]})


def test_bedrock_namespaces_embed_text_and_images_with_titan(bedrock_sluice):
    sluice, fake = bedrock_sluice
    # The server's default (bedrock) is written into the namespace: fixed from now on.
    r = namespace(sluice, "titan")
    assert r.status_code == 200, r.text
    ns = r.json()
    params = ns["feature_extractors"][0]["params"]
    assert params == {"embedding_backend": "bedrock", "embedding_model": "amazon.titan-embed-image-v1",
                      "embedding_dimensions": 1024}
    ns = ns["namespace_id"]
    # Asking for other params later is refused; naming the extractor again is not.
    again = {"feature_extractor_name": "multimodal_extractor", "version": "v1"}
    r = sluice.call("PATCH", f"/v1/namespaces/{ns}", json={"feature_extractors": [{**again, "params": {"embedding_dimensions": 256}}]})
    assert r.status_code == 422 and "fixed" in r.text, r.text
    r = sluice.call("PATCH", f"/v1/namespaces/{ns}", json={"feature_extractors": [again]})
    assert r.status_code == 200, r.text
    assert r.json()["feature_extractors"][0]["params"]["embedding_dimensions"] == 1024

    bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "media", "bucket_schema": {"properties": {"photo": {"type": "image"}, "body": {"type": "text"}}},
    }).json()["bucket_id"]
    red, blue = png((220, 20, 20)), png((20, 40, 220))
    made = sluice.call("POST", f"/v1/buckets/{bucket}/objects/batch", ns=ns, json={"objects": [
        {"blobs": [{"property": "photo", "type": "image", "data": {"base64": b64(red), "mime_type": "image/png"}}]},
        {"blobs": [{"property": "photo", "type": "image", "data": {"base64": b64(blue), "mime_type": "image/png"}}]},
        {"blobs": [{"property": "body", "type": "text", "content": "tide tables for the harbour"}]},
    ]}).json()
    ids = [o["object_id"] for o in made["succeeded"]]
    b = sluice.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": ids}).json()
    sluice.call("POST", f"/v1/buckets/{bucket}/batches/{b['batch_id']}/submit", ns=ns, json={})
    done = wait_batch(sluice, ns, bucket, b["batch_id"], timeout=60)
    assert done["status"] == "COMPLETED", done.get("failed_objects") or done

    [red_doc] = sluice.call("GET", f"/v1/buckets/{bucket}/objects/{ids[0]}/documents", ns=ns).json()["results"]
    assert red_doc["embedding_model"] == "amazon.titan-embed-image-v1"
    assert red_doc["embedding_input"] == "image"
    image_calls = [c for c in fake.calls if "inputImage" in c["body"]]
    assert sorted(base64.b64decode(c["body"]["inputImage"]) for c in image_calls) == sorted([red, blue])
    assert all(c["body"]["embeddingConfig"] == {"outputEmbeddingLength": 1024} for c in fake.calls)

    def search(query):
        r = sluice.call("POST", "/v1/features/search", ns=ns, json={"query": query, "top_k": 3})
        assert r.status_code == 200, r.text
        return r.json()["results"]

    # An image query is embedded by the same model: the same picture is the top hit.
    hits = search({"input_mode": "image", "image": b64(blue)})
    assert hits[0]["source_object_id"] == ids[1] and hits[0]["score"] > 0.999
    # A URL query fetches the picture and embeds it the same way; a URL that serves none is a 422.
    served = Files({"/red.png": red})
    hits = search({"input_mode": "url", "url": f"{served.url}/red.png"})
    assert hits[0]["source_object_id"] == ids[0] and hits[0]["score"] > 0.999
    r = sluice.call("POST", "/v1/features/search", ns=ns, json={"query": {"input_mode": "url", "url": f"{served.url}/gone.png"}})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "query.url", r.text
    hits = search({"input_mode": "text", "text": "harbour tide tables"})
    assert hits[0]["source_object_id"] == ids[2]
    # Every call was signed for Bedrock with the environment's credentials.
    assert all(c["auth"].startswith("AWS4-HMAC-SHA256 Credential=AKIDFAKE/") for c in fake.calls)

    # A model this account may not use: the search says so instead of returning nothing.
    fake.deny = True
    r = sluice.call("POST", "/v1/features/search", ns=ns, json={"query": {"text": "harbour"}})
    assert r.status_code == 503 and "AccessDenied" in r.text, r.text


def test_params_are_checked_and_local_stays_local(bedrock_sluice):
    sluice, fake = bedrock_sluice
    r = namespace(sluice, "local-one", {"embedding_backend": "local"})
    assert r.status_code == 200, r.text
    ns = r.json()
    assert ns["feature_extractors"][0]["params"]["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert ns["feature_extractors"][0]["params"]["embedding_dimensions"] == 384
    for params, field in [
        ({"embedding_backend": "openai"}, "embedding_backend"),
        ({"embedding_model": "amazon.titan-embed-image-v1", "embedding_dimensions": 3072}, "embedding_dimensions"),
        ({"embedding_backend": "local", "embedding_model": "amazon.titan-embed-image-v1"}, "embedding_model"),
        # The extraction params are checked when the extractor is chosen, too.
        ({"time_split_interval": 0}, "time_split_interval"),
        ({"split_by": "lines"}, "split_by"),
        ({"split_method": "scene"}, "split_method"),
        ({"run_ocr": "yes"}, "run_ocr"),
    ]:
        r = namespace(sluice, "bad-choice", params)
        assert r.status_code == 422, r.text
        assert field in r.text, r.text
    # Image queries need a model that sees images.
    r = sluice.call("POST", "/v1/features/search", ns=ns["namespace_id"],
                    json={"query": {"input_mode": "image", "image": b64(png((1, 2, 3)))}})
    assert r.status_code == 422 and "multimodal" in r.text, r.text
    assert fake.calls == []


def test_nova_embeds_video_and_audio_clips(bedrock_sluice, tmp_path):
    """With Nova, each video segment and each stretch of sound is cut out (ffmpeg) and
    embedded as a clip; an image query is embedded for retrieval."""
    sluice, fake = bedrock_sluice
    r = namespace(sluice, "nova", {"embedding_model": NOVA, "embedding_dimensions": 1024})
    assert r.status_code == 200, r.text
    ns = r.json()
    assert ns["feature_extractors"][0]["params"]["embedding_backend"] == "bedrock"
    ns = ns["namespace_id"]
    bucket = sluice.call("POST", "/v1/buckets", ns=ns, json={
        "bucket_name": "media",
        "bucket_schema": {"properties": {"clip": {"type": "video"}, "sound": {"type": "audio"}, "photo": {"type": "image"}}},
    }).json()["bucket_id"]
    have_ffmpeg = have_tool("ffmpeg")
    clip = video_red_then_blue(tmp_path / "clip.mp4") if have_ffmpeg else b"\x00\x00\x00\x18ftypmp42" + bytes(64)
    photo = png((10, 200, 30))
    made = sluice.call("POST", f"/v1/buckets/{bucket}/objects/batch", ns=ns, json={"objects": [
        {"blobs": [{"property": "clip", "type": "video", "data": {"base64": b64(clip), "mime_type": "video/mp4"}}]},
        {"blobs": [{"property": "sound", "type": "audio", "data": {"base64": b64(wav_tone_silence_tone()), "mime_type": "audio/wav"}}]},
        {"blobs": [{"property": "photo", "type": "image", "data": {"base64": b64(photo), "mime_type": "image/png"}}]},
    ]}).json()
    ids = [o["object_id"] for o in made["succeeded"]]
    b = sluice.call("POST", f"/v1/buckets/{bucket}/batches", ns=ns, json={"object_ids": ids}).json()
    sluice.call("POST", f"/v1/buckets/{bucket}/batches/{b['batch_id']}/submit", ns=ns, json={})
    done = wait_batch(sluice, ns, bucket, b["batch_id"], timeout=120)
    if not have_ffmpeg:
        failed = {f["object_id"]: f["error"] for f in done["failed_objects"]}
        assert "ffmpeg" in failed[ids[0]] and "ffmpeg" in failed[ids[1]], failed
        return
    assert done["status"] == "COMPLETED", done.get("failed_objects") or done

    def docs_of(i):
        return sluice.call("GET", f"/v1/buckets/{bucket}/objects/{ids[i]}/documents", ns=ns).json()["results"]

    assert [d["embedding_input"] for d in docs_of(0)] == ["video"] * 3
    assert [d["embedding_input"] for d in docs_of(1)] == ["audio"] * 2
    assert [d["embedding_input"] for d in docs_of(2)] == ["image"]
    params = [c["body"]["singleEmbeddingParams"] for c in fake.calls if c["model"] == NOVA]
    videos = [p["video"] for p in params if "video" in p]
    audios = [p["audio"] for p in params if "audio" in p]
    assert len(videos) == 3 and all(v["format"] == "mp4" and v["embeddingMode"] == "AUDIO_VIDEO_COMBINED" for v in videos)
    assert base64.b64decode(videos[0]["source"]["bytes"])[4:8] == b"ftyp"
    assert len(audios) == 2 and all(base64.b64decode(a["source"]["bytes"])[:4] == b"RIFF" for a in audios)
    assert all(p["embeddingDimension"] == 1024 and p["embeddingPurpose"] == "GENERIC_INDEX" for p in params)

    r = sluice.call("POST", "/v1/features/search", ns=ns, json={"query": {"input_mode": "image", "image": b64(photo)}, "top_k": 1})
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["source_object_id"] == ids[2]
    assert fake.calls[-1]["body"]["singleEmbeddingParams"]["embeddingPurpose"] == "GENERIC_RETRIEVAL"
