//! Connection: the control-plane host resolves, a TCP connection opens, TLS completes with a
//! certificate the CAs in use trust, and which HTTPS proxies the environment sets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kvs_client::TlsOptions;
use kvs_proto::doctor::{Check, Finding, ms};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::Output;
use crate::ClientArgs;

/// The endpoint's parts.
struct Target {
    https: bool,
    host: String,
    port: u16,
}

impl Target {
    fn parse(endpoint: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(endpoint).map_err(|e| e.to_string())?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => return Err(format!("the scheme {other}: is neither https: nor http:")),
        };
        let host = url.host_str().ok_or("the URL has no host")?;
        Ok(Self {
            https,
            host: host.trim_matches(['[', ']']).to_owned(),
            port: url.port_or_known_default().unwrap_or(443),
        })
    }
}

/// Runs the connection checks; returns the TLS configuration the later checks use (the
/// same roots as the client), unless it could not be built.
pub(super) async fn run(
    client: &ClientArgs,
    endpoint: &str,
    timeout: Duration,
    out: &mut Output,
) -> Option<Arc<rustls::ClientConfig>> {
    let tls = TlsOptions::resolve(client.ca_bundle.as_deref()).and_then(|t| t.client_config());
    let target = match Target::parse(endpoint) {
        Ok(target) => target,
        Err(e) => {
            out.record(Finding::fail(
                Check::Resolve,
                format!("cannot read the endpoint {endpoint:?}"),
                format!("the endpoint is not a URL: {e}"),
                "pass --endpoint-url https://host[:port] (or unset AWS_ENDPOINT_URL*) to use the public endpoint",
            ));
            proxy(None, timeout, out).await;
            return tls.ok();
        }
    };
    let addrs = resolve(&target, timeout, out).await;
    let stream = match (out.blocked(Check::Tcp), addrs) {
        (false, Some(addrs)) => tcp(&addrs, timeout, out).await,
        _ => None,
    };
    if !out.blocked(Check::Tls)
        && let Some(stream) = stream
    {
        match &tls {
            _ if !target.https => out.record(Finding::pass(
                Check::Tls,
                "none: the endpoint is plain http:// (a local service only; the real one is https)",
            )),
            Ok(config) => handshake(stream, &target, config.clone(), client, timeout, out).await,
            Err(e) => out.record(Finding::fail(
                Check::Tls,
                format!("CAs in use: {}", ca_label(client)),
                format!("the CA bundle cannot be used: {e}"),
                "pass a readable PEM file of CA certificates with --ca-bundle or AWS_CA_BUNDLE",
            )),
        }
    }
    proxy(Some(&target), timeout, out).await;
    tls.ok()
}

async fn resolve(target: &Target, timeout: Duration, out: &mut Output) -> Option<Vec<SocketAddr>> {
    let started = Instant::now();
    let host = target.host.as_str();
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        out.record(Finding::pass(
            Check::Resolve,
            format!("{ip} is an address: nothing to resolve"),
        ));
        return Some(vec![SocketAddr::new(ip, target.port)]);
    }
    let lookup = tokio::net::lookup_host((host, target.port));
    let fix = "check --endpoint-url and --region for typos, and this machine's DNS (/etc/resolv.conf, a VPN that changes it)";
    match tokio::time::timeout(timeout, lookup).await {
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            let Some(first) = addrs.first() else {
                out.record(Finding::fail(
                    Check::Resolve,
                    format!("{host}: no address"),
                    "the name resolves to no address",
                    fix,
                ));
                return None;
            };
            let more = match addrs.len() {
                1 => String::new(),
                n => format!(" (+{} more)", n - 1),
            };
            out.record(Finding::pass(
                Check::Resolve,
                format!("{host} → {}{more} in {}", first.ip(), ms(started.elapsed())),
            ));
            Some(addrs)
        }
        Ok(Err(e)) => {
            out.record(Finding::fail(
                Check::Resolve,
                format!("{host}: {e}"),
                "the name does not resolve: no network, a DNS problem, or a misspelt endpoint or region",
                fix,
            ));
            None
        }
        Err(_) => {
            out.record(Finding::fail(
                Check::Resolve,
                format!("{host}: no answer in {}", secs(timeout)),
                "the DNS server does not answer: no network, or DNS blocked",
                fix,
            ));
            None
        }
    }
}

