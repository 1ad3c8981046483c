//! The one network guard for every outbound connection a tenant can aim: blob URLs,
//! webhook deliveries, and every request a storage connection makes (the S3 family's SDK
//! client and Backblaze's authorize call use it as their resolver). A URL may reach only
//! public addresses: an address written in the URL is judged as written; a name is
//! resolved once, by the guard, refused when any answer is special-purpose or when it
//! does not resolve, and the connection goes to the vetted answer (no second lookup, so
//! DNS rebinding has nothing to race). Redirects are checked hop by hop.
//! `allow_private` lifts the guard for local development and tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FetchError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Failed(String),
}

/// Whether an address is one a user-supplied URL must never reach: anything in IANA's
/// IPv4 and IPv6 special-purpose address registries, globally reachable or not (a
/// tenant's storage lives at ordinary unicast addresses).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

/// IPv4 special-purpose blocks (RFC 6890 registry), as (network, prefix length).
const V4_SPECIAL: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),       // "this network"
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // carrier-grade NAT
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local, the cloud metadata service
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation
    ([192, 31, 196, 0], 24), // AS112
    ([192, 52, 193, 0], 24), // AMT
    ([192, 88, 99, 0], 24),  // deprecated 6to4 relay anycast
    ([192, 168, 0, 0], 16),  // private
    ([192, 175, 48, 0], 24), // direct delegation AS112
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation
    ([203, 0, 113, 0], 24),  // documentation
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, and the limited broadcast address
];

/// IPv6 special-purpose blocks, as (first segments, prefix length).
const V6_SPECIAL: &[([u16; 8], u8)] = &[
    ([0, 0, 0, 0, 0, 0, 0, 0], 96), // unspecified, loopback, IPv4-compatible
    ([0, 0, 0, 0, 0xffff, 0, 0, 0], 96), // IPv4-translated
    ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96), // NAT64 well-known prefix
    ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), // NAT64 local use
    ([0x100, 0, 0, 0, 0, 0, 0, 0], 64), // discard-only
    ([0x100, 0, 0, 1, 0, 0, 0, 0], 64), // dummy prefix
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments: Teredo, ORCHID, AMT, benchmarking
    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
    ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16), // 6to4
    ([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48), // direct delegation AS112
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation
    ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16), // segment routing SIDs
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),  // unique local, includes AWS's fd00:ec2::254
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), // link-local
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), // site-local (deprecated, still routed privately)
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),  // multicast
];

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    V4_SPECIAL.iter().any(|(net, len)| {
        let mask = u32::MAX << (32 - u32::from(*len));
        ip & mask == u32::from_be_bytes(*net) & mask
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let ip = u128::from(ip);
    V6_SPECIAL.iter().any(|(net, len)| {
        let mask = u128::MAX << (128 - u32::from(*len));
        ip & mask == u128::from(Ipv6Addr::from(*net)) & mask
    })
}

/// Looks a name up: the system's resolver, or a stand-in (tests).
pub type Lookup = Arc<
    dyn Fn(String) -> futures::future::BoxFuture<'static, std::io::Result<Vec<IpAddr>>>
        + Send
        + Sync,
>;

/// The guard: what it refuses, and where it learns a name's addresses.
#[derive(Clone)]
pub struct NetGuard {
    forbidden: fn(IpAddr) -> bool,
    lookup: Lookup,
}

impl std::fmt::Debug for NetGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NetGuard")
    }
}

fn system_lookup() -> Lookup {
    Arc::new(|host: String| {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    })
}

impl NetGuard {
    /// Public addresses only, names resolved by the system.
    pub fn public_only() -> Self {
        NetGuard {
            forbidden: is_forbidden,
            lookup: system_lookup(),
        }
    }

    /// The guard of a server that may or may not reach private addresses.
    pub fn unless(allow_private: bool) -> Option<Self> {
        (!allow_private).then(Self::public_only)
    }

