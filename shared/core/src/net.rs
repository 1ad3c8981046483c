//! Outbound HTTP (blob URLs, webhook deliveries) behind an SSRF guard: a URL may only
//! reach public addresses. Every name is resolved by the guard and every redirect hop is
//! checked again, so a public name that resolves (or redirects) to a private address is
//! refused. `allow_private` lifts the guard for local development and tests.

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

/// Whether an address is one a user-supplied URL must never reach.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // includes 169.254.169.254, the cloud metadata service
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || a >= 240 // reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let first = s[0];
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local, includes AWS's fd00:ec2::254
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated, still routed privately)
        || s[..4] == [0x100, 0, 0, 0] // discard-only 100::/64
        || s[..2] == [0x2001, 0xdb8] // documentation
        || s[..3] == [0x64, 0xff9b, 1] // local-use NAT64 64:ff9b:1::/48
        // Forms that carry an IPv4 address, judged by it: IPv4-compatible ::a.b.c.d,
        // IPv4-translated ::ffff:0:a.b.c.d, well-known NAT64 64:ff9b::a.b.c.d, 6to4 2002:AABB:CCDD::.
        || (s[..6] == [0; 6] && forbidden_v4(v4(s[6], s[7])))
        || (s[..6] == [0, 0, 0, 0, 0xffff, 0] && forbidden_v4(v4(s[6], s[7])))
        || (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && forbidden_v4(v4(s[6], s[7])))
        || (first == 0x2002 && forbidden_v4(v4(s[1], s[2])))
}

/// What the guard refuses, and where it learns a name's addresses.
#[derive(Clone)]
struct Guard {
    forbidden: fn(IpAddr) -> bool,
    /// Names answered from this table instead of the system's resolver; empty outside
    /// tests, where it stands in for names that resolve to chosen addresses.
    hosts: Arc<Vec<(String, IpAddr)>>,
}

impl Guard {
    fn public_only() -> Self {
        Guard {
            forbidden: is_forbidden,
            hosts: Arc::default(),
        }
    }

    /// Checks what the resolver cannot see: a host written as an address, or a loopback name.
    fn check_host(&self, url: &reqwest::Url) -> Result<(), String> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            Some(url::Host::Domain(d))
                if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") =>
            {
                return Err(format!("{d} is a loopback name"))
            }
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err("the URL has no host".into()),
        };
        if (self.forbidden)(ip) {
            Err(format!("{ip} is a private or reserved address"))
        } else {
            Ok(())
        }
    }
}

/// Resolves names for the client, refusing any that reach a forbidden address.
struct GuardedResolver(Guard);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let guard = self.0.clone();
        Box::pin(async move {
            let known = guard
                .hosts
                .iter()
                .find(|(h, _)| h.eq_ignore_ascii_case(&host));
            let addrs: Vec<SocketAddr> = match known {
                Some((_, ip)) => vec![SocketAddr::new(*ip, 0)],
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            if let Some(bad) = addrs.iter().find(|a| (guard.forbidden)(a.ip())) {
                return Err(format!(
                    "{host} resolves to {}, a private or reserved address",
                    bad.ip()
                )
                .into());
            }
            let iter: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(iter)
        })
    }
}

/// The scheme, and with a guard the host as far as it can be judged before resolving.
fn check_url(url: &reqwest::Url, guard: Option<&Guard>) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {:?} is not allowed", url.scheme()));
    }
    match guard {
        Some(guard) => guard.check_host(url),
        None => Ok(()),
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
    guard: Option<Guard>,
    timeout: Duration,
}

const MAX_REDIRECTS: usize = 5;

impl HttpClient {
    pub fn new(allow_private: bool, timeout: Duration) -> Self {
        Self::guarded_by((!allow_private).then(Guard::public_only), timeout)
    }

    fn guarded_by(guard: Option<Guard>, timeout: Duration) -> Self {
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
    if text.contains("private or reserved")
        || text.contains("redirect refused")
        || text.contains("loopback name")
    {
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
        ] {
            assert!(is_forbidden(bad.parse().unwrap()), "{bad}");
        }
        for good in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "64:ff9b::808:808", // NAT64 of 8.8.8.8: a public address
            "2002:808:808::1",  // 6to4 of 8.8.8.8
        ] {
            assert!(!is_forbidden(good.parse().unwrap()), "{good}");
        }
    }

    #[test]
    fn urls_are_checked_before_any_connection() {
        let guard = Guard::public_only();
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
        let guard = Guard {
            forbidden: |ip| ip == IpAddr::from([127, 0, 0, 2]),
            hosts: Arc::new(vec![
                ("public.test".into(), IpAddr::from([127, 0, 0, 1])),
                ("internal.test".into(), IpAddr::from([127, 0, 0, 2])),
            ]),
        };
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
