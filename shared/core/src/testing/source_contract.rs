//! The `Source` port's contract as public checks, run on every provider: the in-memory
//! source here, S3 on moto, GCS on fake-gcs-server and the rest in `sluice-connectors`'s
//! tests. A [`SourceFixture`] gives each check a fresh, empty container and the means to
//! change it behind the source's back.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;

use crate::ports::{Source, SourceEntry, SourceError, SourceResult};

/// A provider under test: one fresh container per check.
#[async_trait]
pub trait SourceFixture: Send + Sync {
    /// The source over the container, with working credentials.
    async fn source(&self) -> Arc<dyn Source>;
    /// Writes (or overwrites) a file.
    async fn put(&self, key: &str, bytes: &[u8]);
    async fn remove(&self, key: &str);
    /// The container opened with credentials the provider refuses.
    async fn refused(&self) -> Arc<dyn Source>;
    /// The container opened so that the next `n` requests are answered 429 with
    /// `Retry-After: 1` (the provider's own throttling, or a proxy's before it).
    async fn throttled(&self, n: usize) -> Arc<dyn Source>;
    /// The key a file written as `written` is listed under (a Mux asset is `{id}.mp4`).
    fn listed_key(&self, written: &str) -> String {
        written.to_string()
    }
    /// Whether a key ending in `/` is a file (an object store's 0-byte folder marker)
    /// rather than a folder (Box's, never listed as a file).
    fn folders_are_files(&self) -> bool {
        true
    }
}

/// One `#[tokio::test]` per check, each on a fixture from `$fixture`: an async fn
/// returning `Option<F>` (`None` skips, as when an emulator is not running here).
#[macro_export]
macro_rules! source_contract_tests {
    ($fixture:path) => {
        $crate::source_contract_tests!(@each $fixture;
            pages_cover_the_listing_once_in_order, versions_change_on_overwrite_only,
            awkward_keys_list_and_read_as_written, an_empty_file_reads_empty,
            a_file_deleted_after_listing_is_missing, a_file_changed_after_listing_is_refused,
            refused_credentials_are_denied, throttling_says_when_and_then_serves,
            a_body_over_the_limit_is_cut_off);
    };
    (@each $fixture:path; $($check:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            if let Some(fixture) = $fixture().await {
                $crate::testing::source_contract::$check(&fixture).await;
            }
        }
    )*};
}

/// Every entry under `prefix`, `limit` a page, and the number of pages: each listing
/// followed to its end, then the listings the source deferred, first in first out (as
/// the engine walks them).
pub async fn list_all(
    source: &dyn Source,
    prefix: &str,
    limit: usize,
) -> SourceResult<(Vec<SourceEntry>, usize)> {
    let (mut all, mut pages, mut token) = (Vec::new(), 0, None::<String>);
    let mut deferred = std::collections::VecDeque::new();
    loop {
        let page = source.list(prefix, token.as_deref(), limit).await?;
        pages += 1;
        all.extend(page.entries);
        deferred.extend(page.deferred);
        token = match page.next.or_else(|| deferred.pop_front()) {
            Some(next) => Some(next),
            None => return Ok((all, pages)),
        };
        assert!(pages < 10_000, "the listing does not end");
    }
}

/// A file's whole body, as a reader drains it.
pub async fn read_all(source: &dyn Source, key: &str, etag: &str, max: u64) -> SourceResult<Bytes> {
    let body = source.read(key, etag, max).await?;
    let chunks: Vec<Bytes> = body.chunks.try_collect().await?;
    Ok(chunks.concat().into())
}

fn entry<'a>(entries: &'a [SourceEntry], key: &str) -> &'a SourceEntry {
    entries
        .iter()
        .find(|e| e.key == key)
        .unwrap_or_else(|| panic!("{key:?} not listed in {:?}", keys(entries)))
}

fn keys(entries: &[SourceEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.key.as_str()).collect()
}

