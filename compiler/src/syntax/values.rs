//! Parsing of setting values (prefixes, addresses, numbers, booleans and
//! keywords) with diagnostics that say what was expected and how to fix it.

use std::net::IpAddr;
use std::ops::RangeInclusive;

use ipnet::IpNet;

use super::ast::{Keyword, KubeVersion};
use super::cst::{Atom, Setting};
use crate::diagnostic::{best_match, Diagnostic, Span, Spanned};

/// Collects value diagnostics while the grammar walks a file.
pub struct Values<'d> {
    pub diagnostics: &'d mut Vec<Diagnostic>,
}

impl Values<'_> {
    fn invalid(&mut self, atom: &Atom, message: String, label: &str, help: String) {
        self.diagnostics
            .push(Diagnostic::error("N0105", atom.span, message).label(label).help(help));
    }

    /// The one value of a setting, or a diagnostic.
    pub fn single<'s>(&mut self, setting: &'s Setting, example: &str) -> Option<&'s Atom> {
        match setting.values.as_slice() {
            [one] => Some(one),
            [] => {
                self.diagnostics.push(
                    Diagnostic::error(
                        "N0107",
                        setting.key.span,
                        format!("`{}` needs a value", setting.key.text),
                    )
                    .label("no value given")
                    .help(format!("write it as `{example}`")),
                );
                None
            }
            [_, extra, ..] => {
                let span = extra.span.to(setting.values.last().map_or(extra.span, |v| v.span));
                self.diagnostics.push(
                    Diagnostic::error("N0107", span, format!("`{}` takes one value", setting.key.text))
                        .label("unexpected extra value")
                        .help(format!("write it as `{example}`")),
                );
                None
            }
        }
    }

    /// One to `max` values separated by commas.
    pub fn list<'s>(&mut self, setting: &'s Setting, max: usize, example: &str) -> Option<&'s [Atom]> {
        let values = setting.values.as_slice();
        if values.is_empty() || values.len() > max {
            let key = &setting.key.text;
            let (span, message, label) = if values.is_empty() {
                (setting.key.span, format!("`{key}` needs a value"), "no value given")
            } else {
                (
                    values[max].span.to(values[values.len() - 1].span),
                    format!("`{key}` takes {} values at most", count_word(max)),
                    "too many values",
                )
            };
            self.diagnostics.push(
                Diagnostic::error("N0107", span, message)
                    .label(label)
                    .help(format!("write it as `{example}`")),
            );
            return None;
        }
        if let Some(missing) = values.iter().skip(1).find(|v| !v.comma_before) {
            self.diagnostics.push(
                Diagnostic::error("N0101", missing.span, "expected `,` between values")
                    .label("separate this value from the one before with `,`")
                    .help(format!("write it as `{example}`")),
            );
            return None;
        }
        Some(values)
    }

    pub fn prefix(&mut self, atom: &Atom) -> Option<Spanned<IpNet>> {
        let text = atom.text.as_str();
        match text.parse::<IpNet>() {
            Ok(net) if net.trunc() == net => Some(Spanned::new(net, atom.span)),
            Ok(net) => {
                self.invalid(
                    atom,
                    format!("prefix `{text}` has host bits set"),
                    "the address is not the first of its prefix",
                    format!("did you mean `{}`?", net.trunc()),
                );
                None
            }
            Err(_) => {
                let (message, help) = explain_bad_prefix(text);
                self.invalid(atom, message, "not a valid prefix", help);
                None
            }
        }
    }

    pub fn prefixes(&mut self, setting: &Setting, max: usize, example: &str) -> Option<Spanned<Vec<Spanned<IpNet>>>> {
        let atoms = self.list(setting, max, example)?;
        let parsed: Vec<_> = atoms.iter().map(|a| self.prefix(a)).collect();
        let all: Option<Vec<_>> = parsed.into_iter().collect();
        all.map(|list| Spanned::new(list, span_of_values(setting)))
    }

    pub fn address(&mut self, atom: &Atom) -> Option<Spanned<IpAddr>> {
        match atom.text.parse::<IpAddr>() {
            Ok(address) => Some(Spanned::new(address, atom.span)),
            Err(_) => {
                let help = match atom.text.split_once('/') {
                    Some((address, _)) if address.parse::<IpAddr>().is_ok() => {
                        format!("write the address without a prefix length: `{address}`")
                    }
                    _ => "write an IPv4 or IPv6 address, such as `192.168.10.10`".to_string(),
                };
                self.invalid(
                    atom,
                    format!("expected an IP address, found `{}`", atom.text),
                    "not an IP address",
                    help,
                );
                None
            }
        }
    }

    pub fn addresses(&mut self, setting: &Setting, max: usize, example: &str) -> Option<Spanned<Vec<Spanned<IpAddr>>>> {
        let atoms = self.list(setting, max, example)?;
        let parsed: Vec<_> = atoms.iter().map(|a| self.address(a)).collect();
        let all: Option<Vec<_>> = parsed.into_iter().collect();
        all.map(|list| Spanned::new(list, span_of_values(setting)))
    }

    /// A whole number within `range`; `what` describes it for the message.
    pub fn number(
        &mut self,
        atom: &Atom,
        range: RangeInclusive<u64>,
        what: &str,
        example: &str,
    ) -> Option<Spanned<u64>> {
        // Digits only: Rust's parser would also take `+4096`.
        let digits = !atom.text.is_empty() && atom.text.bytes().all(|b| b.is_ascii_digit());
        match atom.text.parse::<u64>().ok().filter(|_| digits).ok_or(()) {
            Ok(n) if range.contains(&n) => Some(Spanned::new(n, atom.span)),
            Ok(n) => {
                self.invalid(
                    atom,
                    format!(
                        "{what} must be between {} and {}, found {n}",
                        range.start(),
                        range.end()
                    ),
                    "out of range",
                    format!("write it as `{example}`"),
                );
                None
            }
            Err(_) => {
                self.invalid(
                    atom,
                    format!("expected a number for {what}, found `{}`", atom.text),
                    "not a number",
                    format!("write it with digits, as in `{example}`"),
                );
                None
            }
        }
    }

    pub fn boolean(&mut self, atom: &Atom, key: &str) -> Option<Spanned<bool>> {
        match atom.text.as_str() {
            "on" => Some(Spanned::new(true, atom.span)),
            "off" => Some(Spanned::new(false, atom.span)),
            other => {
                let help = match other {
                    "true" | "yes" | "enabled" | "1" => format!("write `{key} on`"),
                    "false" | "no" | "disabled" | "0" => format!("write `{key} off`"),
                    _ => format!("write `{key} on` or `{key} off`"),
                };
                self.invalid(
                    atom,
                    format!("expected `on` or `off`, found `{other}`"),
                    "not a boolean",
                    help,
                );
                None
            }
        }
    }

    pub fn keyword<K: Keyword>(&mut self, atom: &Atom) -> Option<Spanned<K>> {
        if let Some(value) = K::from_word(&atom.text) {
            return Some(Spanned::new(value, atom.span));
        }
        let words = K::words();
        let help = match best_match(&atom.text, &words) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("use one of: {}", words.join(", ")),
        };
        self.invalid(
            atom,
            format!("`{}` is not {}", atom.text, K::WHAT),
            &format!("not {}", K::WHAT),
            help,
        );
        None
    }

    /// `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, with an optional `v`.
    pub fn kube_version(&mut self, atom: &Atom) -> Option<Spanned<KubeVersion>> {
        let text = atom.text.strip_prefix('v').unwrap_or(&atom.text);
        // Digits only: Rust's parser would also take `+1`.
        let number = |part: &str| -> Option<u16> {
            let digits = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
            part.parse().ok().filter(|_| digits)
        };
        let parts: Vec<&str> = text.split('.').collect();
        let parsed = match parts.as_slice() {
            [major, minor] => number(major)
                .zip(number(minor))
                .map(|(major, minor)| KubeVersion::new(major, minor)),
            [major, minor, patch] => match (number(major), number(minor), number(patch)) {
                (Some(major), Some(minor), Some(patch)) => Some(KubeVersion::patch_release(major, minor, patch)),
                _ => None,
            },
            _ => None,
        };
        match parsed {
            Some(version) => Some(Spanned::new(version, atom.span)),
            None => {
                self.invalid(
                    atom,
                    format!(
                        "expected a Kubernetes version such as `1.30` or `1.33.13`, found `{}`",
                        atom.text
                    ),
                    "not a MAJOR.MINOR or MAJOR.MINOR.PATCH version",
                    "write the release the cluster runs, as in `kubernetes 1.33.13`, or its minor release, as in `kubernetes 1.33`".to_string(),
                );
                None
            }
        }
    }

    /// A container image reference: non-empty, without whitespace or
    /// control characters (it goes into a manifest's `image` field as is).
    pub fn image(&mut self, atom: &Atom) -> Option<Spanned<String>> {
        let value = self.text(atom, "the image")?;
        if value.value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.invalid(
                atom,
                format!("`{}` is not an image reference", value.value),
                "contains a space",
                "write the image as `REGISTRY/REPOSITORY:TAG`, as in `ghcr.io/flannel-io/flannel:v0.28.9`".to_string(),
            );
            return None;
        }
        Some(value)
    }

    /// The API server's URL as a kubeconfig's `server`: `https://HOST:PORT`,
    /// HOST a DNS name, an IPv4 address or a bracketed IPv6 address, and
    /// nothing after the port. The characters are restricted so that the
    /// value can stand unquoted in the kubeconfig netc writes.
    pub fn api_server(&mut self, atom: &Atom) -> Option<Spanned<String>> {
        let text = atom.text.as_str();
        let problem = match text.strip_prefix("https://") {
            None => Some("the API server is reached over `https://`"),
            Some(rest) => match rest.rsplit_once(':') {
                None => Some("no port: write the API server's port, usually 6443"),
                Some((host, port)) => {
                    let port_ok = !port.is_empty()
                        && port.bytes().all(|b| b.is_ascii_digit())
                        && port.parse::<u16>().is_ok_and(|p| p > 0);
                    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
                        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
                        None => {
                            !host.is_empty()
                                && host.len() <= 253
                                && host
                                    .bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                        }
                    };
                    match (host_ok, port_ok) {
                        (true, true) => None,
                        (false, _) => Some("not a host name or address (an IPv6 address goes in brackets)"),
                        (true, false) => Some("not a port from 1 to 65535, or something follows it"),
                    }
                }
            },
        };
        match problem {
            None => Some(Spanned::new(text.to_string(), atom.span)),
            Some(label) => {
                self.invalid(
                    atom,
                    format!("expected the API server as `https://HOST:PORT`, found `{text}`"),
                    label,
                    "write the control-plane endpoint, as in `api-server https://10.0.0.10:6443`".to_string(),
                );
                None
            }
        }
    }

    /// A name: a bare word or a quoted string, non-empty.
    pub fn text(&mut self, atom: &Atom, what: &str) -> Option<Spanned<String>> {
        if atom.text.trim().is_empty() {
            self.invalid(
                atom,
                format!("{what} is empty"),
                "empty",
                format!("write {what} between the quotes"),
            );
            return None;
        }
        Some(Spanned::new(atom.text.clone(), atom.span))
    }
}

