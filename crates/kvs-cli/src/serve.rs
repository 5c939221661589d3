//! `kvs-signaling serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::secret::Secret;
use anyhow::Context;
use clap::Args;
use kvs_service::{
    DEFAULT_ROLE_ALIAS, EXAMPLE_ACCESS_KEY_ID, EXAMPLE_SECRET_ACCESS_KEY, IotConfig, Limits,
    Policy, RoleAlias, ServiceConfig, ServiceKey, TurnConfig,
};

/// Options of the local service.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on. Binds loopback unless told otherwise; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:4443")]
    listen: SocketAddr,
    /// Region the service serves; clients must sign for it.
    #[arg(long, default_value = "us-west-2")]
    region: String,
    /// Where the CA certificate and key are kept across restarts.
    /// Default: $XDG_STATE_HOME/kvs-signaling or ~/.local/state/kvs-signaling.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Access key id to accept (default: AWS's documented example key).
    #[arg(
        long,
        env = "KVS_ACCESS_KEY_ID",
        requires = "secret",
        conflicts_with = "credentials_file"
    )]
    access_key_id: Option<String>,
    /// Secret key of --access-key-id. Prefer KVS_SECRET_ACCESS_KEY or
    /// --secret-access-key-file: a flag's value is visible in the process list.
    #[arg(
        long,
        env = "KVS_SECRET_ACCESS_KEY",
        requires = "access_key_id",
        hide_env_values = true,
        group = "secret"
    )]
    secret_access_key: Option<Secret>,
    /// Read the secret key of --access-key-id from the first line of this file.
    #[arg(long, requires = "access_key_id", group = "secret")]
    secret_access_key_file: Option<PathBuf>,
    /// Accept every key pair of this file, in the format of ~/.aws/credentials (all
    /// profiles; a profile's aws_session_token must then accompany its key).
    #[arg(long)]
    credentials_file: Option<PathBuf>,
    /// JSON policy granting actions (kinesisvideo:ConnectAsMaster, ConnectAsViewer,
    /// DescribeSignalingChannel, ...) on channel ARNs per access key id; without it every
    /// accepted key may do everything. See the README for the format.
    #[arg(long)]
    policy_file: Option<PathBuf>,
    /// Turn off the real service's rate limits (3 connects/s per channel, 5 SDP and 20 ICE
    /// messages/s per connection, 5 Alexa offers/s per channel).
    #[arg(long)]
    no_rate_limits: bool,
    /// UDP ports of the two embedded TURN servers, e.g. 3478,3479 (default: free ports,
    /// printed at start; GetIceServerConfig hands them out either way).
    #[arg(long, value_delimiter = ',', num_args = 2, default_values_t = [0, 0])]
    turn_ports: Vec<u16>,
    /// The two ports GetIceServerConfig lists instead of --turn-ports, when a port forward or
    /// NAT maps the bound ones to others, e.g. 3478,3479.
    #[arg(long, value_delimiter = ',', num_args = 2, conflicts_with = "no_turn")]
    turn_advertised_ports: Option<Vec<u16>>,
    /// Do not run the TURN server; GetIceServerConfig then lists no servers.
    #[arg(long)]
    no_turn: bool,
    /// Enable the admin API for fault injection under /admin/, protected by this bearer
    /// token (see the README). Prefer KVS_ADMIN_TOKEN or --admin-token-file: a flag's value
    /// is visible in the process list.
    #[arg(long, env = "KVS_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<Secret>,
    /// Read the admin token from the first line of this file.
    #[arg(long, conflicts_with = "admin_token")]
    admin_token_file: Option<PathBuf>,
    /// Seconds a TLS handshake, a request's headers or its body may take before the
    /// connection is cut.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    handshake_timeout: u64,
    /// Seconds a WebSocket peer may take to accept a frame before it is closed.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    write_timeout: u64,
    /// Serve under this path (e.g. /kvs behind a reverse proxy); endpoints handed out
    /// include it.
    #[arg(long, default_value = "", value_parser = parse_prefix)]
    path_prefix: String,
    /// Serve plain http:// and ws:// instead of TLS.
    #[arg(long)]
    plain: bool,
    /// Close WebSockets with no incoming traffic for this many seconds (KVS: 600).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
    /// Send GO_AWAY to WebSockets this many seconds old (KVS: 3600).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    max_connection_duration: u64,
    /// Close a connection this many seconds after its GO_AWAY (KVS: 60).
    #[arg(long, default_value_t = 60)]
    go_away_grace: u64,
    /// Send RECONNECT_ICE_SERVER to each connection this many seconds after it opened, to
    /// exercise clients' ICE refresh (default: never).
    #[arg(long)]
    reconnect_ice_server_after: Option<u64>,
    /// Port of the AWS IoT credentials endpoint (mutual TLS; device certificates from this
    /// service's CA get temporary keys). Default: a free port, printed at start.
    #[arg(long, default_value_t = 0)]
    iot_port: u16,
    /// Role aliases the IoT endpoint serves (default: kvs-signaling-role-alias). The policy
    /// file can restrict them: action iot:AssumeRoleWithCertificate, principal the thing
    /// name, resource arn:aws:iot:<region>:<account>:rolealias/<alias>.
    #[arg(long = "iot-role-alias", value_delimiter = ',')]
    iot_role_aliases: Vec<String>,
    /// Seconds the IoT endpoint's temporary credentials last (the real service: 900 to
    /// 43200, default 3600; any value here, so refreshes can be watched).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    iot_credential_duration: u64,
    /// Do not run the IoT credentials endpoint.
    #[arg(long, conflicts_with_all = ["iot_port", "iot_role_aliases"])]
    no_iot: bool,
    /// Issue a device certificate and key for this thing into <state-dir>/devices/ (with the
    /// service's CA) before starting, and print the flags a master needs to use it.
    /// Repeatable.
    #[arg(long, value_name = "THING", conflicts_with = "no_iot")]
    issue_device_cert: Vec<String>,
}

