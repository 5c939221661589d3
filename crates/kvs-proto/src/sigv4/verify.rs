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

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignatureLocation, SigningSettings};
use subtle::ConstantTimeEq;

use super::sign::{RequestToSign, sign_with};
use super::{MAX_CLOCK_SKEW, MAX_PRESIGN_EXPIRES_SECS, SERVICE_NAME, encode_query};
use crate::{Credentials, amz_date, redact};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const MAX_QUERY_PARAMS: usize = 64;

/// A request as it arrived at the service, before any authentication. `Debug` hides the
/// signature and session token in the headers and the query.
#[derive(Clone, Copy)]
pub struct IncomingRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The `Host` header as the client sent it (port included).
    pub host: &'a str,
    /// The request path, still percent-encoded.
    pub path: &'a str,
    /// The raw query string without `?`, if any.
    pub query: Option<&'a str>,
    /// All request headers; names in any case.
    pub headers: &'a [(&'a str, &'a str)],
    /// The request body.
    pub body: &'a [u8],
}

/// A request whose signature checked out. `Debug` hides the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Verified {
    /// The key that signed it.
    pub access_key_id: String,
    /// The session token it carried, if any.
    pub session_token: Option<String>,
    /// The decoded query parameters other than SigV4's own (e.g. `X-Amz-ChannelARN`).
    pub params: BTreeMap<String, String>,
}

impl std::fmt::Debug for IncomingRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (*k, redact::header_value(k, v)))
            .collect();
        f.debug_struct("IncomingRequest")
            .field("method", &self.method)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("query", &self.query.map(redact::query))
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("access_key_id", &self.access_key_id)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| redact::REDACTED),
            )
            .field("params", &self.params)
            .finish()
    }
}

/// Why a request's signature was refused. Each variant maps to the AWS exception and HTTP
/// status the real service answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Neither an `Authorization` header nor a presigned query.
    #[error("Missing Authentication Token")]
    MissingAuthentication,
    /// The signature parts are present but malformed or incomplete.
    #[error("{0}")]
    Incomplete(String),
    /// The access key is not one the service knows.
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
    /// The key is a temporary one whose session has expired: its holder must fetch new
    /// credentials.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The credential scope names another region or service, or a date other than the request's.
    #[error("{0}")]
    BadScope(String),
    /// The recomputed signature differs: wrong secret, or the request was altered.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    SignatureMismatch,
    /// Signed too long ago, or a presigned URL used after its `X-Amz-Expires`.
    #[error("Signature expired: {signed} is now earlier than {limit} ({now} - {window})")]
    Expired {
        /// When the request was signed (or the URL's expiry instant).
        signed: String,
        /// The earliest acceptable time.
        limit: String,
        /// The service's time.
        now: String,
        /// The allowance, e.g. `5 min.`.
        window: String,
    },
    /// Signed in the future beyond the allowed skew.
    #[error("Signature not yet current: {signed} is still later than {limit} ({now} + 5 min.)")]
    NotYetCurrent {
        /// When the request claims to have been signed.
        signed: String,
        /// The latest acceptable time.
        limit: String,
        /// The service's time.
        now: String,
    },
}

impl VerifyError {
    /// The AWS exception name (the `x-amzn-ErrorType` header).
    pub fn exception_name(&self) -> &'static str {
        match self {
            Self::MissingAuthentication => "MissingAuthenticationTokenException",
            Self::Incomplete(_) => "IncompleteSignatureException",
            Self::UnknownAccessKey => "UnrecognizedClientException",
            Self::ExpiredToken => "ExpiredTokenException",
            Self::BadScope(_)
            | Self::SignatureMismatch
            | Self::Expired { .. }
            | Self::NotYetCurrent { .. } => "InvalidSignatureException",
        }
    }

    /// The HTTP status AWS uses for it.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Incomplete(_) => 400,
            _ => 403,
        }
    }

    /// True when the client's clock (not its keys) is the likely cause.
    pub fn is_clock_skew(&self) -> bool {
        matches!(self, Self::Expired { .. } | Self::NotYetCurrent { .. })
    }
}

fn incomplete(msg: impl Into<String>) -> VerifyError {
    VerifyError::Incomplete(msg.into())
}

/// The parsed `Credential=` value: `AKID/yyyymmdd/region/service/aws4_request`.
struct Scope<'a> {
    access_key_id: &'a str,
    region: &'a str,
}

