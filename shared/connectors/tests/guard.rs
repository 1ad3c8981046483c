//! The network guard under the S3 client: names are resolved once, by the guard, and
//! the client connects to the vetted address, so neither a virtual-hosted bucket name
//! nor a name that rebinds between lookups reaches a forbidden address. Loopback stands
//! in for both networks: the guard here forbids only 127.0.0.2, where a listener counts
//! every connection that reaches it.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::json;
use sluice_connectors::{ApiUrls, Registry};
use sluice_core::domain::connections::ProviderConfig;
use sluice_core::net::{Lookup, NetGuard};
use sluice_core::ports::{Connectors, SourceError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const EMPTY_LISTING: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>10</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>";

/// Answers every request with an empty S3 listing; counts connections.
async fn serve(ip: &str, port: u16) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind((ip, port)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{EMPTY_LISTING}",
                    EMPTY_LISTING.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    (port, accepted)
}

fn private(ip: IpAddr) -> bool {
    ip == IpAddr::from([127, 0, 0, 2])
}

fn connectors(lookup: Lookup) -> Registry {
    let base = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let urls = ApiUrls {
        backblaze: "http://127.0.0.1:1".into(),
        ..ApiUrls::from_config(&sluice_core::Config::default())
    };
    Registry::guarded(Some(NetGuard::with(private, lookup)), urls).with_sdk(&base)
}

/// A checked connection of `provider` at `endpoint`.
fn config(provider: &str, endpoint: String) -> ProviderConfig {
    let config = json!({"endpoint_url": endpoint, "credentials": {
        "type": "access_key", "access_key_id": "AK", "secret_access_key": "SK"}});
    connectors(Arc::new(|_| Box::pin(async { Ok(vec![]) })))
        .check(provider, config.as_object().unwrap())
        .unwrap()
}

#[tokio::test]
async fn a_virtual_hosted_bucket_name_is_judged_by_where_it_resolves() {
    let (port, public) = serve("127.0.0.1", 0).await;
    let (_, reached) = serve("127.0.0.2", port).await;
    let lookup: Lookup = Arc::new(|host: String| {
        Box::pin(async move {
            Ok(match host.as_str() {
                "vh.test" => vec![IpAddr::from([127, 0, 0, 1])],
                "src-g.vh.test" => vec![IpAddr::from([127, 0, 0, 2])],
                "ok.vh.test" => vec![IpAddr::from([127, 0, 0, 1])],
                _ => vec![],
            })
        })
    });
    let c = connectors(lookup);
    // Tigris addresses buckets by virtual host: the name connected to is `src-g.vh.test`.
    let source = c
        .open(&config("tigris", format!("http://vh.test:{port}")), "src-g")
        .await
        .unwrap();
    match source.list("", None, 10).await {
        Err(SourceError::Invalid(why)) => {
            assert!(why.contains("src-g.vh.test resolves to 127.0.0.2"), "{why}")
        }
        other => panic!("not refused: {other:?}"),
    }
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "a forbidden address was reached"
    );
    // The same through a bucket whose name resolves to an allowed address works.
    let source = c
        .open(&config("tigris", format!("http://vh.test:{port}")), "ok")
        .await
        .unwrap();
    source.list("", None, 10).await.unwrap();
    assert!(public.load(Ordering::SeqCst) >= 1);
    // An endpoint written as a forbidden address is refused before any connection.
    let refused = c
        .open(&config("s3", format!("http://127.0.0.2:{port}")), "b")
        .await;
    assert!(
        matches!(refused, Err(SourceError::Invalid(_))),
        "{:?}",
        refused.err()
    );
    assert_eq!(reached.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_name_that_rebinds_between_lookups_never_reaches_the_forbidden_address() {
    let (port, public) = serve("127.0.0.1", 0).await;
    let (_, reached) = serve("127.0.0.2", port).await;
    // TTL 0: every lookup answers differently, allowed then forbidden.
    let calls = Arc::new(AtomicUsize::new(0));
    let lookup: Lookup = Arc::new(move |_host: String| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            Ok(vec![if n.is_multiple_of(2) {
                IpAddr::from([127, 0, 0, 1])
            } else {
                IpAddr::from([127, 0, 0, 2])
            }])
        })
    });
    let c = connectors(lookup);
    let source = c
        .open(&config("s3", format!("http://rebind.test:{port}")), "b")
        .await
        .unwrap();
    let (mut listed, mut refused) = (0, 0);
    for _ in 0..6 {
        match source.list("", None, 10).await {
            Ok(_) => listed += 1,
            Err(SourceError::Invalid(why)) if why.contains("private or reserved") => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(
        listed >= 1 && refused >= 1,
        "listed {listed}, refused {refused}"
    );
    assert!(public.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "a forbidden address was reached"
    );
}