async fn tcp(addrs: &[SocketAddr], timeout: Duration, out: &mut Output) -> Option<TcpStream> {
    let mut failures = Vec::new();
    let mut refused = false;
    for addr in addrs.iter().take(4) {
        let started = Instant::now();
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                out.record(Finding::pass(
                    Check::Tcp,
                    format!("{addr} in {}", ms(started.elapsed())),
                ));
                return Some(stream);
            }
            Ok(Err(e)) => {
                refused |= e.kind() == std::io::ErrorKind::ConnectionRefused;
                failures.push(format!("{addr}: {e}"));
            }
            Err(_) => failures.push(format!("{addr}: no answer in {}", secs(timeout))),
        }
    }
    let (cause, fix) = match refused {
        true => (
            "nothing listens on that port: the service is down or the port is wrong",
            "check the endpoint's port (the local service prints its own), and that the service runs",
        ),
        false => (
            "the connection gets no answer: a firewall or a missing route drops it",
            "allow outbound TCP to the endpoint's port (443 for the real service), or set HTTPS_PROXY if this network needs a proxy",
        ),
    };
    out.record(Finding::fail(Check::Tcp, failures.join("; "), cause, fix));
    None
}

/// Which CAs are trusted, in words.
fn ca_label(client: &ClientArgs) -> String {
    match (&client.ca_bundle, std::env::var("AWS_CA_BUNDLE")) {
        (Some(path), _) => format!("the public roots and --ca-bundle {}", path.display()),
        (None, Ok(path)) if !path.is_empty() => {
            format!("the public roots and AWS_CA_BUNDLE {path}")
        }
        _ => "the public roots (no --ca-bundle or AWS_CA_BUNDLE)".to_owned(),
    }
}

async fn handshake(
    stream: TcpStream,
    target: &Target,
    config: Arc<rustls::ClientConfig>,
    client: &ClientArgs,
    timeout: Duration,
    out: &mut Output,
) {
    let cas = ca_label(client);
    let Ok(name) = ServerName::try_from(target.host.clone()) else {
        out.record(Finding::fail(
            Check::Tls,
            format!("{} is not a host name", target.host),
            "TLS needs a host name or an IP address to check the certificate against",
            "pass --endpoint-url with the service's host name",
        ));
        return;
    };
    let started = Instant::now();
    let connector = tokio_rustls::TlsConnector::from(config);
    let tls = match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            let (cause, fix) = tls_failure(&e, &target.host, &cas);
            out.record(Finding::fail(
                Check::Tls,
                format!("{e}; CAs in use: {cas}"),
                cause,
                fix,
            ));
            return;
        }
        Err(_) => {
            out.record(Finding::fail(
                Check::Tls,
                format!("no handshake in {}", secs(timeout)),
                "the server accepted TCP but does not complete TLS: not a TLS port, or a middlebox holds it",
                "check that the endpoint is https:// on the service's TLS port",
            ));
            return;
        }
    };
    let elapsed = started.elapsed();
    let (_, session) = tls.get_ref();
    let version = match session.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        _ => "TLS",
    };
    let leaf = session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|der| x509_parser::parse_x509_certificate(der).ok())
        .map(|(_, cert)| {
            let cn = |name: &x509_parser::x509::X509Name<'_>| {
                name.iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok())
                    .unwrap_or("?")
                    .to_owned()
            };
            let not_after = cert.validity().not_after.timestamp();
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            (
                cn(cert.subject()),
                cn(cert.issuer()),
                (not_after - now) / 86_400,
            )
        });
    let Some((subject, issuer, days_left)) = leaf else {
        out.record(Finding::pass(
            Check::Tls,
            format!("{version} in {}; trusted by {cas}", ms(elapsed)),
        ));
        return;
    };
    let figure = format!(
        "{version} in {}, certificate {subject:?} from {issuer:?}, expires in {days_left} days; trusted by {cas}",
        ms(elapsed)
    );
    if days_left < 7 {
        out.record(Finding::warn(
            Check::Tls,
            figure,
            "the service's certificate expires within a week",
            "renew the certificate (for the local service: delete its state directory's certificate to make a new one)",
        ));
    } else {
        out.record(Finding::pass(Check::Tls, figure));
    }
}