fn parse_scope<'a>(
    credential: &'a str,
    amz_date: &str,
    region: &str,
) -> Result<Scope<'a>, VerifyError> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, scope_region, service, terminator] = parts[..] else {
        return Err(incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    };
    if access_key_id.is_empty() {
        return Err(incomplete("Credential has an empty access key id"));
    }
    if terminator != "aws4_request" {
        return Err(VerifyError::BadScope(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )));
    }
    if service != SERVICE_NAME {
        return Err(VerifyError::BadScope(format!(
            "Credential should be scoped to correct service: '{SERVICE_NAME}'."
        )));
    }
    if scope_region != region {
        return Err(VerifyError::BadScope(format!(
            "Credential should be scoped to a valid region, not '{scope_region}'. This service is in '{region}'."
        )));
    }
    if !amz_date.starts_with(date) || date.len() != 8 {
        return Err(VerifyError::BadScope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{}'",
            amz_date.get(..8).unwrap_or(amz_date)
        )));
    }
    Ok(Scope {
        access_key_id,
        region: scope_region,
    })
}

fn decode(s: &str) -> Result<String, VerifyError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| incomplete("query string is not valid percent-encoded UTF-8"))
}

fn parse_query(query: Option<&str>) -> Result<BTreeMap<String, String>, VerifyError> {
    let mut params = BTreeMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        if params.len() == MAX_QUERY_PARAMS {
            return Err(incomplete("too many query parameters"));
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if params.insert(decode(k)?, decode(v)?).is_some() {
            return Err(incomplete(format!(
                "query parameter '{}' appears more than once",
                decode(k)?
            )));
        }
    }
    Ok(params)
}

fn check_time(
    signed_at: SystemTime,
    amz: &str,
    valid_for: Option<u64>,
    now: SystemTime,
) -> Result<(), VerifyError> {
    // Times past the end of `SystemTime` count as "never": no overflow on any input.
    let latest = now.checked_add(MAX_CLOCK_SKEW);
    if let Some(latest) = latest
        && signed_at > latest
    {
        return Err(VerifyError::NotYetCurrent {
            signed: amz.to_owned(),
            limit: amz_date::format(latest),
            now: amz_date::format(now),
        });
    }
    let (deadline, window) = match valid_for {
        None => (signed_at.checked_add(MAX_CLOCK_SKEW), "5 min.".to_owned()),
        Some(secs) => (
            signed_at.checked_add(Duration::from_secs(secs)),
            format!("{secs} s, the URL's X-Amz-Expires"),
        ),
    };
    let Some(deadline) = deadline else {
        return Ok(());
    };
    if now > deadline {
        let earliest = now
            .checked_sub(deadline.duration_since(signed_at).unwrap_or_default())
            .unwrap_or(now);
        return Err(VerifyError::Expired {
            signed: amz.to_owned(),
            limit: amz_date::format(earliest),
            now: amz_date::format(now),
            window,
        });
    }
    Ok(())
}

fn header<'a>(req: &IncomingRequest<'a>, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// The auth values common to both placements, once extracted.
struct AuthParts<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
    amz_date: &'a str,
    session_token: Option<&'a str>,
    expires: Option<u64>,
}

/// Verifies a SigV4-signed request, header-signed or presigned.
///
/// `secret_for` maps an access key id to its secret; `region` is the only region the service
/// accepts in credential scopes; `now` is the service's wall clock.
pub fn verify(
    req: &IncomingRequest<'_>,
    secret_for: impl Fn(&str) -> Option<String>,
    region: &str,
    now: SystemTime,
) -> Result<Verified, VerifyError> {
    let mut params = parse_query(req.query)?;
    let presigned = params.contains_key("X-Amz-Signature");
    for name in ["authorization", "x-amz-date", "x-amz-security-token"] {
        let count = req
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .take(2)
            .count();
        if count > 1 {
            return Err(incomplete(format!(
                "the {name} header appears more than once"
            )));
        }
    }
    let authorization = header(req, "authorization");
    let owned_query;
    let parts = match (authorization, presigned) {
        (Some(_), true) => {
            return Err(incomplete(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be supplied",
            ));
        }
        (None, false) => return Err(VerifyError::MissingAuthentication),
        (Some(auth), false) => header_auth_parts(req, auth)?,
        (None, true) => {
            owned_query = take_presign_params(&mut params)?;
            owned_query.as_parts()
        }
    };

    let scope = parse_scope(parts.credential, parts.amz_date, region)?;
    let signed_at = amz_date::parse(parts.amz_date).ok_or_else(|| {
        incomplete(format!(
            "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z', got '{}'",
            parts.amz_date
        ))
    })?;
    check_time(signed_at, parts.amz_date, parts.expires, now)?;
    let secret = secret_for(scope.access_key_id).ok_or(VerifyError::UnknownAccessKey)?;

    let expected = resign(req, &parts, &scope, &params, secret, signed_at)?;
    if expected.as_bytes().ct_eq(parts.signature.as_bytes()).into() {
        Ok(Verified {
            access_key_id: scope.access_key_id.to_owned(),
            session_token: parts.session_token.map(str::to_owned),
            params,
        })
    } else {
        Err(VerifyError::SignatureMismatch)
    }
}

