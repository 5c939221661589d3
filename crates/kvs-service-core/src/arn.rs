//! KVS resource ARNs: their parts, and the channel name inside one.

use kvs_proto::wire::is_valid_id;

/// The parts of a KVS resource ARN: `arn:PARTITION:kinesisvideo:REGION:ACCOUNT:TYPE/NAME/STAMP`,
/// with a numeric account and stamp and a name of `[a-zA-Z0-9_.-]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceArn<'a> {
    /// `aws`, `aws-cn`, ...
    pub partition: &'a str,
    /// The region.
    pub region: &'a str,
    /// The account id.
    pub account: &'a str,
    /// `channel` for signaling channels.
    pub kind: &'a str,
    /// The resource name.
    pub name: &'a str,
    /// The creation time in milliseconds, as digits.
    pub stamp: &'a str,
}

impl<'a> ResourceArn<'a> {
    /// The parts of `arn`, if it has the shape above.
    pub fn parse(arn: &'a str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some("kinesisvideo"),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return None;
        };
        let mut res = resource.splitn(3, '/');
        let (Some(kind), Some(name), Some(stamp)) = (res.next(), res.next(), res.next()) else {
            return None;
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        (digits(account) && digits(stamp) && is_valid_id(name)).then_some(Self {
            partition,
            region,
            account,
            kind,
            name,
            stamp,
        })
    }
}

/// The channel name inside a well-formed channel ARN.
pub fn arn_channel_name(arn: &str) -> Option<&str> {
    ResourceArn::parse(arn)
        .filter(|a| a.kind == "channel")
        .map(|a| a.name)
}
