//! Input validation as the API models define it: required members, lengths, ranges, enums and
//! patterns, checked on the request's JSON before it is turned into typed input, and reported
//! the way AWS reports them (`2 validation errors detected: Value 'x' at 'channelName' failed
//! to satisfy constraint: ...`).

#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::string_slice
    )
)]

use kvs_proto::api::{ErrorCode, Operation};
use serde_json::Value;

use crate::api_error::ApiError;
use crate::arn::ResourceArn;

/// Which characters a string member may hold (the models' patterns).
#[derive(Debug, Clone, Copy)]
enum Chars {
    /// `[a-zA-Z0-9_.-]+`: channel names, client ids, user names.
    Id,
    /// `[a-zA-Z0-9]+`: versions.
    Alnum,
    /// `[a-zA-Z0-9+/=]*`: base64 payloads and tokens.
    Base64,
    /// `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`: tag keys and values.
    Tag,
    /// The ResourceARN pattern; `true` when the partition must be `aws` (signaling API).
    Arn { aws_only: bool },
}

impl Chars {
    fn pattern(self) -> &'static str {
        match self {
            Self::Id => "[a-zA-Z0-9_.-]+",
            Self::Alnum => "[a-zA-Z0-9]+",
            Self::Base64 => "[a-zA-Z0-9+/=]*",
            Self::Tag => "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
            Self::Arn { aws_only: false } => {
                "arn:[a-z\\d-]+:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+"
            }
            Self::Arn { aws_only: true } => {
                "arn:aws:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+"
            }
        }
    }

    fn matches(self, s: &str) -> bool {
        let id = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        match self {
            Self::Id => !s.is_empty() && s.chars().all(id),
            Self::Alnum => !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()),
            Self::Base64 => s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')),
            Self::Tag => s.chars().all(|c| {
                c.is_alphabetic()
                    || c.is_numeric()
                    || (c.is_whitespace() && !c.is_control())
                    || "_.:/=+-@".contains(c)
            }),
            Self::Arn { aws_only } => arn_matches(s, aws_only),
        }
    }
}

fn arn_matches(s: &str, aws_only: bool) -> bool {
    let lower_digit_dash = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    ResourceArn::parse(s).is_some_and(|arn| {
        let partition_ok = if aws_only {
            arn.partition == "aws"
        } else {
            lower_digit_dash(arn.partition)
        };
        partition_ok
            && lower_digit_dash(arn.region)
            && !arn.kind.is_empty()
            && arn.kind.bytes().all(|b| b.is_ascii_lowercase())
    })
}

/// The constraint on one member's value.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Str {
        min: usize,
        max: usize,
        chars: Chars,
    },
    Int {
        min: i64,
        max: i64,
    },
    Enum(&'static [&'static str]),
    List {
        min: usize,
        max: usize,
        item: &'static Rule,
    },
    Struct(&'static [Member]),
}

/// One member of an input structure.
#[derive(Debug, Clone, Copy)]
struct Member {
    /// Its JSON key.
    key: &'static str,
    required: bool,
    rule: Rule,
}

const fn opt(key: &'static str, rule: Rule) -> Member {
    Member {
        key,
        required: false,
        rule,
    }
}

const fn req(key: &'static str, rule: Rule) -> Member {
    Member {
        key,
        required: true,
        rule,
    }
}

