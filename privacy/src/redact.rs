//! Database URLs without their passwords, for every message and log line that names a database.
//!
//! Both forms PostgreSQL takes are handled:
//! - URL form, `postgres://user:password@host/db?password=...`: the userinfo password and any
//!   `password` query parameter;
//! - key=value form (libpq conninfo), `host=db password=secret` or `password = 'a b\'c'`: the
//!   value of `password`, quoted or not.
//!
//! When the text can't be read with certainty (a password with an unescaped `@` or `/`, a
//! conninfo token without `=`), more is hidden rather than less.

const HIDDEN: &str = "***";

/// The URL or connection string with every password replaced by `***`.
pub fn redact_database_url(url: &str) -> String {
    match url_scheme_len(url) {
        Some(scheme_len) => redact_url_form(url, scheme_len + 3),
        None => redact_key_value_form(url),
    }
}

/// Length of `scheme` when the text starts with `scheme://`. A `://` further in, such as inside
/// a quoted conninfo password, does not make the text a URL.
fn url_scheme_len(text: &str) -> Option<usize> {
    let scheme_len = text.find("://")?;
    let scheme = &text[..scheme_len];
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    is_scheme.then_some(scheme_len)
}

fn redact_url_form(url: &str, authority_start: usize) -> String {
    let rest = &url[authority_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    // The last `@` of the authority ends the userinfo. A password with an unescaped `/`, `?` or
    // `#` hides its `@` beyond that: then take the last `@` of all.
    let userinfo_end = rest[..authority_end].rfind('@').or_else(|| rest.rfind('@'));
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..authority_start]);
    let after_userinfo = match userinfo_end {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..=colon]);
                    out.push_str(HIDDEN);
                }
                None => out.push_str(userinfo),
            }
            &rest[at..]
        }
        None => rest,
    };
    match after_userinfo.find('?') {
        Some(query_start) => {
            out.push_str(&after_userinfo[..=query_start]);
            out.push_str(&redact_query(&after_userinfo[query_start + 1..]));
        }
        None => out.push_str(after_userinfo),
    }
    out
}

/// `a=1&password=x#frag` → `a=1&password=***#frag`.
fn redact_query(query: &str) -> String {
    let (query, fragment) = match query.find('#') {
        Some(hash) => query.split_at(hash),
        None => (query, ""),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_password_key(key) => format!("{key}={HIDDEN}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{}{fragment}", pairs.join("&"))
}

fn is_password_key(key: &str) -> bool {
    key.trim().eq_ignore_ascii_case("password")
}

/// libpq conninfo: `key = value` pairs separated by whitespace; a value is a word or a quoted
/// string with `\'` and `\\` escapes.
fn redact_key_value_form(conninfo: &str) -> String {
    let mut out = String::with_capacity(conninfo.len());
    let mut rest = conninfo;
    loop {
        let token = rest.trim_start();
        out.push_str(&rest[..rest.len() - token.len()]);
        if token.is_empty() {
            return out;
        }
        let key_end = token
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(token.len());
        let (key, after_key) = token.split_at(key_end);
        let Some(after_equals) = after_key.trim_start().strip_prefix('=') else {
            // Not key=value: it could be the tail of a password written with a space.
            out.push_str(HIDDEN);
            return out;
        };
        out.push_str(&token[..token.len() - after_equals.len()]);
        let value = after_equals.trim_start();
        out.push_str(&after_equals[..after_equals.len() - value.len()]);
        let value_len = conninfo_value_len(value);
        if is_password_key(key) {
            out.push_str(HIDDEN);
        } else {
            out.push_str(&value[..value_len]);
        }
        rest = &value[value_len..];
    }
}

/// Bytes of the value at the start of `text`: a quoted string (to its closing quote, or to the
/// end if it has none) or a word.
fn conninfo_value_len(text: &str) -> usize {
    if !text.starts_with('\'') {
        return text.find(char::is_whitespace).unwrap_or(text.len());
    }
    let mut escaped = false;
    for (index, c) in text.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '\'' => return index + 1,
            _ => {}
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::redact_database_url as redact;

    #[test]
    fn url_form_passwords_are_hidden() {
        let cases = [
            (
                "postgres://kanjo:s3cret@db:5432/kanjo?sslmode=disable",
                "postgres://kanjo:***@db:5432/kanjo?sslmode=disable",
            ),
            (
                "postgresql://kanjo:p%40ss@db/kanjo",
                "postgresql://kanjo:***@db/kanjo",
            ),
            ("postgres://:s3cret@db/kanjo", "postgres://:***@db/kanjo"),
            ("postgres://u:pa@ss@db/k", "postgres://u:***@db/k"),
            ("postgres://u:pa/ss@db/k", "postgres://u:***@db/k"),
            ("postgres://u:pa?ss@db/k", "postgres://u:***@db/k"),
            (
                "postgres://db/k?user=u&password=s3cret&sslmode=require",
                "postgres://db/k?user=u&password=***&sslmode=require",
            ),
            (
                "postgres://u:one@db/k?PASSWORD=two#x",
                "postgres://u:***@db/k?PASSWORD=***#x",
            ),
        ];
        for (url, redacted) in cases {
            assert_eq!(redact(url), redacted, "{url}");
        }
    }

    #[test]
    fn urls_without_a_password_are_unchanged() {
        for url in [
            "postgres://postgres@127.0.0.1/x",
            "postgres://127.0.0.1:5432/postgres",
            "postgres://u@db/k?application_name=kanjo",
            "host=127.0.0.1 user=postgres dbname=postgres",
            "",
        ] {
            assert_eq!(redact(url), url);
        }
    }

    #[test]
    fn key_value_passwords_are_hidden() {
        let cases = [
            (
                "host=db password=s3cret dbname=k",
                "host=db password=*** dbname=k",
            ),
            (
                "host=db password = s3cret dbname=k",
                "host=db password = *** dbname=k",
            ),
            (
                r"host=db password='s3 cr\'et' dbname=k",
                "host=db password=*** dbname=k",
            ),
            ("PASSWORD=s3cret host=db", "PASSWORD=*** host=db"),
            ("host=db password=", "host=db password=***"),
            ("host=db password='unterminated", "host=db password=***"),
            ("host=db password=my secret", "host=db password=*** ***"),
            ("host=db\tpassword=s3cret", "host=db\tpassword=***"),
            (
                "host=db password='Zq9://' dbname=k",
                "host=db password=*** dbname=k",
            ),
        ];
        for (conninfo, redacted) in cases {
            assert_eq!(redact(conninfo), redacted, "{conninfo}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::redact;

        fn password() -> impl Strategy<Value = String> {
            // A marker no host, user or database name below contains, then anything printable.
            "[ -~]{0,24}".prop_map(|tail| format!("Zq9{tail}"))
        }

        proptest! {
            #[test]
            fn no_url_form_password_survives(password in password()) {
                let url = format!("postgres://kanjo:{password}@db.example:5432/kanjo?sslmode=disable");
                prop_assert!(!redact(&url).contains("Zq9"), "{}", redact(&url));
            }

            #[test]
            fn no_key_value_password_survives(password in password()) {
                let quoted = password.replace('\\', "\\\\").replace('\'', "\\'");
                let conninfo = format!("host=db user=kanjo password='{quoted}' dbname=kanjo");
                prop_assert!(!redact(&conninfo).contains("Zq9"), "{}", redact(&conninfo));
            }
        }
    }
}