fn header_auth_parts<'a>(
    req: &IncomingRequest<'a>,
    auth: &'a str,
) -> Result<AuthParts<'a>, VerifyError> {
    let rest = auth
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| {
            incomplete(format!(
                "Authorization header must start with '{ALGORITHM} '"
            ))
        })?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for item in rest.split(',') {
        let (k, v) = item.trim().split_once('=').ok_or_else(|| {
            incomplete(format!(
                "Authorization header item '{}' lacks '='",
                item.trim()
            ))
        })?;
        let slot = match k {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        *slot = Some(v);
    }
    let missing =
        |what: &str| incomplete(format!("Authorization header requires '{what}' parameter."));
    let signed_headers = signed_headers.ok_or_else(|| missing("SignedHeaders"))?;
    let token_signed = signed_headers
        .split(';')
        .any(|h| h == "x-amz-security-token");
    Ok(AuthParts {
        credential: credential.ok_or_else(|| missing("Credential"))?,
        signed_headers,
        signature: signature.ok_or_else(|| missing("Signature"))?,
        amz_date: header(req, "x-amz-date")
            .ok_or_else(|| incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."))?,
        session_token: header(req, "x-amz-security-token").filter(|_| token_signed),
        expires: None,
    })
}

/// The SigV4 parameters of a presigned URL, removed from the other query parameters.
struct PresignParams {
    credential: String,
    signed_headers: String,
    signature: String,
    amz_date: String,
    session_token: Option<String>,
    expires: u64,
}

impl PresignParams {
    fn as_parts(&self) -> AuthParts<'_> {
        AuthParts {
            credential: &self.credential,
            signed_headers: &self.signed_headers,
            signature: &self.signature,
            amz_date: &self.amz_date,
            session_token: self.session_token.as_deref(),
            expires: Some(self.expires),
        }
    }
}

fn take_presign_params(
    params: &mut BTreeMap<String, String>,
) -> Result<PresignParams, VerifyError> {
    let mut take = |name: &str| {
        params.remove(name).ok_or_else(|| {
            incomplete(format!(
                "AWS query-string parameters must include '{name}'."
            ))
        })
    };
    let algorithm = take("X-Amz-Algorithm")?;
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "X-Amz-Algorithm must be '{ALGORITHM}', got '{algorithm}'"
        )));
    }
    let expires_raw = take("X-Amz-Expires")?;
    let expires = expires_raw
        .parse::<u64>()
        .ok()
        .filter(|e| (1..=MAX_PRESIGN_EXPIRES_SECS).contains(e))
        .ok_or_else(|| {
            incomplete(format!(
                "X-Amz-Expires must be an integer from 1 to {MAX_PRESIGN_EXPIRES_SECS}, got '{expires_raw}'"
            ))
        })?;
    Ok(PresignParams {
        credential: take("X-Amz-Credential")?,
        signed_headers: take("X-Amz-SignedHeaders")?,
        signature: take("X-Amz-Signature")?,
        amz_date: take("X-Amz-Date")?,
        session_token: params.remove("X-Amz-Security-Token"),
        expires,
    })
}

fn resign(
    req: &IncomingRequest<'_>,
    parts: &AuthParts<'_>,
    scope: &Scope<'_>,
    params: &BTreeMap<String, String>,
    secret: String,
    signed_at: SystemTime,
) -> Result<String, VerifyError> {
    // aws-sigv4 adds host, x-amz-date and x-amz-security-token itself; pass the other signed
    // headers with the values the client sent.
    let mut headers = vec![("host", req.host)];
    for name in parts.signed_headers.split(';') {
        if matches!(name, "host" | "x-amz-date" | "x-amz-security-token") {
            continue;
        }
        // Every value of a repeated header is signed (joined with commas, as SigV4 does).
        let before = headers.len();
        headers.extend(
            req.headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| (name, *v)),
        );
        if headers.len() == before {
            return Err(incomplete(format!(
                "signed header '{name}' is not in the request"
            )));
        }
    }
    let query = encode_query(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let url = if query.is_empty() {
        format!("https://{}{}", req.host, req.path)
    } else {
        format!("https://{}{}?{query}", req.host, req.path)
    };
    let mut settings = SigningSettings::default();
    settings.excluded_headers = None;
    if let Some(expires) = parts.expires {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(expires));
    }
    let creds = Credentials::new(
        scope.access_key_id,
        secret,
        parts.session_token.map(str::to_owned),
        None,
        crate::STATIC_PROVIDER,
    );
    let to_sign = RequestToSign {
        method: req.method,
        url: &url,
        headers: &headers,
        body: if parts.expires.is_some() {
            &[]
        } else {
            req.body
        },
    };
    let out = sign_with(to_sign, &creds, scope.region, signed_at, settings)
        .map_err(|_| VerifyError::SignatureMismatch)?;
    Ok(out.into_parts().1)
}