const CHANNEL_NAME: Rule = Rule::Str {
    min: 1,
    max: 256,
    chars: Chars::Id,
};
const ARN: Rule = Rule::Str {
    min: 1,
    max: 1024,
    chars: Chars::Arn { aws_only: false },
};
const SIGNALING_ARN: Rule = Rule::Str {
    min: 1,
    max: 1024,
    chars: Chars::Arn { aws_only: true },
};
const VERSION: Rule = Rule::Str {
    min: 1,
    max: 64,
    chars: Chars::Alnum,
};
const NEXT_TOKEN: Rule = Rule::Str {
    min: 0,
    max: 1024,
    chars: Chars::Base64,
};
const CLIENT_ID: Rule = Rule::Str {
    min: 1,
    max: 256,
    chars: Chars::Id,
};
const TAG_KEY: Rule = Rule::Str {
    min: 1,
    max: 128,
    chars: Chars::Tag,
};
const TAG: Rule = Rule::Struct(&[
    req("Key", TAG_KEY),
    req(
        "Value",
        Rule::Str {
            min: 0,
            max: 256,
            chars: Chars::Tag,
        },
    ),
]);
const SINGLE_MASTER: Rule =
    Rule::Struct(&[opt("MessageTtlSeconds", Rule::Int { min: 5, max: 120 })]);

const CREATE: &[Member] = &[
    req("ChannelName", CHANNEL_NAME),
    opt("ChannelType", Rule::Enum(&["SINGLE_MASTER", "FULL_MESH"])),
    opt("SingleMasterConfiguration", SINGLE_MASTER),
    opt(
        "Tags",
        Rule::List {
            min: 0,
            max: 50,
            item: &TAG,
        },
    ),
];
const DESCRIBE: &[Member] = &[opt("ChannelName", CHANNEL_NAME), opt("ChannelARN", ARN)];
const ENDPOINT: &[Member] = &[
    req("ChannelARN", ARN),
    opt(
        "SingleMasterChannelEndpointConfiguration",
        Rule::Struct(&[
            opt(
                "Protocols",
                Rule::List {
                    min: 1,
                    max: 5,
                    item: &Rule::Enum(&["WSS", "HTTPS", "WEBRTC"]),
                },
            ),
            opt("Role", Rule::Enum(&["MASTER", "VIEWER"])),
        ]),
    ),
];
const DELETE: &[Member] = &[req("ChannelARN", ARN), opt("CurrentVersion", VERSION)];
const LIST: &[Member] = &[
    opt(
        "MaxResults",
        Rule::Int {
            min: 1,
            max: 10_000,
        },
    ),
    opt("NextToken", NEXT_TOKEN),
    opt(
        "ChannelNameCondition",
        Rule::Struct(&[
            opt("ComparisonOperator", Rule::Enum(&["BEGINS_WITH"])),
            opt("ComparisonValue", CHANNEL_NAME),
        ]),
    ),
];
const UPDATE: &[Member] = &[
    req("ChannelARN", ARN),
    req("CurrentVersion", VERSION),
    opt("SingleMasterConfiguration", SINGLE_MASTER),
];
const TAG_RESOURCE: &[Member] = &[
    req("ResourceARN", ARN),
    req(
        "Tags",
        Rule::List {
            min: 1,
            max: 50,
            item: &TAG,
        },
    ),
];
const UNTAG_RESOURCE: &[Member] = &[
    req("ResourceARN", ARN),
    req(
        "TagKeyList",
        Rule::List {
            min: 1,
            max: 50,
            item: &TAG_KEY,
        },
    ),
];
const LIST_TAGS: &[Member] = &[opt("NextToken", NEXT_TOKEN), req("ResourceARN", ARN)];
const ICE_CONFIG: &[Member] = &[
    req("ChannelARN", SIGNALING_ARN),
    opt("ClientId", CLIENT_ID),
    opt("Service", Rule::Enum(&["TURN"])),
    opt("Username", CLIENT_ID),
];
const ALEXA_OFFER: &[Member] = &[
    req("ChannelARN", SIGNALING_ARN),
    req("SenderClientId", CLIENT_ID),
    req(
        "MessagePayload",
        Rule::Str {
            min: 1,
            max: 10_000,
            chars: Chars::Base64,
        },
    ),
];

