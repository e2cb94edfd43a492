//! URLs: the host a URL names, and whether it is this machine.
//!
//! The one place that decides whether a URL stays on this machine, for every rule that asks
//! (an HTTP deletion of a development server, a program given a remote URL, interpreter
//! code that connects somewhere).

/// The host of `text`, a URL with or without a scheme: `https://u@x.example:8080/p` is
/// `x.example`, `[::1]:3000` is `[::1]`, `file:///x` is empty.
pub(crate) fn host(text: &str) -> &str {
    let rest = text.split_once("://").map_or(text, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    match authority.find(']') {
        Some(end) if authority.starts_with('[') => &authority[..=end],
        _ => authority.split(':').next().unwrap_or(authority),
    }
}

/// True when `text` is a URL of this machine, with or without a scheme
/// (`http://localhost:3000/x`, `127.0.0.1/x`, `[::1]:8080`, httpie's `:3000/x`).
pub(crate) fn this_machine(text: &str) -> bool {
    if let Some(port) = text.strip_prefix(':') {
        return port.starts_with(|c: char| c.is_ascii_digit() || c == '/');
    }
    let host = host(text);
    matches!(host, "localhost" | "0.0.0.0" | "[::1]") || host.starts_with("127.")
}

/// True when `text` is a URL with a scheme, of a host other than this machine
/// (`https://x.example/...`; not `file:///x`).
pub(crate) fn remote_url(text: &str) -> bool {
    let Some((scheme, _)) = text.split_once("://") else {
        return false;
    };
    let scheme = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+');
    scheme && !host(text).is_empty() && !this_machine(text)
}

/// True when `text` may name a host other than this machine: a remote URL, or a word
/// shaped like one without a scheme (`api.example.com/x`, `devbox:8080`).
pub(crate) fn other_host(text: &str) -> bool {
    if remote_url(text) {
        return true;
    }
    if text.contains("://") || text.starts_with(['-', '@', ':']) || this_machine(text) {
        return false;
    }
    let rest = text.split(['/', '?', '#']).next().unwrap_or("");
    // Form data (`email=a@b.com`, `{"id":1}`) is no host.
    let hostlike = |c: char| c.is_ascii_alphanumeric() || ".-_:@[]%".contains(c);
    if !rest.chars().all(hostlike) {
        return false;
    }
    let port = rest.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
    });
    // A file name alone (`out.txt`, `ca.pem`) is not a host; with a path after it, it is.
    let file = |t: &str| FILE_ENDINGS.contains(&t) && !text.contains('/');
    let tld = host(text).rsplit_once('.').is_some_and(|(h, t)| {
        !h.is_empty() && t.len() >= 2 && t.bytes().all(|b| b.is_ascii_alphabetic()) && !file(t)
    });
    port || tld
}

/// Endings of file names that are no top-level domain.
const FILE_ENDINGS: &[&str] = &[
    "txt", "json", "pem", "crt", "key", "log", "out", "csv", "yaml", "yml", "html", "xml", "tmp",
    "bak", "toml", "cfg", "conf",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for (url, h) in [
            ("https://u:p@x.example:8080/p?q", "x.example"),
            ("x.example/p", "x.example"),
            ("[::1]:3000/x", "[::1]"),
            ("http://[2001:db8::1]/", "[2001:db8::1]"),
            ("file:///etc/passwd", ""),
        ] {
            assert_eq!(host(url), h, "{url}");
        }
    }

    #[test]
    fn this_machine_or_not() {
        for url in [
            "http://localhost:3000/x",
            "localhost:8080/x",
            "127.0.0.1/x",
            "https://127.1.2.3",
            ":3000/items",
            "http://[::1]:8000",
            "0.0.0.0:9200",
        ] {
            assert!(this_machine(url), "{url}");
            assert!(!remote_url(url), "{url}");
        }
        for url in [
            "https://x.example",
            "api.example:8080/x",
            "localhost.example.com/x",
        ] {
            assert!(!this_machine(url), "{url}");
        }
        for url in [
            "api.example.com/x",
            "devbox:8080/x",
            "https://x.example",
            "u@x.example",
            "x.json/y",
            "evil.sh",
        ] {
            assert!(other_host(url), "{url}");
        }
        for url in [
            "localhost:8080/x",
            ":3000/x",
            "-XDELETE",
            "@body.json",
            "DELETE",
            "file:///x",
            "out.txt",
            "ca.pem",
            "email=a@b.example",
            "{\"id\":1}",
        ] {
            assert!(!other_host(url), "{url}");
        }
        assert!(remote_url("git+https://x.example/r"));
        assert!(!remote_url("x.example/p"));
        assert!(!remote_url("file:///etc/passwd"));
    }
}