pub async fn pages_cover_the_listing_once_in_order(f: &impl SourceFixture) {
    let names: Vec<String> = (0..7).map(|i| format!("p/file-{i}.txt")).collect();
    for n in &names {
        f.put(n, n.as_bytes()).await;
    }
    f.put("elsewhere.txt", b"not under the prefix").await;
    let source = f.source().await;
    let (listed, pages) = list_all(source.as_ref(), "p/", 3).await.unwrap();
    assert!(pages >= 3, "7 files at 3 a page came in {pages} page(s)");
    let mut got: Vec<&str> = keys(&listed);
    if source.capabilities().ordered_listing {
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(got, sorted, "a source that promises key order keeps it");
    }
    // A source without paths (a feed) lists everything; the rest list under the prefix.
    let elsewhere = f.listed_key("elsewhere.txt");
    got.retain(|k| *k != elsewhere || f.listed_key("p/") == "p/");
    got.sort();
    let mut want: Vec<String> = names.iter().map(|n| f.listed_key(n)).collect();
    want.sort();
    assert_eq!(
        got,
        want.iter().map(String::as_str).collect::<Vec<_>>(),
        "each file once"
    );
    for n in &names {
        assert_eq!(entry(&listed, &f.listed_key(n)).size, n.len() as u64, "{n}");
    }
}

pub async fn versions_change_on_overwrite_only(f: &impl SourceFixture) {
    f.put("v.txt", b"one").await;
    f.put("w.txt", b"other").await;
    let source = f.source().await;
    let token = |entries: &[SourceEntry], k: &str| entry(entries, &f.listed_key(k)).version_token();
    let (first, _) = list_all(source.as_ref(), "", 100).await.unwrap();
    let (again, _) = list_all(source.as_ref(), "", 100).await.unwrap();
    assert_eq!(
        token(&first, "v.txt"),
        token(&again, "v.txt"),
        "listing twice changes nothing"
    );
    // Some stores keep a version per second: let the clock move.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    f.put("v.txt", b"two").await;
    let (after, _) = list_all(source.as_ref(), "", 100).await.unwrap();
    assert_ne!(
        token(&first, "v.txt"),
        token(&after, "v.txt"),
        "an overwrite is a new version"
    );
    assert_eq!(
        token(&first, "w.txt"),
        token(&after, "w.txt"),
        "the other file kept its version"
    );
}

/// Keys a provider must give back byte for byte.
pub const AWKWARD_KEYS: &[&str] = &[
    "with spaces/a file.txt",
    "ünïcödé/ファイル.txt",
    "double//slash.txt",
    "plus+and%percent.txt",
];

pub async fn awkward_keys_list_and_read_as_written(f: &impl SourceFixture) {
    for k in AWKWARD_KEYS {
        f.put(k, k.as_bytes()).await;
    }
    f.put("folder/", b"").await; // a folder marker: listed, 0 bytes
    let source = f.source().await;
    let (listed, _) = list_all(source.as_ref(), "", 100).await.unwrap();
    for k in AWKWARD_KEYS {
        let e = entry(&listed, &f.listed_key(k));
        let got = read_all(source.as_ref(), &e.key, &e.etag, 1 << 20)
            .await
            .unwrap();
        assert_eq!(got.as_ref(), k.as_bytes(), "{k}");
    }
    if f.folders_are_files() {
        assert_eq!(entry(&listed, &f.listed_key("folder/")).size, 0);
    } else {
        let folder = listed
            .iter()
            .find(|e| e.path().trim_end_matches('/') == "folder");
        assert!(folder.is_none(), "a folder listed as a file: {folder:?}");
    }
}

pub async fn an_empty_file_reads_empty(f: &impl SourceFixture) {
    f.put("empty.bin", b"").await;
    let source = f.source().await;
    let (listed, _) = list_all(source.as_ref(), "", 10).await.unwrap();
    let e = entry(&listed, &f.listed_key("empty.bin"));
    assert_eq!(e.size, 0);
    let got = read_all(source.as_ref(), &e.key, &e.etag, 10)
        .await
        .unwrap();
    assert!(got.is_empty());
}

pub async fn a_file_deleted_after_listing_is_missing(f: &impl SourceFixture) {
    f.put("gone.txt", b"soon gone").await;
    let source = f.source().await;
    let (listed, _) = list_all(source.as_ref(), "", 10).await.unwrap();
    let key = f.listed_key("gone.txt");
    let etag = entry(&listed, &key).etag.clone();
    f.remove("gone.txt").await;
    match read_all(source.as_ref(), &key, &etag, 1024).await {
        Err(SourceError::Missing(_)) => {}
        other => panic!("a deleted file must read as Missing: {other:?}"),
    }
}