fn members(op: Operation) -> &'static [Member] {
    match op {
        Operation::CreateSignalingChannel => CREATE,
        Operation::DescribeSignalingChannel => DESCRIBE,
        Operation::GetSignalingChannelEndpoint => ENDPOINT,
        Operation::DeleteSignalingChannel => DELETE,
        Operation::GetIceServerConfig => ICE_CONFIG,
        Operation::ListSignalingChannels => LIST,
        Operation::UpdateSignalingChannel => UPDATE,
        Operation::TagResource => TAG_RESOURCE,
        Operation::UntagResource => UNTAG_RESOURCE,
        Operation::ListTagsForResource => LIST_TAGS,
        Operation::SendAlexaOfferToMaster => ALEXA_OFFER,
    }
}

/// Most violations listed in one message, like the real service.
const MAX_REPORTED: usize = 10;

/// Checks an operation's JSON body against its model; the error lists every violation.
/// A body that is not a JSON object is a SerializationException.
pub fn validate(op: Operation, body: &Value) -> Result<(), ApiError> {
    let Value::Object(_) = body else {
        return Err(ApiError::new(
            ErrorCode::SerializationException,
            "the request body must be a JSON object",
        ));
    };
    let mut found = Vec::new();
    check_struct(members(op), body, "", &mut found);
    if found.is_empty() {
        return Ok(());
    }
    let count = found.len();
    found.truncate(MAX_REPORTED);
    let noun = if count == 1 { "error" } else { "errors" };
    Err(ApiError::new(
        ErrorCode::InvalidArgument,
        format!("{count} validation {noun} detected: {}", found.join("; ")),
    ))
}

/// AWS names members in messages with a lower-case first letter (`channelARN`).
fn field_name(prefix: &str, key: &str) -> String {
    let mut chars = key.chars();
    let first = chars.next().map(|c| c.to_ascii_lowercase());
    let name: String = first.into_iter().chain(chars).collect();
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}.{name}")
    }
}

fn check_struct(members: &[Member], value: &Value, prefix: &str, found: &mut Vec<String>) {
    let Value::Object(map) = value else {
        found.push(format!(
            "Value at '{prefix}' failed to satisfy constraint: Member must be a structure"
        ));
        return;
    };
    for member in members {
        let field = field_name(prefix, member.key);
        match map.get(member.key) {
            None | Some(Value::Null) if member.required => found.push(format!(
                "Value null at '{field}' failed to satisfy constraint: Member must not be null"
            )),
            None | Some(Value::Null) => {}
            Some(v) => check(&member.rule, v, &field, found),
        }
    }
}

/// A value as AWS quotes it in a message, cut short so a huge input makes a short message.
fn shown(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 64 {
        format!("{}...", text.chars().take(64).collect::<String>())
    } else {
        text
    }
}

