//! The ICE servers a peer connection gets, decided without IO.
//!
//! GetIceServerConfig returns TURN servers only; KVS clients add a STUN server themselves:
//! `stun:stun.kinesisvideo.<region>.amazonaws.com:443` (`amazonaws.com.cn` in China regions)
//! for the real service. With a custom endpoint (the local service) there is no such host, so
//! the first TURN server's host and port serve as the STUN server (ours answer STUN binding
//! requests). A STUN URL given by the user overrides both.
//!
//! Of the TURN URIs, only `turn:` over UDP is used: webrtc-rs allocates relays for exactly
//! that case (in `webrtc` 0.21.1 the TURN relayer skips secure and non-UDP TURN URLs with a
//! warning; the older webrtc-ice's `gather_candidates_relay` left them as to-dos). Every other URI is listed in
//! [`IcePlan::skipped`] with the reason, so the application can say which entries were not
//! used and why instead of the stack warning in its log.

use kvs_proto::api::IceServer;

/// Why a TURN URI is not given to the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// `turns:` (TURN over TLS): the stack has no TLS TURN client.
    #[error(
        "TURN over TLS (turns:) is not supported by the WebRTC stack; the UDP entry is used instead"
    )]
    TurnOverTls,
    /// `turn:` with `transport=tcp`: the stack has no TCP TURN client.
    #[error("TURN over TCP is not supported by the WebRTC stack; the UDP entry is used instead")]
    TurnOverTcp,
    /// Not a `turn:`/`turns:` URI, or one that does not parse.
    #[error("not a TURN URI this client understands")]
    Malformed,
}

/// A TURN URI left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The URI as the service sent it.
    pub uri: String,
    /// Why it is not used.
    pub reason: SkipReason,
}

/// One TURN server the stack can use.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnServer {
    /// Its usable URIs (`turn:` over UDP).
    pub uris: Vec<String>,
    /// The user name.
    pub username: String,
    /// The password; kept out of `Debug`.
    pub password: String,
}

impl std::fmt::Debug for TurnServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnServer")
            .field("uris", &self.uris)
            .field("username", &self.username)
            .field("password", &kvs_proto::redact::REDACTED)
            .finish()
    }
}

/// What a peer connection is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcePlan {
    /// The STUN server, when there is one to use.
    pub stun: Option<String>,
    /// The TURN servers with their usable URIs (servers left with none are dropped).
    pub turn: Vec<TurnServer>,
    /// The URIs left out.
    pub skipped: Vec<Skipped>,
}

/// A TURN URI's parts: scheme, host (with brackets for IPv6), port and transport.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TurnUri<'a> {
    secure: bool,
    host: &'a str,
    port: u16,
    tcp: bool,
}

impl TurnUri<'_> {
    /// `host:port`, as a socket-address lookup takes it.
    fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Parses `turn[s]:host[:port][?transport=udp|tcp]` (RFC 7065).
fn parse_turn_uri(uri: &str) -> Option<TurnUri<'_>> {
    let (secure, rest) = if let Some(rest) = uri.strip_prefix("turns:") {
        (true, rest)
    } else {
        (false, uri.strip_prefix("turn:")?)
    };
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    let tcp = match query {
        "" => secure,
        "transport=udp" => false,
        "transport=tcp" => true,
        _ => return None,
    };
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, after) = authority.split_at(end + 1);
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return None;
    }
    let port = match port {
        Some(p) => p.parse().ok().filter(|p| *p != 0)?,
        None if secure => 5349,
        None => 3478,
    };
    Some(TurnUri {
        secure,
        host,
        port,
        tcp,
    })
}

/// The `host:port` a `stun:`, `turn:` or `turns:` URI names (the port defaulted as RFC 7064
/// and 7065 say), as a socket-address lookup takes it; `None` for anything else.
pub fn server_address(uri: &str) -> Option<String> {
    let turn_form = match uri.strip_prefix("stun:") {
        Some(rest) => format!("turn:{rest}"),
        None => uri.to_owned(),
    };
    parse_turn_uri(&turn_form).map(|u| u.address())
}