    /// A guard with its own idea of forbidden addresses and of what names resolve to:
    /// for tests, where loopback stands in for both the public and the private network.
    pub fn with(forbidden: fn(IpAddr) -> bool, lookup: Lookup) -> Self {
        NetGuard { forbidden, lookup }
    }

    /// What can be judged before resolving: the scheme, a host written as an address,
    /// a loopback name.
    pub fn check_url(&self, url: &url::Url) -> Result<(), String> {
        check_scheme(url)?;
        match url.host() {
            Some(url::Host::Ipv4(v4)) => self.check_ip(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => self.check_ip(IpAddr::V6(v6)),
            Some(url::Host::Domain(d)) => check_name(d),
            None => Err("the URL has no host".into()),
        }
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        if (self.forbidden)(ip) {
            Err(format!("{ip} is a private or reserved address"))
        } else {
            Ok(())
        }
    }

    /// Resolves `host` once: its addresses when every one is allowed, else why not. A
    /// name that does not resolve is refused (fail closed).
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let host = host.trim_end_matches('.');
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return self.check_ip(ip).map(|()| vec![ip]);
        }
        check_name(host)?;
        let addrs = (self.lookup)(host.to_string())
            .await
            .map_err(|_| format!("{host} does not resolve"))?;
        if addrs.is_empty() {
            return Err(format!("{host} does not resolve"));
        }
        if let Some(bad) = addrs.iter().find(|ip| (self.forbidden)(**ip)) {
            return Err(format!(
                "{host} resolves to {bad}, a private or reserved address"
            ));
        }
        Ok(addrs)
    }

    /// Checks a URL as far as it can be, then resolves its host: for checks at save.
    pub async fn check_endpoint(&self, url: &url::Url) -> Result<(), String> {
        self.check_url(url)?;
        match url.host() {
            Some(url::Host::Domain(d)) => self.resolve(d).await.map(|_| ()),
            _ => Ok(()),
        }
    }
}

fn check_scheme(url: &url::Url) -> Result<(), String> {
    if matches!(url.scheme(), "http" | "https") {
        Ok(())
    } else {
        Err(format!("scheme {:?} is not allowed", url.scheme()))
    }
}

fn check_name(d: &str) -> Result<(), String> {
    let d = d.trim_end_matches('.');
    if d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost") {
        return Err(format!("{d} is a loopback name"));
    }
    Ok(())
}

/// The guard's refusal, as an error a client's resolver can carry.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl Refused {
    /// The guard's wording, for client layers that pass on an error's text but not the
    /// error itself.
    const WORDING: [&'static str; 3] = ["private or reserved", "does not resolve", "loopback name"];

    /// The guard's refusal anywhere in `e`'s sources: by type, or by its wording.
    pub fn find(e: &(dyn std::error::Error + 'static)) -> Option<String> {
        let chain = || std::iter::successors(Some(e), |err| err.source());
        if let Some(r) = chain().find_map(|err| err.downcast_ref::<Refused>()) {
            return Some(r.0.clone());
        }
        chain()
            .map(|err| err.to_string())
            .find(|text| Self::WORDING.iter().any(|w| text.contains(w)))
    }
}

/// Resolves names for reqwest clients through the guard.
pub struct GuardedResolver(pub NetGuard);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let guard = self.0.clone();
        Box::pin(async move {
            let addrs = guard.resolve(&host).await.map_err(Refused)?;
            let iter: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(iter)
        })
    }
}

/// The scheme, and with a guard the host as far as it can be judged before resolving.
fn check_url(url: &reqwest::Url, guard: Option<&NetGuard>) -> Result<(), String> {
    match guard {
        Some(guard) => guard.check_url(url),
        None => check_scheme(url),
    }
}

pub struct Fetched {
    pub bytes: Bytes,
    pub content_type: Option<String>,
}

pub struct Delivered {
    pub status: u16,
}

/// Built on first use: most processes (route Lambdas) never fetch, and building the
/// client (its TLS roots) would cost every cold start.
#[derive(Clone)]
pub struct HttpClient {
    client: Arc<std::sync::OnceLock<reqwest::Client>>,
    /// None when private addresses are allowed (development).
    guard: Option<NetGuard>,
    timeout: Duration,
}

