//! Credentials out of anything shown: the userinfo of URLs (`https://user:pass@host/…`) is
//! replaced before a text reaches a log line, an Event, an error or `/debug/collectors`.
//!
//! HPA annotations may carry credentials in URLs (`prometheus-server`, a json-path `endpoint`);
//! their authors can read the HPA's Events, and the debug output lists every namespace, so a
//! URL is never displayed as written. [`redact_userinfo`] is the one implementation: collectors,
//! config errors, logs and the debug endpoint all call it.

use std::borrow::Cow;

/// What the userinfo of a URL is replaced with.
pub const REDACTED: &str = "***";

/// `text` with the userinfo of every URL in it (`scheme://userinfo@host`) replaced by
/// [`REDACTED`]; borrowed unchanged when there is none.
///
/// Works on free text (error messages, JSON strings), not only on a lone URL: every `://` starts
/// an authority, which ends at `/`, `?`, `#`, `\`, whitespace, a quote or `<>`, as a URL parser
/// and a reader would see it. The last `@` of the authority ends the userinfo (an unencoded `@`
/// in a password is part of it). A URL whose password holds an unencoded `/` does not parse as
/// such and is redacted only up to that `/`; its host part never is.
pub fn redact_userinfo(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find("://") {
        let start = search + found + 3;
        let end = text[start..]
            .find(ends_authority)
            .map_or(text.len(), |i| start + i);
        if let Some(at) = text[start..end].rfind('@') {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = start + at;
        }
        search = end;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

fn ends_authority(c: char) -> bool {
    matches!(c, '/' | '?' | '#' | '\\' | '"' | '\'' | '<' | '>' | '`') || c.is_whitespace()
}

/// `value` as a person sees it in a log line, an Event or a status: its text with the userinfo
/// of every URL redacted.
pub fn shown(value: &impl std::fmt::Display) -> String {
    redacted(value.to_string())
}

/// `text` with the userinfo of every URL redacted, reusing its allocation when there is none.
pub fn redacted(text: String) -> String {
    match redact_userinfo(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(redacted) => redacted,
    }
}

/// Every string in `value` (keys included) passed through [`redact_userinfo`].
pub fn redact_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Cow::Owned(redacted) = redact_userinfo(s) {
                *s = redacted;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                redact_json(&mut item);
                map.insert(redact_userinfo(&key).into_owned(), item);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_replaced_wherever_a_url_appears() {
        let cases = [
            ("http://user:pass@prom:9090/api", "http://***@prom:9090/api"),
            ("https://token@host", "https://***@host"),
            ("https://a:b@c@host/x@y", "https://***@host/x@y"),
            (
                "GET http://u:p@one/a failed; retried http://two/b and https://x:y@three?q=1",
                "GET http://***@one/a failed; retried http://two/b and https://***@three?q=1",
            ),
            (
                r#"{"source":"url http://u:p@h:1/m"}"#,
                r#"{"source":"url http://***@h:1/m"}"#,
            ),
            (
                "endpoint \"http://u:p@h\" is bad",
                "endpoint \"http://***@h\" is bad",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(redact_userinfo(input), want, "{input}");
        }
    }

    #[test]
    fn text_without_userinfo_is_borrowed_unchanged() {
        for text in [
            "",
            "no url here, mail me@example.org",
            "http://prom:9090/api?email=a@b",
            "http://host/path@x",
            "http://",
            "sum(rate(x[1m]))",
        ] {
            assert!(
                matches!(redact_userinfo(text), Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
    }

    #[test]
    fn shown_redacts_what_a_display_writes() {
        let error = std::io::Error::other("GET http://u:p@h/m: refused");
        assert_eq!(shown(&error), "GET http://***@h/m: refused");
        assert_eq!(shown(&"plain"), "plain");
    }

    #[test]
    fn json_strings_and_keys_are_redacted() {
        let mut value = serde_json::json!({
            "collectors": [{"source": "json-path https://u:p@h/x", "n": 1, "ok": true}],
            "http://k:s@key": null,
        });
        redact_json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({
                "collectors": [{"source": "json-path https://***@h/x", "n": 1, "ok": true}],
                "http://***@key": null,
            })
        );
    }
}