/// Decides the ICE servers for a session in `region` whose signaling endpoint is `endpoint`,
/// from the service's TURN servers and an optional STUN URL that overrides the default.
pub fn plan(
    region: &str,
    endpoint: &str,
    servers: &[IceServer],
    stun_override: Option<&str>,
) -> IcePlan {
    let mut turn = Vec::new();
    let mut skipped = Vec::new();
    let mut first_turn_host: Option<String> = None;
    for server in servers {
        let mut uris = Vec::new();
        for uri in &server.uris {
            let reason = match parse_turn_uri(uri) {
                None => Some(SkipReason::Malformed),
                Some(u) if u.secure => Some(SkipReason::TurnOverTls),
                Some(u) if u.tcp => Some(SkipReason::TurnOverTcp),
                Some(u) => {
                    first_turn_host.get_or_insert_with(|| u.address());
                    None
                }
            };
            match reason {
                Some(reason) => skipped.push(Skipped {
                    uri: uri.clone(),
                    reason,
                }),
                None => uris.push(uri.clone()),
            }
        }
        if !uris.is_empty() {
            turn.push(TurnServer {
                uris,
                username: server.username.clone(),
                password: server.password.clone(),
            });
        }
    }
    // The region's public endpoint tells the real service from a custom endpoint.
    let public = kvs_proto::client::default_endpoint(region);
    let stun = match stun_override {
        Some(url) => Some(url.to_owned()),
        // https://kinesisvideo.<region>.<domain> → stun:stun.kinesisvideo.<region>.<domain>:443
        None if endpoint.trim_end_matches('/') == public => public
            .strip_prefix("https://")
            .map(|host| format!("stun:stun.{host}:443")),
        None => first_turn_host.map(|host| format!("stun:{host}")),
    };
    IcePlan {
        stun,
        turn,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_of_stun_and_turn_uris() {
        assert_eq!(
            server_address("stun:s.example:443").as_deref(),
            Some("s.example:443")
        );
        assert_eq!(
            server_address("stun:s.example").as_deref(),
            Some("s.example:3478")
        );
        assert_eq!(
            server_address("turn:[::1]:5000?transport=udp").as_deref(),
            Some("[::1]:5000")
        );
        assert_eq!(
            server_address("turns:t.example").as_deref(),
            Some("t.example:5349")
        );
        assert_eq!(server_address("https://x"), None);
    }

    fn server(uris: &[&str]) -> IceServer {
        IceServer {
            uris: uris.iter().map(|u| (*u).to_owned()).collect(),
            username: "1700000000:djE6YXJu".into(),
            password: "secret-password".into(),
            ttl: 300,
        }
    }

    /// What the real service returns: per server, UDP TURN, TURNS over UDP and TCP.
    fn kvs_like(host: &str) -> IceServer {
        server(&[
            &format!("turn:{host}:443?transport=udp"),
            &format!("turns:{host}:443?transport=udp"),
            &format!("turns:{host}:443?transport=tcp"),
        ])
    }

    #[test]
    fn the_real_service_gets_the_regional_stun_server_and_udp_turn_only() {
        let region = "us-west-2";
        let plan = plan(
            region,
            "https://kinesisvideo.us-west-2.amazonaws.com",
            &[kvs_like("1-2-3-4.t-1.kinesisvideo.us-west-2.amazonaws.com")],
            None,
        );
        assert_eq!(
            plan.stun.as_deref(),
            Some("stun:stun.kinesisvideo.us-west-2.amazonaws.com:443")
        );
        assert_eq!(plan.turn.len(), 1);
        assert_eq!(plan.turn[0].uris.len(), 1);
        assert!(plan.turn[0].uris[0].starts_with("turn:"));
        let reasons: Vec<SkipReason> = plan.skipped.iter().map(|s| s.reason).collect();
        assert_eq!(reasons, [SkipReason::TurnOverTls, SkipReason::TurnOverTls]);
        assert!(!format!("{plan:?}").contains("secret-password"));
    }

    #[test]
    fn china_regions_use_the_cn_domain() {
        let plan = plan(
            "cn-north-1",
            "https://kinesisvideo.cn-north-1.amazonaws.com.cn",
            &[],
            None,
        );
        assert_eq!(
            plan.stun.as_deref(),
            Some("stun:stun.kinesisvideo.cn-north-1.amazonaws.com.cn:443")
        );
    }

    #[test]
    fn a_custom_endpoint_uses_the_first_turn_servers_host_and_port_for_stun() {
        let servers = [
            server(&["turns:127.0.0.1:5349", "turn:127.0.0.1:40001?transport=udp"]),
            server(&["turn:127.0.0.1:40002?transport=udp"]),
        ];
        let plan = plan("us-west-2", "https://127.0.0.1:4443", &servers, None);
        assert_eq!(plan.stun.as_deref(), Some("stun:127.0.0.1:40001"));
        assert_eq!(plan.turn.len(), 2);
        let overridden = super::plan(
            "us-west-2",
            "https://127.0.0.1:4443",
            &servers,
            Some("stun:stun.example.net:3478"),
        );
        assert_eq!(
            overridden.stun.as_deref(),
            Some("stun:stun.example.net:3478")
        );
        let none = super::plan("us-west-2", "https://127.0.0.1:4443", &[], None);
        assert_eq!(none.stun, None, "no TURN server, no STUN host to borrow");
    }

    #[test]
    fn turn_uris_parse_per_rfc_7065_and_garbage_is_skipped() {
        let udp = |host, port| TurnUri {
            secure: false,
            host,
            port,
            tcp: false,
        };
        assert_eq!(parse_turn_uri("turn:h"), Some(udp("h", 3478)));
        assert_eq!(
            parse_turn_uri("turn:[::1]:9?transport=udp"),
            Some(udp("[::1]", 9))
        );
        assert_eq!(parse_turn_uri("turn:[::1]"), Some(udp("[::1]", 3478)));
        assert_eq!(
            parse_turn_uri("turns:h"),
            Some(TurnUri {
                secure: true,
                host: "h",
                port: 5349,
                tcp: true
            })
        );
        assert_eq!(
            parse_turn_uri("turn:h:1?transport=tcp").map(|u| u.tcp),
            Some(true)
        );
        for bad in [
            "stun:h:1",
            "turn:",
            "turn::1",
            "turn:h:0",
            "turn:h:99999",
            "turn:h:1?transport=sctp",
            "turn:[::1",
            "turn:[::1]x",
            "turn:u@h:1",
            "turn:h:é",
        ] {
            assert_eq!(parse_turn_uri(bad), None, "{bad}");
        }
        let plan = plan(
            "us-west-2",
            "https://x",
            &[server(&["nonsense", "turn:h:1?transport=tcp"])],
            None,
        );
        assert!(
            plan.turn.is_empty(),
            "a server with no usable URI is dropped"
        );
        assert_eq!(
            plan.skipped.iter().map(|s| s.reason).collect::<Vec<_>>(),
            [SkipReason::Malformed, SkipReason::TurnOverTcp]
        );
    }
}
