//! The API token: a type that cannot print itself, so no log line, error or debug dump leaks it.

use std::borrow::Cow;
use std::fmt;

#[derive(Clone)]
pub struct ApiToken(String);

impl ApiToken {
    /// Trims surrounding white space (a token file usually ends with a newline).
    pub fn new(raw: &str) -> Option<Self> {
        let token = raw.trim();
        (!token.is_empty()).then(|| ApiToken(token.to_owned()))
    }

    /// The token itself, for the one place that builds the Authorization header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the token replaced by `<redacted>`: for anything a remote
    /// end sends back, which may echo the request's Authorization header.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if text.contains(&self.0) {
            Cow::Owned(text.replace(&self.0, "<redacted>"))
        } else {
            Cow::Borrowed(text)
        }
    }

    /// Account-owned tokens are verified at a different endpoint.
    pub fn is_account_token(&self) -> bool {
        self.0.starts_with("cfat_")
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

impl fmt::Display for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let t = ApiToken::new("  canary-123\n").unwrap();
        assert_eq!(t.expose(), "canary-123");
        assert!(!format!("{t} {t:?} {t:#?}").contains("canary"));
        assert_eq!(
            t.redact("bad header Authorization: Bearer canary-123 (x canary-123)"),
            "bad header Authorization: Bearer <redacted> (x <redacted>)"
        );
        assert_eq!(t.redact("nothing here"), "nothing here");
    }
}