fn check(rule: &Rule, v: &Value, field: &str, found: &mut Vec<String>) {
    let fail = |found: &mut Vec<String>, constraint: String| {
        found.push(format!(
            "Value '{}' at '{field}' failed to satisfy constraint: Member must {constraint}",
            shown(v)
        ));
    };
    match (rule, v) {
        (Rule::Str { min, max, chars }, Value::String(s)) => {
            let len = s.chars().count();
            if len < *min || len > *max {
                fail(
                    found,
                    format!("have length between {min} and {max}, inclusive"),
                );
            } else if !chars.matches(s) {
                fail(
                    found,
                    format!("satisfy regular expression pattern: {}", chars.pattern()),
                );
            }
        }
        (Rule::Int { min, max }, Value::Number(n)) => match n.as_i64() {
            Some(i) if (*min..=*max).contains(&i) => {}
            _ => fail(
                found,
                format!("have value between {min} and {max}, inclusive"),
            ),
        },
        (Rule::Enum(allowed), Value::String(s)) => {
            if !allowed.contains(&s.as_str()) {
                fail(
                    found,
                    format!("satisfy enum value set: [{}]", allowed.join(", ")),
                );
            }
        }
        (Rule::List { min, max, item }, Value::Array(items)) => {
            if items.len() < *min || items.len() > *max {
                fail(
                    found,
                    format!("have length between {min} and {max}, inclusive"),
                );
            }
            for (i, it) in items.iter().enumerate().take(*max) {
                check(
                    item,
                    it,
                    &format!("{field}.{}.member", i.saturating_add(1)),
                    found,
                );
            }
        }
        (Rule::Struct(members), Value::Object(_)) => check_struct(members, v, field, found),
        (rule, _) => {
            let kind = match rule {
                Rule::Str { .. } | Rule::Enum(_) => "a string",
                Rule::Int { .. } => "an integer",
                Rule::List { .. } => "a list",
                Rule::Struct(_) => "a structure",
            };
            fail(found, format!("be {kind}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(op: Operation, body: Value) -> String {
        validate(op, &body).unwrap_err().message
    }

    #[test]
    fn valid_inputs_pass() {
        let arn = "arn:aws:kinesisvideo:us-west-2:123456789012:channel/demo/1606901298484";
        validate(
            Operation::CreateSignalingChannel,
            &json!({"ChannelName": "demo", "Tags": [{"Key": "team é", "Value": "a:b/c=d+e@f"}],
                    "SingleMasterConfiguration": {"MessageTtlSeconds": 120}}),
        )
        .unwrap();
        validate(
            Operation::SendAlexaOfferToMaster,
            &json!({"ChannelARN": arn, "SenderClientId": "alexa-1", "MessagePayload": "eyJ9"}),
        )
        .unwrap();
        validate(
            Operation::UpdateSignalingChannel,
            &json!({"ChannelARN": arn.replace(":aws:", ":aws-cn:"), "CurrentVersion": "abc123"}),
        )
        .unwrap();
    }

    #[test]
    fn each_violation_is_named_like_aws_names_it() {
        let m = message(
            Operation::CreateSignalingChannel,
            json!({"ChannelName": "bad name", "SingleMasterConfiguration": {"MessageTtlSeconds": 4}}),
        );
        assert!(m.starts_with("2 validation errors detected: "), "{m}");
        assert!(m.contains("Value 'bad name' at 'channelName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"), "{m}");
        assert!(
            m.contains("Value '4' at 'singleMasterConfiguration.messageTtlSeconds'"),
            "{m}"
        );
        let m = message(Operation::UpdateSignalingChannel, json!({}));
        assert!(
            m.contains(
                "Value null at 'channelARN' failed to satisfy constraint: Member must not be null"
            ),
            "{m}"
        );
        assert!(m.contains("at 'currentVersion'"), "{m}");
        let m = message(
            Operation::TagResource,
            json!({"ResourceARN": "arn:aws:kinesisvideo:r:1:channel/a/1", "Tags": [{"Key": "a<b", "Value": ""}]}),
        );
        assert!(m.contains("at 'tags.1.member.key'"), "{m}");
    }

    #[test]
    fn the_signaling_api_wants_the_aws_partition() {
        let m = message(
            Operation::GetIceServerConfig,
            json!({"ChannelARN": "arn:aws-cn:kinesisvideo:r:1:channel/a/1"}),
        );
        assert!(m.contains("arn:aws:kinesisvideo"), "{m}");
    }

    #[test]
    fn wrong_types_and_non_objects_are_refused() {
        let m = message(
            Operation::ListSignalingChannels,
            json!({"MaxResults": "ten"}),
        );
        assert!(m.contains("Member must be an integer"), "{m}");
        let e = validate(Operation::ListSignalingChannels, &json!([1])).unwrap_err();
        assert_eq!(e.code, ErrorCode::SerializationException);
    }

    #[test]
    fn huge_inputs_make_short_messages() {
        let tags: Vec<Value> = (0..5000)
            .map(|i| json!({"Key": format!("{i}<"), "Value": "v"}))
            .collect();
        let m = message(
            Operation::TagResource,
            json!({"ResourceARN": "x".repeat(100_000), "Tags": tags}),
        );
        assert!(m.len() < 4096, "{}", m.len());
    }
}