/// The cause and the fix of a failed handshake.
fn tls_failure(error: &std::io::Error, host: &str, cas: &str) -> (String, String) {
    use rustls::CertificateError as Cert;
    let certificate = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .and_then(|e| match e {
            rustls::Error::InvalidCertificate(cert) => Some(cert),
            _ => None,
        });
    match certificate {
        Some(Cert::UnknownIssuer | Cert::BadSignature) => (
            format!("the service's certificate is not signed by a CA in use ({cas})"),
            "pass the CA that signed the service's certificate with --ca-bundle or AWS_CA_BUNDLE (the local service prints its CA's path); behind a TLS-inspecting proxy, its CA".to_owned(),
        ),
        Some(Cert::Expired | Cert::ExpiredContext { .. }) => (
            "the service's certificate has expired, or this machine's clock is far ahead".to_owned(),
            "check this machine's date (NTP); renew the service's certificate".to_owned(),
        ),
        Some(Cert::NotValidYet | Cert::NotValidYetContext { .. }) => (
            "the service's certificate is not valid yet: this machine's clock is behind".to_owned(),
            "sync the clock (NTP: `timedatectl set-ntp true`)".to_owned(),
        ),
        Some(Cert::NotValidForName | Cert::NotValidForNameContext { .. }) => (
            format!("the service's certificate does not name {host}"),
            "use the host name the certificate is for in --endpoint-url (not another name or an IP)".to_owned(),
        ),
        Some(other) => (
            format!("the service's certificate is refused: {other:?}"),
            "check the certificate the endpoint serves".to_owned(),
        ),
        None => (
            "the TLS handshake failed before a certificate could be checked".to_owned(),
            "check that the endpoint speaks TLS 1.2 or 1.3 (https://, not a plain port)"
                .to_owned(),
        ),
    }
}

/// The proxy variables the HTTPS client honours, in its order.
const PROXY_VARS: [&str; 4] = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];

async fn proxy(target: Option<&Target>, timeout: Duration, out: &mut Output) {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let Some((name, value)) = PROXY_VARS
        .iter()
        .find_map(|name| var(name).map(|v| (*name, v)))
    else {
        out.record(Finding::pass(
            Check::Proxy,
            "none set (HTTPS_PROXY, ALL_PROXY): direct connections",
        ));
        return;
    };
    let Ok(url) = reqwest::Url::parse(&value) else {
        out.record(Finding::fail(
            Check::Proxy,
            format!("{name} is not a URL"),
            format!("{name} cannot be read, so the HTTPS calls cannot be made"),
            format!("set {name} to http://host:port, or unset it"),
        ));
        return;
    };
    // The user name and password of a proxy URL are secrets: never printed.
    let shown = format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or("?"),
        url.port_or_known_default().unwrap_or(0)
    );
    let no_proxy = var("NO_PROXY")
        .or_else(|| var("no_proxy"))
        .unwrap_or_default();
    let excluded = target.is_some_and(|t| {
        no_proxy.split(',').map(str::trim).any(|entry| {
            let entry = entry.trim_start_matches('.');
            !entry.is_empty()
                && (entry == "*" || t.host == entry || t.host.ends_with(&format!(".{entry}")))
        })
    });
    if excluded {
        out.record(Finding::pass(
            Check::Proxy,
            format!("{name}={shown}, but NO_PROXY excludes the endpoint: direct connections"),
        ));
        return;
    }
    let reachable = match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => {
            matches!(
                tokio::time::timeout(timeout, TcpStream::connect((host, port))).await,
                Ok(Ok(_))
            )
        }
        _ => false,
    };
    if !reachable {
        out.record(Finding::fail(
            Check::Proxy,
            format!("{name}={shown}: does not accept connections"),
            "the HTTPS calls go through a proxy that cannot be reached",
            format!("fix {name}, or unset it if this network needs no proxy"),
        ));
        return;
    }
    out.record(Finding::warn(
        Check::Proxy,
        format!("{name}={shown} is used for the API calls"),
        "the API calls go through the proxy, but the signaling WebSocket connects directly: a network that allows only the proxy lets the calls pass and the WebSocket fail",
        "allow direct outbound TCP 443 to the channel's WSS endpoint, or add the endpoint to NO_PROXY if the proxy is not needed",
    ));
}

/// A timeout in seconds.
pub(super) fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}
