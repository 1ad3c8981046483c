//! Uploads end to end, and the S3 presigned URLs on moto.

use super::*;

/// Uploads on both backends: issue → bytes land (as a presigned PUT would store them)
/// → confirm → object; then double confirm, expiry and the sweeper.
async fn upload_flow(ctx: AppContext) {
    use sha2::Digest;
    let c = Client::new(ctx.clone()).await;
    let (ns_id, bkt) = c
        .space("uploads", json!({"photo": {"type": "image"}}))
        .await;
    let bytes = Bytes::from_static(b"\x89PNG\r\n\x1a\nnot really a png");
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    let (s, up) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/uploads"),
            Some(&ns_id),
            Some(json!({"filename": "a.png", "content_type": "image/png", "file_size_bytes": bytes.len(), "file_hash": sha})),
        )
        .await;
    assert_eq!(s, 200, "{up}");
    let upl = up["upload_id"].as_str().unwrap().to_string();
    let url = up["presigned_url"].as_str().unwrap();
    assert_eq!(up["status"], json!("PENDING"));
    assert_eq!(up["blob_property"], json!("photo"));
    // Each store signs what it must enforce: S3 in SigV4's signed headers, the local
    // store in its own signed parameters. A URL of neither kind fails here.
    let query: Vec<(String, String)> = url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if url.starts_with("http://blobs.memory.invalid/") {
        // The in-memory store's URLs stand in for a client's PUT; nothing is signed.
    } else if url.contains(sluice_backend_local::BLOB_ROUTE) {
        assert_eq!(param("X-Sluice-Content-Type").as_deref(), Some("image/png"));
        assert_eq!(
            param("X-Sluice-Content-Length"),
            Some(bytes.len().to_string())
        );
        assert_eq!(param("X-Sluice-Checksum-Sha256"), Some(sha.clone()));
        assert!(param("X-Sluice-Signature").is_some(), "{url}");
    } else {
        let signed = param("X-Amz-SignedHeaders").unwrap_or_else(|| panic!("not SigV4: {url}"));
        for h in ["content-type", "content-length", "x-amz-checksum-sha256"] {
            assert!(signed.contains(h), "{h} not signed: {signed}");
        }
    }
    // Confirming before the bytes arrive is refused, and changes nothing.
    let confirm = format!("/v1/buckets/{bkt}/uploads/{upl}/confirm");
    let (s, e) = c.call("POST", &confirm, Some(&ns_id), None).await;
    assert_eq!(s, 409, "{e}");
    let key = format!("{ns_id}/{bkt}/uploads/{upl}/a.png");
    ctx.blobs
        .put(&key, bytes.clone(), Some("image/png"))
        .await
        .unwrap();
    // A size or ETag that differs from the stored file is refused; the upload stays pending.
    let (s, e) = c
        .call(
            "POST",
            &confirm,
            Some(&ns_id),
            Some(json!({"file_size_bytes": 5})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["details"]["field"].clone()),
        (422, json!("file_size_bytes")),
        "{e}"
    );
    let (s, e) = c
        .call(
            "POST",
            &confirm,
            Some(&ns_id),
            Some(json!({"etag": "\"0000\""})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["details"]["field"].clone()),
        (422, json!("etag")),
        "{e}"
    );
    let (s, done) = c
        .call(
            "POST",
            &confirm,
            Some(&ns_id),
            Some(json!({"file_size_bytes": bytes.len()})),
        )
        .await;
    assert_eq!(s, 200, "{done}");
    assert_eq!(done["status"], json!("COMPLETED"));
    assert_eq!(done["file_hash"], json!(sha));
    let object_id = done["object_id"].as_str().unwrap().to_string();
    let (_, again) = c.call("POST", &confirm, Some(&ns_id), None).await;
    assert_eq!(again["object_id"], json!(object_id));
    let (_, obj) = c
        .call(
            "GET",
            &format!("/v1/buckets/{bkt}/objects/{object_id}"),
            Some(&ns_id),
            None,
        )
        .await;
    // The object reads the promoted copy, which no presigned URL names; the URL's key
    // is retired.
    let promoted = format!("{ns_id}/{bkt}/files/{upl}/a.png");
    assert_eq!(
        obj["blobs"][0]["properties"]["storage_key"],
        json!(promoted)
    );
    assert!(ctx.blobs.head(&key).await.unwrap().is_none());
    assert_eq!(ctx.blobs.get(&promoted).await.unwrap().unwrap(), bytes);
    assert_eq!(obj["blobs"][0]["details"]["hash"], json!(sha));
    let (_, bucket) = c
        .call("GET", &format!("/v1/buckets/{bkt}"), Some(&ns_id), None)
        .await;
    assert_eq!(bucket["object_count"], json!(1));
    // Same bytes again: the completed upload is returned, and no URL.
    let (_, dup) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/uploads"),
            Some(&ns_id),
            Some(json!({"filename": "b.png", "content_type": "image/png", "file_hash": sha})),
        )
        .await;
    assert_eq!(dup["is_duplicate"], json!(true));
    assert_eq!(dup["duplicate_of_upload_id"], json!(upl));
    assert!(dup["presigned_url"].is_null());

    // Expiry: an upload whose time has passed fails on read and loses its bytes...
    let (_, late) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/uploads"),
            Some(&ns_id),
            Some(json!({"filename": "late.png", "content_type": "image/png"})),
        )
        .await;
    let late_id = late["upload_id"].as_str().unwrap().to_string();
    let late_key = format!("{ns_id}/{bkt}/uploads/{late_id}/late.png");
    ctx.blobs
        .put(&late_key, bytes.clone(), Some("image/png"))
        .await
        .unwrap();
    let upload_key = Key::new(format!("BKT#{bkt}"), format!("UPL#{late_id}"));
    let past = Write::Update {
        key: upload_key.clone(),
        updates: vec![
            Update::Set("expires_at".into(), json!("2020-01-01T00:00:00Z")),
            Update::Set(
                "gsi1sk".into(),
                json!(format!("{:012}#{late_id}", 1577836800)),
            ),
        ],
        cond: Cond::Exists,
    };
    ctx.table.write(past.clone()).await.unwrap();
    let (_, got) = c
        .call(
            "GET",
            &format!("/v1/buckets/{bkt}/uploads/{late_id}"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(got["status"], json!("FAILED"), "{got}");
    assert!(ctx.blobs.head(&late_key).await.unwrap().is_none());
    let (s, _) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/uploads/{late_id}/confirm"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(s, 409);
    // ...and the sweeper finds the ones nobody reads.
    let (_, swept) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/uploads"),
            Some(&ns_id),
            Some(json!({"filename": "swept.png", "content_type": "image/png"})),
        )
        .await;
    let swept_id = swept["upload_id"].as_str().unwrap().to_string();
    ctx.table
        .write(Write::Update {
            key: Key::new(format!("BKT#{bkt}"), format!("UPL#{swept_id}")),
            updates: vec![
                Update::Set("expires_at".into(), json!("2020-01-01T00:00:00Z")),
                Update::Set(
                    "gsi1sk".into(),
                    json!(format!("{:012}#{swept_id}", 1577836800)),
                ),
            ],
            cond: Cond::Exists,
        })
        .await
        .unwrap();
    assert!(
        sluice_core::app::uploads::sweep_expired(&ctx)
            .await
            .unwrap()
            >= 1
    );
    let (_, gone) = c
        .call(
            "GET",
            &format!("/v1/buckets/{bkt}/uploads/{swept_id}"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(gone["status"], json!("FAILED"));
    // Completed uploads cannot be deleted; pending ones are canceled.
    let (s, _) = c
        .call(
            "DELETE",
            &format!("/v1/buckets/{bkt}/uploads/{upl}"),
            Some(&ns_id),
            None,
        )
        .await;
    assert_eq!(s, 409);
}

/// A bare HTTP/1.1 PUT (the stand-in S3 is plain HTTP on loopback); returns status and
/// the ETag header.
fn http_put(url: &str, body: &[u8], headers: &[(&str, &str)]) -> (u16, Option<String>) {
    use std::io::{Read, Write as _};
    let u = url::Url::parse(url).unwrap();
    let host = format!(
        "{}:{}",
        u.host_str().unwrap(),
        u.port_or_known_default().unwrap()
    );
    let mut conn = std::net::TcpStream::connect(&host).unwrap();
    let target = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    let mut req = format!(
        "PUT {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut resp = String::new();
    conn.read_to_string(&mut resp).unwrap();
    let status = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
    let etag = resp
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("etag:"))
        .map(|l| l[5..].trim().to_string());
    (status, etag)
}

/// Presigned single and multipart PUTs against S3 (moto): the URLs work, and the
/// multipart calls join the parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_presigned_puts_on_moto() {
    let Some(ctx) = moto_ctx().await else { return };
    use sluice_core::ports::{PartRef, PutConstraints};
    let b = ctx.blobs.as_ref();
    let body = b"a presigned body".to_vec();
    let pinned = PutConstraints {
        content_type: Some("text/plain".into()),
        content_length: Some(body.len() as u64),
        ..Default::default()
    };
    let url = b
        .presign_put(
            "ns/bkt/uploads/upl_1/a.txt",
            &pinned,
            Duration::from_secs(300),
        )
        .await
        .unwrap();
    let (status, _) = tokio::task::spawn_blocking(move || {
        http_put(&url, &body, &[("Content-Type", "text/plain")])
    })
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        b.head("ns/bkt/uploads/upl_1/a.txt")
            .await
            .unwrap()
            .unwrap()
            .size,
        16
    );

    let key = "ns/bkt/uploads/upl_2/big.bin";
    let id = b
        .create_multipart(key, "application/octet-stream")
        .await
        .unwrap();
    let part_len = 5 * 1024 * 1024;
    let data: Vec<u8> = (0..part_len + 1000).map(|i| (i % 251) as u8).collect();
    let mut parts = Vec::new();
    for (n, chunk) in [(1u32, &data[..part_len]), (2, &data[part_len..])] {
        let pinned = PutConstraints {
            content_length: Some(chunk.len() as u64),
            part: Some(PartRef {
                multipart_id: id.clone(),
                number: n,
            }),
            ..Default::default()
        };
        let url = b
            .presign_put(key, &pinned, Duration::from_secs(300))
            .await
            .unwrap();
        let chunk = chunk.to_vec();
        let size = chunk.len() as u64;
        let (status, etag) = tokio::task::spawn_blocking(move || http_put(&url, &chunk, &[]))
            .await
            .unwrap();
        assert_eq!(status, 200);
        parts.push(sluice_core::ports::StoredPart {
            number: n,
            etag: etag.unwrap(),
            size,
        });
    }
    // (ListParts is not checked here: moto answers it with a <ListPartsResponse> root
    // that the SDK, like S3's schema, does not accept.)
    b.complete_multipart(key, &id, &parts).await.unwrap();
    assert_eq!(b.get(key).await.unwrap().unwrap().to_vec(), data);
    // Aborting a finished or unknown upload is harmless.
    b.abort_multipart(key, &id).await.unwrap();
}

