//! The `--iot-*` flags: temporary credentials from the AWS IoT credentials provider, in
//! exchange for a device certificate, as cameras in the field get theirs.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use kvs_client::IotSettings;

/// Where and how to ask the AWS IoT credentials provider (the C SDK samples read the same
/// settings from AWS_IOT_CORE_CREDENTIAL_ENDPOINT, AWS_IOT_CORE_ROLE_ALIAS,
/// AWS_IOT_CORE_THING_NAME, AWS_IOT_CORE_CERT and AWS_IOT_CORE_PRIVATE_KEY, which the default
/// credentials chain reads too, with AWS_IOT_CORE_CA for the CA).
#[derive(Args, Debug, Clone, Default)]
pub struct IotArgs {
    /// The account's IoT credentials endpoint (`aws iot describe-endpoint --endpoint-type
    /// iot:CredentialProvider`), or the local service's (`serve` prints it).
    #[arg(long, value_name = "HOST|URL")]
    pub iot_endpoint: Option<String>,
    /// The role alias to assume (`aws iot create-role-alias`); the local service's is
    /// kvs-signaling-role-alias.
    #[arg(long, value_name = "ALIAS")]
    pub iot_role_alias: Option<String>,
    /// The thing the device certificate is attached to.
    #[arg(long, value_name = "THING")]
    pub iot_thing_name: Option<String>,
    /// The device certificate, PEM.
    #[arg(long, value_name = "PEM")]
    pub iot_cert: Option<PathBuf>,
    /// The device's private key, PEM.
    #[arg(long, value_name = "PEM")]
    pub iot_key: Option<PathBuf>,
    /// A CA to trust for the endpoint besides the public roots (which hold Amazon Root CA 1),
    /// e.g. the local service's ca.pem.
    #[arg(long, value_name = "PEM")]
    pub iot_ca: Option<PathBuf>,
}

impl IotArgs {
    /// True when any `--iot-*` flag is given.
    pub fn any(&self) -> bool {
        self.iot_endpoint.is_some()
            || self.iot_role_alias.is_some()
            || self.iot_thing_name.is_some()
            || self.iot_cert.is_some()
            || self.iot_key.is_some()
            || self.iot_ca.is_some()
    }

    /// The settings when every flag but `--iot-ca` is given; `None` when none is; an error
    /// naming the missing flags otherwise.
    pub fn settings(&self) -> anyhow::Result<Option<IotSettings>> {
        if !self.any() {
            return Ok(None);
        }
        let missing: Vec<&str> = [
            ("--iot-endpoint", self.iot_endpoint.is_none()),
            ("--iot-role-alias", self.iot_role_alias.is_none()),
            ("--iot-thing-name", self.iot_thing_name.is_none()),
            ("--iot-cert", self.iot_cert.is_none()),
            ("--iot-key", self.iot_key.is_none()),
        ]
        .into_iter()
        .filter_map(|(flag, absent)| absent.then_some(flag))
        .collect();
        if !missing.is_empty() {
            bail!(
                "IoT credentials need {} as well (the C SDK's AWS_IOT_CORE_* settings)",
                missing.join(", ")
            );
        }
        Ok(Some(self.over(IotSettings {
            endpoint: String::new(),
            role_alias: String::new(),
            thing_name: String::new(),
            cert: PathBuf::new(),
            key: PathBuf::new(),
            ca: None,
        })))
    }

    /// `base` with every setting these flags give replaced.
    pub fn over(&self, base: IotSettings) -> IotSettings {
        IotSettings {
            endpoint: self.iot_endpoint.clone().unwrap_or(base.endpoint),
            role_alias: self.iot_role_alias.clone().unwrap_or(base.role_alias),
            thing_name: self.iot_thing_name.clone().unwrap_or(base.thing_name),
            cert: self.iot_cert.clone().unwrap_or(base.cert),
            key: self.iot_key.clone().unwrap_or(base.key),
            ca: self.iot_ca.clone().or(base.ca),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_flags_name_what_is_missing_and_none_means_other_credentials() {
        assert!(IotArgs::default().settings().unwrap().is_none());
        let partial = IotArgs {
            iot_endpoint: Some("127.0.0.1:4444".into()),
            iot_cert: Some("c.pem".into()),
            ..IotArgs::default()
        };
        let err = partial.settings().unwrap_err().to_string();
        for flag in ["--iot-role-alias", "--iot-thing-name", "--iot-key"] {
            assert!(err.contains(flag), "{err}");
        }
        assert!(!err.contains("--iot-cert,"), "{err}");
    }
}