const MAX_REDIRECTS: usize = 5;

impl HttpClient {
    pub fn new(allow_private: bool, timeout: Duration) -> Self {
        Self::guarded_by(NetGuard::unless(allow_private), timeout)
    }

    fn guarded_by(guard: Option<NetGuard>, timeout: Duration) -> Self {
        HttpClient {
            client: Arc::new(std::sync::OnceLock::new()),
            guard,
            timeout,
        }
    }

    fn client(&self) -> &reqwest::Client {
        self.client.get_or_init(|| {
            let guard = self.guard.clone();
            let policy = reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
                }
                match check_url(attempt.url(), guard.as_ref()) {
                    Ok(()) => attempt.follow(),
                    Err(why) => attempt.error(format!("redirect refused: {why}")),
                }
            });
            let mut builder = reqwest::Client::builder()
                .redirect(policy)
                .timeout(self.timeout)
                .connect_timeout(Duration::from_secs(5))
                .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")));
            if let Some(guard) = &self.guard {
                builder = builder.dns_resolver(Arc::new(GuardedResolver(guard.clone())));
            }
            builder.build().expect("HTTP client builds")
        })
    }

    fn parse(&self, url: &str) -> Result<reqwest::Url, FetchError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| FetchError::Refused(format!("invalid URL: {e}")))?;
        check_url(&parsed, self.guard.as_ref()).map_err(FetchError::Refused)?;
        Ok(parsed)
    }

    /// GETs a URL, holding at most `max_bytes` of its body.
    pub async fn fetch(&self, url: &str, max_bytes: usize) -> Result<Fetched, FetchError> {
        let parsed = self.parse(url)?;
        let resp = self.client().get(parsed).send().await.map_err(describe)?;
        if !resp.status().is_success() {
            return Err(FetchError::Failed(format!(
                "GET returned HTTP {}",
                resp.status().as_u16()
            )));
        }
        if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Err(too_large(max_bytes));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = BytesMut::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(describe)?;
            if body.len() + chunk.len() > max_bytes {
                return Err(too_large(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            bytes: body.freeze(),
            content_type,
        })
    }

    /// POSTs a body; any HTTP status is a delivery (the caller judges it).
    pub async fn post(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Delivered, FetchError> {
        let parsed = self.parse(url)?;
        let mut req = self.client().post(parsed).timeout(timeout).body(body);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let resp = req.send().await.map_err(describe)?;
        Ok(Delivered {
            status: resp.status().as_u16(),
        })
    }
}

fn too_large(max: usize) -> FetchError {
    FetchError::TooLarge(format!("the body is larger than {max} bytes"))
}

fn describe(e: reqwest::Error) -> FetchError {
    // The guard's refusals arrive wrapped; name them as refusals.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    if Refused::find(&e).is_some() || text.contains("redirect refused") {
        FetchError::Refused(text)
    } else if e.is_timeout() {
        FetchError::Failed(format!("timed out: {text}"))
    } else {
        FetchError::Failed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_reserved_addresses_are_forbidden() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "64:ff9b::7f00:1",    // NAT64 of 127.0.0.1
            "64:ff9b::a9fe:a9fe", // NAT64 of 169.254.169.254
            "64:ff9b:1::808:808", // local-use NAT64, whatever it embeds
            "2002:7f00:1::",      // 6to4 of 127.0.0.1
            "2002:a00:1::1",      // 6to4 of 10.0.0.1
            "::ffff:0:7f00:1",    // IPv4-translated 127.0.0.1
            "::ffff:0:a9fe:a9fe", // IPv4-translated metadata service
            "fec0::1",            // site-local
            "100::1",             // discard-only
            "2001:db8::1",        // documentation
            "198.18.0.1",         // benchmarking
            "198.19.255.255",
            "192.88.99.1", // 6to4 relay anycast
            "192.0.0.8",
            "240.0.0.1",
            "2001::1", // Teredo
            "2001:0:4136:e378::1",
            "2001:2::1",        // benchmarking
            "3fff::1",          // documentation
            "5f00::1",          // segment routing
            "ff02::1",          // multicast
            "64:ff9b::808:808", // NAT64 of a public address: still a translator's
            "2002:808:808::1",  // 6to4 of a public address: still a relay's
        ] {
            assert!(is_forbidden(bad.parse().unwrap()), "{bad}");
        }
        for good in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "198.17.255.255",
            "198.20.0.1",
            "192.88.98.1",
            "2001:200::1", // outside 2001::/23
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_forbidden(good.parse().unwrap()), "{good}");
        }
    }

    /// A guard lookup that answers from a table (names not in it do not resolve).
    pub fn hosts(table: &[(&str, IpAddr)]) -> Lookup {
        let table: Vec<(String, IpAddr)> =
            table.iter().map(|(h, ip)| (h.to_string(), *ip)).collect();
        Arc::new(move |host: String| {
            let found: Vec<IpAddr> = table
                .iter()
                .filter(|(h, _)| h.eq_ignore_ascii_case(&host))
                .map(|(_, ip)| *ip)
                .collect();
            Box::pin(async move { Ok(found) })
        })
    }

    #[tokio::test]
    async fn names_that_do_not_resolve_are_refused() {
        let guard = NetGuard::with(
            is_forbidden,
            hosts(&[("public.test", IpAddr::from([8, 8, 8, 8]))]),
        );
        assert_eq!(
            guard.resolve("public.test").await,
            Ok(vec![IpAddr::from([8, 8, 8, 8])])
        );
        let why = guard.resolve("nowhere.test").await.unwrap_err();
        assert!(why.contains("does not resolve"), "{why}");
        let why = guard.resolve("a.localhost").await.unwrap_err();
        assert!(why.contains("loopback name"), "{why}");
        assert!(guard.resolve("127.0.0.1").await.is_err());
        let url = url::Url::parse("https://nowhere.test/x").unwrap();
        assert!(guard.check_endpoint(&url).await.is_err());
    }

    #[test]
    fn urls_are_checked_before_any_connection() {
        let guard = NetGuard::public_only();
        let check = |u: &str| check_url(&reqwest::Url::parse(u).unwrap(), Some(&guard));
        assert!(check("http://127.0.0.1:8080/x").is_err());
        assert!(check("http://[::1]/x").is_err());
        assert!(check("http://169.254.169.254/latest/meta-data/").is_err());
        assert!(check("http://localhost/x").is_err());
        assert!(check("file:///etc/passwd").is_err());
        assert!(check("ftp://example.com/x").is_err());
        assert!(check("https://example.com/x").is_ok());
        assert!(check_url(&reqwest::Url::parse("http://127.0.0.1/x").unwrap(), None).is_ok());
    }

    /// A plain HTTP/1.1 server on `ip` for the guard's tests: `/ok`, a redirect to
    /// `/to?<url>`, `/big` (with a length), `/big-chunked` (without), `/slow`. Returns its
    /// port and how many connections it accepted.
    async fn serve(ip: &str) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut conn, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                    let reply = match path.as_str() {
                        "/ok" => "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nfine".to_string(),
                        "/big" => format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: 2000\r\n\r\n{}",
                            "x".repeat(2000)
                        ),
                        "/big-chunked" => format!(
                            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{}0\r\n\r\n",
                            format!("190\r\n{}\r\n", "x".repeat(0x190)).repeat(5)
                        ),
                        "/slow" => {
                            tokio::time::sleep(Duration::from_secs(3)).await;
                            "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlate".to_string()
                        }
                        p if p.starts_with("/to?") => format!(
                            "HTTP/1.1 302 Found\r\nlocation: {}\r\ncontent-length: 0\r\n\r\n",
                            &p[4..]
                        ),
                        _ => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_string(),
                    };
                    let _ = conn.write_all(reply.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        (port, accepted)
    }

    /// The guard judges names by what they resolve to, every redirect hop again, and
    /// bounds a fetch's size and time. Loopback stands in for the public internet here:
    /// the guard under test forbids only 127.0.0.2, where a second server counts every
    /// connection that reaches it.
    #[tokio::test]
    async fn names_redirects_size_and_time_are_guarded() {
        use std::sync::atomic::Ordering;
        let (public, _) = serve("127.0.0.1").await;
        let (private, reached) = serve("127.0.0.2").await;
        let guard = NetGuard::with(
            |ip| ip == IpAddr::from([127, 0, 0, 2]),
            hosts(&[
                ("public.test", IpAddr::from([127, 0, 0, 1])),
                ("internal.test", IpAddr::from([127, 0, 0, 2])),
            ]),
        );
        let http = HttpClient::guarded_by(Some(guard), Duration::from_secs(1));
        let refused = |r: Result<Fetched, FetchError>| match r {
            Err(FetchError::Refused(why)) => why,
            Err(other) => panic!("not refused: {other:?}"),
            Ok(f) => panic!("fetched {:?}", f.bytes),
        };
        // What the guard allows is fetched, by address and by name.
        for url in [
            format!("http://127.0.0.1:{public}/ok"),
            format!("http://public.test:{public}/ok"),
        ] {
            assert_eq!(http.fetch(&url, 100).await.unwrap().bytes, "fine");
        }
        // A forbidden address, written out or behind a name, is never connected to.
        let why = refused(
            http.fetch(&format!("http://127.0.0.2:{private}/ok"), 100)
                .await,
        );
        assert!(why.contains("127.0.0.2 is a private"), "{why}");
        let why = refused(
            http.fetch(&format!("http://internal.test:{private}/ok"), 100)
                .await,
        );
        assert!(why.contains("internal.test resolves to 127.0.0.2"), "{why}");
        // A public URL that redirects there is refused at the hop, by address or by name.
        for target in [
            format!("http://127.0.0.2:{private}/ok"),
            format!("http://internal.test:{private}/ok"),
        ] {
            let url = format!("http://127.0.0.1:{public}/to?{target}");
            let why = refused(http.fetch(&url, 100).await);
            assert!(
                why.contains("redirect refused") || why.contains("resolves to"),
                "{why}"
            );
        }
        // A redirect to an allowed place is followed.
        let hop = format!("http://127.0.0.1:{public}/to?http://public.test:{public}/ok");
        assert_eq!(http.fetch(&hop, 100).await.unwrap().bytes, "fine");
        // Deliveries are guarded the same way.
        let posted = http
            .post(
                &format!("http://internal.test:{private}/hook"),
                Vec::new(),
                Bytes::from_static(b"{}"),
                Duration::from_secs(1),
            )
            .await;
        assert!(
            matches!(posted, Err(FetchError::Refused(_))),
            "{:?}",
            posted.err()
        );
        assert_eq!(
            reached.load(Ordering::SeqCst),
            0,
            "a forbidden server was reached"
        );

        // Size: refused on the declared length, and while streaming one that is not declared.
        for path in ["big", "big-chunked"] {
            match http
                .fetch(&format!("http://127.0.0.1:{public}/{path}"), 1000)
                .await
            {
                Err(FetchError::TooLarge(why)) => assert!(why.contains("1000 bytes"), "{why}"),
                other => panic!("{path}: {:?}", other.map(|f| f.bytes.len())),
            }
        }
        assert_eq!(
            http.fetch(&format!("http://127.0.0.1:{public}/big"), 2000)
                .await
                .unwrap()
                .bytes
                .len(),
            2000
        );
        // Time: a server slower than the limit fails the fetch.
        let started = std::time::Instant::now();
        match http
            .fetch(&format!("http://127.0.0.1:{public}/slow"), 100)
            .await
        {
            Err(FetchError::Failed(why)) => assert!(why.starts_with("timed out"), "{why}"),
            other => panic!("slow: {:?}", other.map(|f| f.bytes)),
        }
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
