"""The quickstart's curl requests, run verbatim with only the host changed."""

import io
import json
import os
import pathlib
import subprocess

import requests
from PIL import Image

QUICKSTART = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "quickstart.md"


def curl_commands():
    """Every curl command of the page, joined across its continuation lines."""
    commands, current = [], None
    for line in QUICKSTART.read_text().splitlines():
        if current is None:
            if not line.startswith("curl "):
                continue
            current = [line]
        else:
            current.append(line)
        text = "\n".join(current)
        # A command ends on a line that does not continue and leaves no quote open.
        if not line.rstrip().endswith("\\") and text.count("'") % 2 == 0:
            commands.append(text)
            current = None
    return commands


def find(commands, method, suffix):
    for c in commands:
        first = c.splitlines()[0]
        if f"-X {method}" in first and first.rstrip(' \\').rstrip('"').endswith(suffix):
            return c
    raise AssertionError(f"no {method} ...{suffix} in the quickstart")


def run(command, base_url, env):
    command = command.replace("https://api.mixpeek.com", base_url)
    out = subprocess.run(["bash", "-c", command + " -s -w '\\n%{http_code}'"], capture_output=True, text=True, env=env, check=True)
    body, _, status = out.stdout.rpartition("\n")
    return int(status), json.loads(body)


def test_quickstart_verbatim(sluice):
    commands = curl_commands()
    assert len(commands) >= 8, commands
    env = dict(os.environ, MIXPEEK_API_KEY=sluice.api_key)

    status, ns = run(find(commands, "POST", "/v1/namespaces"), sluice.url, env)
    assert status == 200, ns
    assert ns["namespace_name"] == "production"
    assert ns["feature_extractors"][0]["feature_extractor_name"] == "multimodal_extractor"
    env["NAMESPACE_ID"] = ns["namespace_id"]

    status, bucket = run(find(commands, "POST", "/v1/buckets"), sluice.url, env)
    assert status == 200, bucket
    assert bucket["bucket_schema"]["properties"]["product_text"]["required"] is True
    env["BUCKET_ID"] = bucket["bucket_id"]

    status, obj = run(find(commands, "POST", "/objects"), sluice.url, env)
    assert status == 200, obj
    blobs = {b["property"]: b for b in obj["blobs"]}
    assert blobs["hero_image"]["properties"]["url"] == "https://example.com/photo.jpg"
    assert blobs["product_text"]["details"]["size_bytes"] == len("Wireless headphones")
    assert obj["key_prefix"] == "/products"
    assert obj["status"] == "PENDING"

    listed = sluice.call("GET", f"/v1/buckets/{bucket['bucket_id']}/objects", ns=ns["namespace_id"]).json()
    assert [o["object_id"] for o in listed["results"]] == [obj["object_id"]]
    # The inline text was really stored: its presigned URL serves it back.
    got = sluice.call("GET", f"/v1/buckets/{bucket['bucket_id']}/objects/{obj['object_id']}?return_presigned_urls=true", ns="production").json()
    url = {b["property"]: b for b in got["blobs"]}["product_text"]["presigned_url"]
    assert requests.get(url, timeout=10).text == "Wireless headphones"

    # The direct upload, verbatim: the file alone cannot make an object (the schema also
    # requires product_text), so it is uploaded and confirmed on its own, and the
    # response says how to make the object from it.
    status, up = run(find(commands, "POST", "/uploads"), sluice.url, env)
    assert status == 200, up
    assert up["create_object_on_confirm"] is False and "product_text" in up["message"], up
    jpeg = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(jpeg, "JPEG")
    put = requests.put(up["presigned_url"], data=jpeg.getvalue(), headers={"Content-Type": "image/jpeg"}, timeout=10)
    assert put.status_code == 200, put.text
    ns_id, bucket_id = ns["namespace_id"], bucket["bucket_id"]
    done = sluice.call("POST", f"/v1/buckets/{bucket_id}/uploads/{up['upload_id']}/confirm", ns=ns_id, json={}).json()
    assert done["status"] == "COMPLETED" and done["object_id"] is None, done
    made = sluice.call("POST", f"/v1/buckets/{bucket_id}/objects", ns=ns_id, json={"blobs": [
        {"property": "hero_image", "type": "image", "upload_id": up["upload_id"]},
        {"property": "product_text", "type": "text", "content": "Studio monitor headphones"},
    ]})
    assert made.status_code == 200, made.text
    assert {b["property"]: b for b in made.json()["blobs"]}["hero_image"]["properties"]["upload_id"] == up["upload_id"]