pub async fn a_file_changed_after_listing_is_refused(f: &impl SourceFixture) {
    f.put("moving.txt", b"as listed").await;
    let source = f.source().await;
    let (listed, _) = list_all(source.as_ref(), "", 10).await.unwrap();
    let key = f.listed_key("moving.txt");
    let etag = entry(&listed, &key).etag.clone();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    f.put("moving.txt", b"changed since").await;
    if !source.capabilities().conditional_read {
        return;
    }
    match read_all(source.as_ref(), &key, &etag, 1024).await {
        Err(SourceError::Changed(_)) => {}
        other => panic!("a changed file must not be read as the listed one: {other:?}"),
    }
}

pub async fn refused_credentials_are_denied(f: &impl SourceFixture) {
    f.put("any.txt", b"x").await;
    let source = f.refused().await;
    match source.list("", None, 10).await {
        Err(SourceError::Denied(_)) => {}
        other => panic!("refused credentials must be Denied, never an empty listing: {other:?}"),
    }
}

pub async fn throttling_says_when_and_then_serves(f: &impl SourceFixture) {
    f.put("t.txt", b"x").await;
    let source = f.throttled(1).await;
    match source.list("", None, 10).await {
        Err(SourceError::Throttled {
            retry_after: Some(after),
            ..
        }) => assert!(after >= Duration::from_secs(1), "{after:?}"),
        other => panic!("a 429 with Retry-After must be Throttled with it: {other:?}"),
    }
    let page = source.list("", None, 10).await.unwrap();
    assert_eq!(keys(&page.entries), vec![f.listed_key("t.txt").as_str()]);
}

pub async fn a_body_over_the_limit_is_cut_off(f: &impl SourceFixture) {
    let big = vec![7u8; 256 * 1024];
    f.put("big.bin", &big).await;
    let source = f.source().await;
    let (listed, _) = list_all(source.as_ref(), "", 10).await.unwrap();
    let key = f.listed_key("big.bin");
    let etag = entry(&listed, &key).etag.clone();
    match read_all(source.as_ref(), &key, &etag, 1000).await {
        Err(SourceError::TooLarge(_)) => {}
        other => panic!(
            "256 KiB read under a 1 000-byte limit: {:?}",
            other.map(|b| b.len())
        ),
    }
    let whole = read_all(source.as_ref(), &key, &etag, big.len() as u64)
        .await
        .unwrap();
    assert_eq!(whole.len(), big.len(), "exactly at the limit is allowed");
}

/// What a throttling provider answers.
pub const TOO_MANY_REQUESTS: &str = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// A loopback proxy before an HTTP emulator: answers the next `n` connections with a
/// canned response (429 with `Retry-After: 1`, as a throttling provider would; an
/// emulator's missing auth check, as a provider that refuses a key would), and
/// forwards the rest.
pub struct Interposer {
    pub url: String,
    canned: Arc<std::sync::Mutex<(usize, &'static str)>>,
}

impl Interposer {
    /// Before `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let canned = Arc::new(std::sync::Mutex::new((0usize, "")));
        let plan = canned.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let answer = {
                    let mut p = plan.lock().unwrap_or_else(|e| e.into_inner());
                    (p.0 > 0).then(|| {
                        p.0 -= 1;
                        p.1
                    })
                };
                tokio::spawn(serve(client, upstream.clone(), answer));
            }
        });
        Interposer { url, canned }
    }

    /// The next `n` connections get `response` (a whole HTTP/1.1 response).
    pub fn answer(&self, n: usize, response: &'static str) {
        *self.canned.lock().unwrap_or_else(|e| e.into_inner()) = (n, response);
    }
}

async fn serve(mut client: tokio::net::TcpStream, upstream: String, answer: Option<&str>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if let Some(response) = answer {
        // Read the request's head first: a client that is still sending may not read.
        let mut buf = vec![0u8; 64 * 1024];
        let _ = tokio::time::timeout(Duration::from_millis(200), client.read(&mut buf)).await;
        let _ = client.write_all(response.as_bytes()).await;
        let _ = client.shutdown().await;
        return;
    }
    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }
}
