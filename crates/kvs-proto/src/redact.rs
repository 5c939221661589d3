//! What `Debug` output shows in place of a secret, and which headers and query parameters
//! carry one. Every type that holds a secret writes its own `Debug` with these, so secrets
//! stay out of logs, panics and error messages however the value gets printed.

/// Printed in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// True for the headers that carry a signature or a session token.
pub fn is_secret_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("x-amz-security-token")
}

/// True for the query parameters of a presigned URL that carry a signature or a session token.
pub fn is_secret_param(name: &str) -> bool {
    name.eq_ignore_ascii_case("X-Amz-Signature")
        || name.eq_ignore_ascii_case("X-Amz-Security-Token")
}

/// `value`, or [`REDACTED`] when `name` is a secret header.
pub fn header_value<'a>(name: &str, value: &'a str) -> &'a str {
    if is_secret_header(name) {
        REDACTED
    } else {
        value
    }
}

/// A query string (without `?`) with the values of secret parameters replaced.
pub fn query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_param(name) => format!("{name}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A URL with the values of secret query parameters replaced.
pub fn url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, q)) => format!("{base}?{}", query(q)),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_tokens_are_replaced_and_nothing_else() {
        assert_eq!(
            url("wss://h/v?X-Amz-ChannelARN=a&X-Amz-Signature=abc&x-amz-security-token=t"),
            "wss://h/v?X-Amz-ChannelARN=a&X-Amz-Signature=<redacted>&x-amz-security-token=<redacted>"
        );
        assert_eq!(url("https://h/p"), "https://h/p");
        assert_eq!(header_value("Authorization", "AWS4 sig"), REDACTED);
        assert_eq!(header_value("host", "h"), "h");
    }
}