fn parse_prefix(s: &str) -> Result<String, String> {
    let trimmed = s.trim_end_matches('/');
    if trimmed.is_empty() || (trimmed.starts_with('/') && !trimmed.contains(['?', '#'])) {
        Ok(trimmed.to_owned())
    } else {
        Err("a path prefix starts with / and has no ? or #, e.g. /kvs".into())
    }
}

fn default_state_dir() -> PathBuf {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from_env("XDG_STATE_HOME")
        .or_else(|| from_env("HOME").map(|h| h.join(".local/state")))
        .map(|base| base.join("kvs-signaling"))
        .unwrap_or_else(|| PathBuf::from(".kvs-signaling"))
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let secret = Secret::from_flag_or_file(
        args.secret_access_key,
        args.secret_access_key_file.as_deref(),
        "the secret access key",
    )?;
    let admin_token = Secret::from_flag_or_file(
        args.admin_token,
        args.admin_token_file.as_deref(),
        "the admin token",
    )?;
    let custom_keys = args.access_key_id.zip(secret);
    let credentials = match (&custom_keys, &args.credentials_file) {
        (Some((id, secret)), _) => vec![ServiceKey::new(id, secret.expose())],
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --credentials-file {}", path.display()))?;
            kvs_service::parse_credentials_file(&text)
                .with_context(|| format!("in --credentials-file {}", path.display()))?
        }
        (None, None) => vec![ServiceKey::new(
            EXAMPLE_ACCESS_KEY_ID,
            EXAMPLE_SECRET_ACCESS_KEY,
        )],
    };
    let policy = match &args.policy_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --policy-file {}", path.display()))?;
            Some(
                Policy::parse(&text)
                    .with_context(|| format!("in --policy-file {}", path.display()))?,
            )
        }
        None => None,
    };
    let key_ids: Vec<String> = credentials
        .iter()
        .map(|k| k.access_key_id.clone())
        .collect();
    let state_dir = args.state_dir.unwrap_or_else(default_state_dir);
    let mut devices = Vec::new();
    for thing in &args.issue_device_cert {
        let device = kvs_service::issue_device_certificate(&state_dir, thing, None)
            .with_context(|| format!("issuing a device certificate for {thing}"))?;
        devices.push((thing, device));
    }
    let role_aliases = if args.iot_role_aliases.is_empty() {
        vec![DEFAULT_ROLE_ALIAS.to_owned()]
    } else {
        args.iot_role_aliases.clone()
    };
    for alias in &role_aliases {
        kvs_proto::iot::check_role_alias(alias)
            .with_context(|| format!("--iot-role-alias {alias}"))?;
    }
    let iot = (!args.no_iot && !args.plain).then(|| IotConfig {
        port: args.iot_port,
        role_aliases: role_aliases
            .iter()
            .map(|name| RoleAlias {
                name: name.clone(),
                credential_duration: Duration::from_secs(args.iot_credential_duration),
            })
            .collect(),
    });
    if !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "listening beyond loopback as asked; anyone who can reach it and knows a key can use it");
    }
    let config = ServiceConfig {
        listen: args.listen,
        region: args.region.clone(),
        state_dir: Some(state_dir),
        credentials,
        policy,
        limits: (!args.no_rate_limits).then_some(Limits::KVS),
        turn: (!args.no_turn).then(|| TurnConfig {
            ports: [args.turn_ports[0], args.turn_ports[1]],
            advertised_ports: args.turn_advertised_ports.as_deref().map(|p| [p[0], p[1]]),
        }),
        path_prefix: args.path_prefix,
        admin_token: admin_token
            .map(|t| t.expose().to_owned())
            .filter(|t| !t.is_empty()),
        handshake_timeout: Duration::from_secs(args.handshake_timeout),
        write_timeout: Duration::from_secs(args.write_timeout),
        tls: !args.plain,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        max_connection_duration: Duration::from_secs(args.max_connection_duration),
        go_away_grace: Duration::from_secs(args.go_away_grace),
        reconnect_ice_server_after: args.reconnect_ice_server_after.map(Duration::from_secs),
        iot,
        ..ServiceConfig::default()
    };
    let handle = kvs_service::start(config)
        .await
        .context("the service did not start")?;
    println!("endpoint: {}", handle.endpoint());
    match handle.ca_path() {
        Some(path) => println!("ca: {}", path.display()),
        None => println!("ca: none"),
    }
    println!("region: {}", args.region);
    let turn_ports = handle.turn_ports();
    if turn_ports.is_empty() {
        println!("turn: off");
    } else {
        let ports: Vec<String> = turn_ports.iter().map(u16::to_string).collect();
        println!("turn: udp ports {}", ports.join(","));
    }
    match handle.iot_endpoint() {
        Some(iot) => println!(
            "iot: {iot} (role aliases {}; credentials last {} s)",
            role_aliases.join(","),
            args.iot_credential_duration
        ),
        None => println!("iot: off"),
    }
    for (thing, device) in &devices {
        println!(
            "device {thing}: --iot-endpoint {} --iot-role-alias {} --iot-thing-name {thing} --iot-cert {} --iot-key {} --iot-ca {}",
            handle.iot_endpoint().unwrap_or("(off)"),
            role_aliases[0],
            device.cert_path.display(),
            device.key_path.display(),
            device.ca_path.display()
        );
    }
    let console = format!("{}/", handle.endpoint().trim_end_matches('/'));
    match handle.ca_path() {
        Some(ca) => {
            println!("console: {console}");
            for line in crate::console::trust_instructions(ca) {
                println!("  {line}");
            }
        }
        None => println!("console: {console} (plain HTTP on loopback: no certificate set-up)"),
    }
    if custom_keys.is_none() && args.credentials_file.is_none() {
        println!("access key id: {EXAMPLE_ACCESS_KEY_ID}");
        println!("secret access key: {EXAMPLE_SECRET_ACCESS_KEY}");
    } else {
        println!("access key ids: {}", key_ids.join(","));
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    handle.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser, Debug)]
    struct Wrapper {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn debug_of_the_options_hides_the_secret_key_and_the_admin_token() {
        let parsed = Wrapper::try_parse_from([
            "serve",
            "--access-key-id",
            "AKIDSERVE",
            "--secret-access-key",
            "SECRETSERVEKEY",
            "--admin-token",
            "ADMINTOKENVALUE",
        ])
        .unwrap();
        let shown = format!("{parsed:?}");
        assert!(!shown.contains("SECRETSERVEKEY"), "{shown}");
        assert!(!shown.contains("ADMINTOKENVALUE"), "{shown}");
        assert!(shown.contains("AKIDSERVE"), "{shown}");
    }

    #[test]
    fn a_secret_file_satisfies_the_key_id_and_the_flag_and_file_exclude_each_other() {
        let ok = Wrapper::try_parse_from([
            "serve",
            "--access-key-id",
            "AKID",
            "--secret-access-key-file",
            "/run/secrets/key",
        ]);
        assert!(ok.is_ok(), "{ok:?}");
        let both = Wrapper::try_parse_from([
            "serve",
            "--access-key-id",
            "AKID",
            "--secret-access-key",
            "x",
            "--secret-access-key-file",
            "/run/secrets/key",
        ]);
        assert!(both.is_err());
        let alone = Wrapper::try_parse_from(["serve", "--secret-access-key-file", "/k"]);
        assert!(alone.is_err(), "a secret needs its key id");
    }
}
