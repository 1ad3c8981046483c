use serde_json::json;
use sha2::{Digest, Sha256};

use super::{parse, reload, space};
use crate::app::objects;
use crate::app::uploads::{self, ConfirmUpload};
use crate::error::Error;
use crate::ports::BlobStore;
use crate::testing::Memory;

fn text_upload() -> uploads::CreateUpload {
    parse(
        json!({"filename": "note.txt", "content_type": "text/plain", "blob_property": "body",
                 "object_metadata": {"n": 7}}),
    )
}

#[tokio::test]
async fn put_then_confirm_creates_the_object_over_exactly_those_bytes() {
    let m = Memory::new();
    let (ns, bucket) = space(&m).await;
    let issued = uploads::create(&m.ctx, &bucket, text_upload())
        .await
        .unwrap();
    assert_eq!(issued.status, "PENDING");
    let url = issued.presigned_url.expect("a single PUT URL");
    m.blobs.put_signed(&url, &b"field notes"[..]).unwrap();
    let done = uploads::confirm(
        &m.ctx,
        &bucket,
        &issued.upload_id,
        &ConfirmUpload::default(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(done.status, "COMPLETED");
    assert_eq!(
        done.file_hash.as_deref(),
        Some(hex::encode(Sha256::digest(b"field notes")).as_str())
    );
    let object = objects::get(&m.ctx, &bucket, done.object_id.as_deref().unwrap())
        .await
        .unwrap();
    // The object reads a key the URL cannot write, holding exactly the confirmed bytes;
    // the URL's key is retired, so replaying the PUT changes nothing.
    let read_from = object.blobs[0].storage_key().unwrap().to_string();
    assert_ne!(read_from, issued.s3_key);
    assert_eq!(done.blob_key.as_deref(), Some(read_from.as_str()));
    assert!(!m.blobs.keys().contains(&issued.s3_key));
    assert!(m.blobs.put_signed(&url, &b"other bytes"[..]).is_err());
    assert_eq!(
        m.blobs.get(&read_from).await.unwrap().as_deref(),
        Some(&b"field notes"[..])
    );
    assert_eq!(object.metadata["n"], 7);
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 1);
    // Confirming again returns the same result and makes no second object.
    let again = uploads::confirm(
        &m.ctx,
        &bucket,
        &issued.upload_id,
        &ConfirmUpload::default(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(again.object_id, done.object_id);
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 1);
    // ...but only for the file confirmed: another size or ETag is a conflict, named.
    for (req, field) in [
        (json!({"file_size_bytes": 5}), "file_size_bytes"),
        (json!({"etag": "\"0000\""}), "etag"),
    ] {
        let err = uploads::confirm(&m.ctx, &bucket, &issued.upload_id, &parse(req), None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Conflict(m) if m.starts_with(field)),
            "{err:?}"
        );
    }
    let same = json!({"file_size_bytes": 11, "etag": done.etag.clone().unwrap()});
    uploads::confirm(&m.ctx, &bucket, &issued.upload_id, &parse(same), None)
        .await
        .expect("the same file's size and ETag replay");
}

#[tokio::test]
async fn a_confirm_before_the_bytes_arrive_changes_nothing() {
    let m = Memory::new();
    let (_, bucket) = space(&m).await;
    let issued = uploads::create(&m.ctx, &bucket, text_upload())
        .await
        .unwrap();
    let early = uploads::confirm(
        &m.ctx,
        &bucket,
        &issued.upload_id,
        &ConfirmUpload::default(),
        None,
    )
    .await;
    assert!(early.is_err(), "{early:?}");
    let (up, _) = uploads::get(&m.ctx, &bucket, &issued.upload_id)
        .await
        .unwrap();
    assert_eq!(up.status, "PENDING");
}

#[tokio::test]
async fn a_wrong_size_is_refused_naming_the_field() {
    let m = Memory::new();
    let (_, bucket) = space(&m).await;
    let issued = uploads::create(&m.ctx, &bucket, text_upload())
        .await
        .unwrap();
    m.blobs
        .put_signed(issued.presigned_url.as_deref().unwrap(), &b"12345"[..])
        .unwrap();
    let wrong = ConfirmUpload {
        file_size_bytes: Some(6),
        ..ConfirmUpload::default()
    };
    let err = uploads::confirm(&m.ctx, &bucket, &issued.upload_id, &wrong, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("file_size_bytes"), "{err}");
}

#[tokio::test]
async fn a_canceled_upload_cannot_be_confirmed_and_a_completed_one_cannot_be_canceled() {
    let m = Memory::new();
    let (_, bucket) = space(&m).await;
    let first = uploads::create(&m.ctx, &bucket, text_upload())
        .await
        .unwrap();
    let canceled = uploads::cancel(&m.ctx, &bucket, &first.upload_id)
        .await
        .unwrap();
    assert_eq!(canceled.status, "CANCELED");
    let late = uploads::confirm(
        &m.ctx,
        &bucket,
        &first.upload_id,
        &ConfirmUpload::default(),
        None,
    )
    .await;
    assert!(matches!(late, Err(Error::Conflict(_))), "{late:?}");

    let second = uploads::create(&m.ctx, &bucket, text_upload())
        .await
        .unwrap();
    m.blobs
        .put_signed(second.presigned_url.as_deref().unwrap(), &b"kept"[..])
        .unwrap();
    uploads::confirm(
        &m.ctx,
        &bucket,
        &second.upload_id,
        &ConfirmUpload::default(),
        None,
    )
    .await
    .unwrap();
    let refused = uploads::cancel(&m.ctx, &bucket, &second.upload_id).await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
}

#[tokio::test]
async fn a_bulk_confirm_runs_as_a_task_on_the_tasks_queue() {
    let m = Memory::new();
    let (ns, bucket) = space(&m).await;
    let mut ids = Vec::new();
    for body in ["a", "b"] {
        let up = uploads::create(&m.ctx, &bucket, text_upload())
            .await
            .unwrap();
        m.blobs
            .put_signed(
                up.presigned_url.as_deref().unwrap(),
                body.as_bytes().to_vec(),
            )
            .unwrap();
        ids.push(up.upload_id);
    }
    ids.push("upl_missing".into());
    let queued = uploads::confirm_bulk(
        &m.ctx,
        &ns,
        &bucket,
        parse(json!({"confirmations": ids.iter().map(|i| json!({"upload_id": i})).collect::<Vec<_>>()})),
    )
    .await
    .unwrap();
    assert!(m.run_queues().await.is_empty());
    let task = crate::app::tasks::get(&m.ctx, &ns.org_id, &queued.task_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.status, "COMPLETED_WITH_ERRORS", "{task:?}");
    assert_eq!(reload(&m, &ns, &bucket).await.object_count, 2);
}

/// S3 cannot refuse a presigned PUT before the URL expires: the notification of a late
/// write to a finished upload removes the bytes, and the object keeps reading its own.
#[tokio::test]
async fn a_late_write_to_a_finished_upload_is_removed_on_notice() {
    let m = Memory::new();
    let (_, bucket) = space(&m).await;
    let mut staged = Vec::new();
    for cancel in [false, true] {
        let issued = uploads::create(&m.ctx, &bucket, text_upload())
            .await
            .unwrap();
        let url = issued.presigned_url.clone().unwrap();
        if cancel {
            uploads::cancel(&m.ctx, &bucket, &issued.upload_id)
                .await
                .unwrap();
        } else {
            m.blobs.put_signed(&url, &b"field notes"[..]).unwrap();
            uploads::on_stored(&m.ctx, &issued.s3_key).await.unwrap();
        }
        // What S3 would accept from the still-valid URL.
        m.blobs
            .put(&issued.s3_key, bytes::Bytes::from_static(b"late"), None)
            .await
            .unwrap();
        uploads::on_stored(&m.ctx, &issued.s3_key).await.unwrap();
        assert!(m.blobs.get(&issued.s3_key).await.unwrap().is_none());
        staged.push(issued.upload_id);
    }
    let (done, _) = uploads::get(&m.ctx, &bucket, &staged[0]).await.unwrap();
    let object = objects::get(&m.ctx, &bucket, done.object_id.as_deref().unwrap())
        .await
        .unwrap();
    let key = object.blobs[0].storage_key().unwrap();
    assert_eq!(
        m.blobs.get(key).await.unwrap().as_deref(),
        Some(&b"field notes"[..])
    );
    let (canceled, _) = uploads::get(&m.ctx, &bucket, &staged[1]).await.unwrap();
    assert_eq!(canceled.status, "CANCELED");
}