fn count_word(n: usize) -> String {
    match n {
        1 => "one".to_string(),
        2 => "two".to_string(),
        n => n.to_string(),
    }
}

fn span_of_values(setting: &Setting) -> Span {
    match (setting.values.first(), setting.values.last()) {
        (Some(first), Some(last)) => first.span.to(last.span),
        _ => setting.key.span,
    }
}

/// Why a prefix did not parse, and a fix.
fn explain_bad_prefix(text: &str) -> (String, String) {
    let Some((address, length)) = text.split_once('/') else {
        let help = if text.parse::<IpAddr>().is_ok() {
            format!("add the prefix length, as in `{text}/24`")
        } else {
            "write a prefix such as `10.244.0.0/16`".to_string()
        };
        return (
            format!("expected a prefix such as `10.244.0.0/16`, found `{text}`"),
            help,
        );
    };
    let Ok(parsed) = address.parse::<IpAddr>() else {
        return (
            format!("`{address}` is not an IP address"),
            "write a prefix such as `10.244.0.0/16`".to_string(),
        );
    };
    let max = if parsed.is_ipv4() { 32 } else { 128 };
    let family = if parsed.is_ipv4() { "IPv4" } else { "IPv6" };
    match length.parse::<u32>() {
        Ok(n) if n > max => (
            format!("prefix length {n} is too long for {family}"),
            format!(
                "an {family} prefix length is at most {max}, as in `{address}/{}`",
                if max == 32 { 16 } else { 64 }
            ),
        ),
        _ => (
            format!("expected a prefix length after `/`, found `{length}`"),
            format!("write the length as a number, as in `{address}/16`"),
        ),
    }
}