/// The presigned-URL attacks on S3, as far as moto lets them be tested. moto checks
/// neither signatures nor expiry nor the signed length, type or checksum, so every PUT
/// below is accepted where S3 would refuse most of them. What is tested is what Sluice
/// itself guarantees after the store accepts: confirm refuses a file that is not the
/// declared one, and a late PUT to a finished upload's URL (which S3 too accepts until
/// the URL expires) never changes what the object reads and is removed on the store's
/// notice. Tamper, expiry, and a wrong type or a false `x-amz-checksum-sha256` header
/// are S3's to refuse and are not testable here; the local store's refusals of all of
/// them are in tests/e2e/test_uploads.py.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_presigned_attacks_on_moto() {
    use sha2::Digest;
    use sluice_core::app::uploads::on_stored;
    let Some(ctx) = moto_ctx().await else { return };
    let c = Client::new(ctx.clone()).await;
    let (ns, bkt) = c.space("attacks", json!({"body": {"type": "text"}})).await;
    let body = b"the declared file".to_vec();
    let sha = hex::encode(sha2::Sha256::digest(&body));
    let upload = |pinned: bool| {
        let mut req = json!({"filename": "n.txt", "content_type": "text/plain"});
        if pinned {
            req["file_size_bytes"] = json!(body.len());
            req["file_hash"] = json!(sha);
        }
        let c = &c;
        let (ns, bkt) = (ns.clone(), bkt.clone());
        async move {
            let (s, up) = c
                .call(
                    "POST",
                    &format!("/v1/buckets/{bkt}/uploads"),
                    Some(&ns),
                    Some(req),
                )
                .await;
            assert_eq!(s, 200, "{up}");
            let field = |f: &str| up[f].as_str().unwrap().to_string();
            (field("upload_id"), field("presigned_url"), field("s3_key"))
        }
    };
    let put = |url: String, bytes: Vec<u8>| async move {
        tokio::task::spawn_blocking(move || {
            http_put(&url, &bytes, &[("Content-Type", "text/plain")]).0
        })
        .await
        .unwrap()
    };
    let confirm = |id: String| {
        let c = &c;
        let (ns, bkt) = (ns.clone(), bkt.clone());
        async move {
            c.call(
                "POST",
                &format!("/v1/buckets/{bkt}/uploads/{id}/confirm"),
                Some(&ns),
                None,
            )
            .await
        }
    };
    let status_of = |id: String| {
        let c = &c;
        let (ns, bkt) = (ns.clone(), bkt.clone());
        async move {
            let (_, up) = c
                .call(
                    "GET",
                    &format!("/v1/buckets/{bkt}/uploads/{id}"),
                    Some(&ns),
                    None,
                )
                .await;
            up["status"].as_str().unwrap().to_string()
        }
    };

    // Longer than the signed length, and other bytes of the signed length sent without
    // the signed checksum header: moto stores both; confirm fails the upload, no object.
    for bytes in [[&body[..], b"!"].concat(), b"THE DECLARED FILE".to_vec()] {
        let (id, url, _) = upload(true).await;
        assert_eq!(
            put(url, bytes).await,
            200,
            "moto accepts what S3 would refuse"
        );
        let (s, e) = confirm(id.clone()).await;
        assert_eq!(s, 409, "{e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("does not match"),
            "{e}"
        );
        assert_eq!(status_of(id).await, "FAILED");
    }
    let (_, listed) = c
        .call(
            "POST",
            &format!("/v1/buckets/{bkt}/objects/list"),
            Some(&ns),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        listed["results"],
        json!([]),
        "a refused file made an object"
    );

    // Replayed after confirm with other bytes (no size or hash declared, as a plain
    // `curl -T` upload): S3 and moto accept it; the object still reads what was
    // confirmed, and the notice of the late write removes it.
    let (id, url, key) = upload(false).await;
    assert_eq!(put(url.clone(), body.clone()).await, 200);
    let (s, done) = confirm(id).await;
    assert_eq!(s, 200, "{done}");
    let object_id = done["object_id"].as_str().unwrap().to_string();
    assert_eq!(put(url, b"replaced after confirm".to_vec()).await, 200);
    on_stored(&ctx, &key).await.unwrap();
    assert!(
        ctx.blobs.head(&key).await.unwrap().is_none(),
        "the late bytes stayed"
    );
    let (_, obj) = c
        .call(
            "GET",
            &format!("/v1/buckets/{bkt}/objects/{object_id}"),
            Some(&ns),
            None,
        )
        .await;
    let read = obj["blobs"][0]["properties"]["storage_key"]
        .as_str()
        .unwrap();
    assert_ne!(read, key);
    assert_eq!(ctx.blobs.get(read).await.unwrap().unwrap().to_vec(), body);

    // After cancel: accepted, then removed on notice; nothing confirms it.
    let (id, url, key) = upload(false).await;
    let (s, _) = c
        .call(
            "DELETE",
            &format!("/v1/buckets/{bkt}/uploads/{id}"),
            Some(&ns),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(put(url, body.clone()).await, 200);
    on_stored(&ctx, &key).await.unwrap();
    assert!(ctx.blobs.head(&key).await.unwrap().is_none());
    assert_eq!(status_of(id.clone()).await, "CANCELED");
    assert_eq!(confirm(id).await.0, 409);
}

conformance!(upload_flow_on, upload_flow);
