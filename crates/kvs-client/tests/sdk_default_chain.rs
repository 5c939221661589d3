//! With the `aws-default-chain` feature, the default chain goes on to the AWS SDK's own
//! providers. Tested with the ECS container provider against a real local HTTP server, in a
//! child process so its environment is the chain's (this test binary runs itself again).

#![cfg(feature = "aws-default-chain")]

use std::process::Command;

use kvs_client::ProvideCredentials;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHILD: &str = "KVS_SDK_CHAIN_CHILD";
const KEY_ID: &str = "ASIACONTAINERKEY0001";

#[tokio::test]
async fn the_sdk_chain_supplies_container_credentials_after_ours() {
    if std::env::var_os(CHILD).is_some() {
        // The child: only the container variables are set; our own providers find nothing.
        let creds = kvs_client::default_chain()
            .provide_credentials()
            .await
            .unwrap();
        println!("access key id: {}", creds.access_key_id());
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 4096];
        let n = conn.read(&mut request).await.unwrap();
        let expiration = kvs_proto::amz_date::format_extended(
            std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
        );
        let body = format!(
            r#"{{"AccessKeyId":"{KEY_ID}","SecretAccessKey":"container-secret","Token":"container-token","Expiration":"{expiration}"}}"#
        );
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(answer.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request[..n]).into_owned()
    });
    let exe = std::env::current_exe().unwrap();
    let child = tokio::task::spawn_blocking(move || {
        Command::new(exe)
            .args([
                "--exact",
                "the_sdk_chain_supplies_container_credentials_after_ours",
                "--nocapture",
            ])
            .env_clear()
            .env(CHILD, "1")
            .env("HOME", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                format!("http://{addr}/credentials"),
            )
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(out.contains(&format!("access key id: {KEY_ID}")), "{out}");
    let request = server.await.unwrap();
    assert!(request.starts_with("GET /credentials "), "{request}");
}
