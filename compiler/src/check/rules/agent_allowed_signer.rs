//! N0326: every `allowed-signer` of the `agent` block must be a line that
//! ssh-keygen reads from an `allowed_signers` file: principals, optional
//! options, a key type it knows and that key in base64. The agents get the
//! lines as their `--allowed-signers` file and apply only commits signed by
//! one of these keys, so a line ssh-keygen cannot read is a signer whose
//! commits every node refuses; netc says so at compile time instead.
//!
//! The key is decoded here (a small base64 decoder, not a dependency): an
//! SSH public key blob starts with its own key type as a length-prefixed
//! string (RFC 4253 §6.6), which catches a truncated paste or a key written
//! after the wrong type.

use crate::check::Rule;
use crate::diagnostic::codes::CodeInfo;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Topology;

pub static RULE: Rule = Rule {
    info: CodeInfo {
        code: "N0326",
        name: "agent-allowed-signer",
        severity: Severity::Error,
        summary: "an `allowed-signer` must be an allowed_signers line: principals, a key type and its base64 key",
        explanation: include_str!("../../../docs/codes/N0326.md"),
    },
    check,
};

/// The key types ssh-keygen signs commits with (`ssh-keygen -t`), as their
/// `.pub` lines name them.
pub const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// The help for a line that is not one: what a correct one is made of.
const WHOLE_LINE: &str = "write the signer's email, then the whole line of `ssh-keygen -y -f KEY` output (its `.pub` file), as in `alice@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA...`";

fn check(topology: &Topology, out: &mut Vec<Diagnostic>) {
    let Some(agent) = &topology.agent else {
        return;
    };
    for line in &agent.allowed_signers {
        let Some(problem) = problem(&line.value) else {
            continue;
        };
        out.push(
            Diagnostic::error(
                RULE.info.code,
                line.span,
                "the agent's `allowed-signer` is not an allowed_signers line",
            )
            .label(problem.label)
            .help(problem.help)
            .note("every node's agent applies only commits signed by a key it can read from these lines"),
        );
    }
}

#[derive(Debug)]
struct Problem {
    label: String,
    help: String,
}

fn problem_of(label: impl Into<String>, help: impl Into<String>) -> Option<Problem> {
    Some(Problem {
        label: label.into(),
        help: help.into(),
    })
}

/// What is wrong with an `allowed_signers` line, or `None` when ssh-keygen
/// reads it as a signer.
fn problem(line: &str) -> Option<Problem> {
    if line.contains(['\n', '\r']) {
        return problem_of(
            "holds more than one line",
            "write one `allowed-signer` per line of the allowed_signers file",
        );
    }
    let line = line.trim();
    if line.starts_with('#') {
        return problem_of(
            "a comment, which ssh-keygen skips",
            format!("remove the setting, or {WHOLE_LINE}"),
        );
    }
    let fields = fields(line);
    let Some((principals, rest)) = fields.split_first() else {
        return problem_of("empty", WHOLE_LINE);
    };
    if KEY_TYPES.contains(principals) {
        return problem_of(
            "no principal before the key type",
            format!("prefix the key with the signer's email, as in `alice@example.com {line}`"),
        );
    }
    // The options field (`cert-authority`, `namespaces="git"`) is optional:
    // the key type is the first field after the principals, or the second.
    let (key_type, key) = match rest {
        [key_type, key, ..] if KEY_TYPES.contains(key_type) => (*key_type, Some(*key)),
        [key_type] if KEY_TYPES.contains(key_type) => (*key_type, None),
        [_options, key_type, key, ..] if KEY_TYPES.contains(key_type) => (*key_type, Some(*key)),
        [_options, key_type] if KEY_TYPES.contains(key_type) => (*key_type, None),
        [] => return problem_of("only a principal, no key", WHOLE_LINE),
        [first, ..] => {
            let unknown = rest.iter().take(2).find(|f| looks_like_key_type(f)).unwrap_or(first);
            let label = if looks_like_key_type(unknown) {
                format!("`{unknown}` is not a key type ssh-keygen signs with")
            } else {
                "no key type after the principals".to_string()
            };
            return problem_of(
                label,
                format!(
                    "{WHOLE_LINE}; the key types are {}",
                    KEY_TYPES
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    };
    let Some(key) = key else {
        return problem_of(format!("no key after `{key_type}`"), WHOLE_LINE);
    };
    let blob = match base64_decode(key) {
        Ok(blob) => blob,
        Err(why) => {
            return problem_of(
                format!("the key is not base64: {why}"),
                "copy the key again from the `.pub` file, in one piece",
            )
        }
    };
    let strings = ssh_strings(&blob);
    let inner = strings
        .as_ref()
        .and_then(|s| s.first())
        .and_then(|t| std::str::from_utf8(t).ok());
    match inner {
        Some(inner) if inner != key_type && KEY_TYPES.contains(&inner) => problem_of(
            format!("the key is an `{inner}` key, not `{key_type}`"),
            format!("write `{inner}` before the key, as its `.pub` file does"),
        ),
        Some(inner) if inner == key_type && strings.as_deref().is_some_and(|s| whole_key(key_type, s)) => None,
        _ => problem_of(
            format!("the key is not a whole `{key_type}` public key"),
            format!("it may be cut short: {WHOLE_LINE}"),
        ),
    }
}

/// Whether the strings of a key blob are all of a `key_type` key: the type,
/// then the parts RFC 4253 §6.6, RFC 5656 §3.1 and RFC 8709 §4 give it
/// (OpenSSH's PROTOCOL.u2f adds the application to security-key types).
fn whole_key(key_type: &str, strings: &[&[u8]]) -> bool {
    match (key_type, strings) {
        // The key: 32 bytes.
        ("ssh-ed25519", [_, key]) | ("sk-ssh-ed25519@openssh.com", [_, key, _]) => key.len() == 32,
        // The exponent and the modulus.
        ("ssh-rsa", [_, exponent, modulus]) => !exponent.is_empty() && !modulus.is_empty(),
        // The curve, named after the type, and the point.
        (_, [_, curve, point]) | (_, [_, curve, point, _])
            if key_type.starts_with("ecdsa-") || key_type.starts_with("sk-ecdsa-") =>
        {
            let named = key_type
                .split('@')
                .next()
                .unwrap_or_default()
                .rsplit('-')
                .next()
                .unwrap_or_default();
            let security_key = key_type.starts_with("sk-");
            curve == &named.as_bytes() && !point.is_empty() && (strings.len() == 4) == security_key
        }
        _ => false,
    }
}

/// A key blob as its sequence of SSH `string`s (a 4-byte big-endian length,
/// then that many bytes), or `None` when a length runs past the end.
fn ssh_strings(mut blob: &[u8]) -> Option<Vec<&[u8]>> {
    let mut strings = Vec::new();
    while !blob.is_empty() {
        let (length, rest) = blob.split_first_chunk::<4>()?;
        let length = usize::try_from(u32::from_be_bytes(*length)).ok()?;
        if rest.len() < length {
            return None;
        }
        let (string, rest) = rest.split_at(length);
        strings.push(string);
        blob = rest;
    }
    Some(strings)
}

/// A key type misspelt or not supported, rather than options or a key.
fn looks_like_key_type(field: &str) -> bool {
    ["ssh-", "ecdsa-", "sk-"].iter().any(|prefix| field.starts_with(prefix))
}

/// The whitespace-separated fields of a line, as ssh-keygen splits them:
/// a double-quoted part (`namespaces="a b"`) does not end a field.
fn fields(line: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let mut start = None;
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match (c, start) {
            ('"', _) => {
                quoted = !quoted;
                start.get_or_insert(i);
            }
            (c, Some(from)) if c.is_whitespace() && !quoted => {
                fields.push(&line[from..i]);
                start = None;
            }
            (c, None) if !c.is_whitespace() => start = Some(i),
            _ => {}
        }
    }
    if let Some(from) = start {
        fields.push(&line[from..]);
    }
    fields
}

/// Standard base64 (RFC 4648 §4) with optional padding, as in `.pub` files.
fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let data = text.trim_end_matches('=');
    let padding = text.len() - data.len();
    if padding > 2 || (padding > 0 && text.len() % 4 != 0) {
        return Err("misplaced `=` padding".to_string());
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for (position, c) in data.char_indices() {
        let value = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 26,
            '0'..='9' => c as u32 - '0' as u32 + 52,
            '+' => 62,
            '/' => 63,
            _ => return Err(format!("`{c}` at character {}", position + 1)),
        };
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // One character left over carries only 6 bits: no whole byte.
    if data.len() % 4 == 1 {
        return Err("its length is not that of base64".to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{base64_decode, fields, problem, ssh_strings, whole_key};

    /// A real key (`ssh-keygen -t ed25519`), written after each principal.
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOit/aR37pqqB3Wwes/Tzc+uvAMNAPaESiQFO0IQb3XO";
    /// A real `ssh-keygen -t ecdsa -b 256` key (type, curve, point), padded.
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOHoVgPYJaku3WOir8TFmxfzTs3BzgDTQRiTeZWwu0cIk0/5FML2oKK6kwooltp9idAKOv6emK9qhUAMoIVk5Vc=";

    fn codes(lines: &[&str]) -> Vec<&'static str> {
        let signers: String = lines
            .iter()
            .map(|line| {
                format!(
                    "  allowed-signer \"{}\"\n",
                    line.replace('\\', "\\\\").replace('"', "\\\"")
                )
            })
            .collect();
        let text = format!(
            "cluster c {{\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n}}\n\
             segment s {{\n  prefix 10.1.0.0/24\n}}\nnode a {{\n  os linux\n  address 10.1.0.10\n}}\n\
             agent {{\n  repo \"https://git.example/net.git\"\n  path \"cluster.netc\"\n  image \"ghcr.io/example/netc:0.1.0\"\n{signers}}}\n"
        );
        crate::check::rules::codes_of(text)
    }

    #[test]
    fn lines_ssh_keygen_reads_pass() {
        let lines = [
            format!("alice@example.com {ED25519}"),
            format!("alice@example.com {ED25519} alice's laptop"),
            format!("alice@example.com,bob@example.com {ED25519}"),
            format!("*@example.com cert-authority {ED25519}"),
            format!("ops@example.com namespaces=\"git,file\" {ED25519}"),
            format!("ops@example.com valid-after=\"2024 01 01\" {ED25519}"),
            format!("  carol@example.com   {ECDSA}  "),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(codes(&lines), Vec::<&str>::new());
    }

    #[test]
    fn every_broken_line_is_reported_once() {
        let lines = [
            ED25519.to_string(),
            "alice@example.com".to_string(),
            "alice@example.com ssh-ed448 AAAA".to_string(),
            "alice@example.com AAAAC3NzaC1lZDI1NTE5AAAAIOit".to_string(),
            "alice@example.com ssh-ed25519".to_string(),
            "alice@example.com ssh-ed25519 AAAA!!!!".to_string(),
            "alice@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5".to_string(),
            format!("alice@example.com {}", &ED25519[..ED25519.len() - 8]),
            format!(
                "alice@example.com {}",
                ECDSA.replace("ecdsa-sha2-nistp256", "ssh-ed25519")
            ),
            format!("# alice@example.com {ED25519}"),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(codes(&lines), vec!["N0326"; lines.len()]);
    }

    #[test]
    fn the_label_says_what_is_wrong() {
        let label = |line: &str| problem(line).expect("a problem").label;
        assert_eq!(label(ED25519), "no principal before the key type");
        assert_eq!(
            label("a@b ssh-ed448 AAAA"),
            "`ssh-ed448` is not a key type ssh-keygen signs with"
        );
        assert_eq!(label("a@b ssh-ed25519"), "no key after `ssh-ed25519`");
        assert_eq!(
            label("a@b ssh-ed25519 AAAA*AAA"),
            "the key is not base64: `*` at character 5"
        );
        let swapped = format!("a@b {}", ECDSA.replace("ecdsa-sha2-nistp256", "ssh-ed25519"));
        assert_eq!(
            label(&swapped),
            "the key is an `ecdsa-sha2-nistp256` key, not `ssh-ed25519`"
        );
        for cut in [
            "AAAAC3NzaC1lZDI1NTE5",
            "AAAAC3NzaC1lZDI1NTE5AAAAIOit/aR37pqqB3Wwes/Tzc+",
        ] {
            assert_eq!(
                label(&format!("a@b ssh-ed25519 {cut}")),
                "the key is not a whole `ssh-ed25519` public key"
            );
        }
        // Only a YAML or JSON string can hold a line break.
        assert_eq!(
            label(&format!("a@b {ED25519}\nc@d {ED25519}")),
            "holds more than one line"
        );
        let help = problem("a@b").expect("a problem").help;
        assert!(help.contains("ssh-keygen -y -f KEY"), "{help}");
    }

    #[test]
    fn the_decoder_agrees_with_rfc_4648() {
        // RFC 4648 §10's test vectors.
        for (encoded, decoded) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
            ("Zm9vYmE", "fooba"),
        ] {
            assert_eq!(base64_decode(encoded).as_deref(), Ok(decoded.as_bytes()), "{encoded}");
        }
        assert!(base64_decode("Zm9vY").is_err());
        assert!(base64_decode("Zg===").is_err());
        assert!(base64_decode("Z=g=").is_err());
    }

    #[test]
    fn a_key_blob_is_its_type_and_parts() {
        let blob = base64_decode("AAAAC3NzaC1lZDI1NTE5AAAAIOit/aR37pqqB3Wwes/Tzc+uvAMNAPaESiQFO0IQb3XO").unwrap();
        let strings = ssh_strings(&blob).expect("whole strings");
        assert_eq!(strings.len(), 2);
        assert_eq!(strings[0], b"ssh-ed25519");
        assert!(whole_key("ssh-ed25519", &strings));
        assert!(!whole_key("ssh-rsa", &strings));
        // Cut anywhere, the last length runs past the end.
        for end in [3, 15, 20, blob.len() - 1] {
            assert!(
                ssh_strings(&blob[..end]).is_none_or(|s| !whole_key("ssh-ed25519", &s)),
                "{end}"
            );
        }
        let point = [4u8; 65];
        let ecdsa: [&[u8]; 3] = [b"ecdsa-sha2-nistp256", b"nistp256", &point];
        assert!(whole_key("ecdsa-sha2-nistp256", &ecdsa));
        assert!(!whole_key("ecdsa-sha2-nistp384", &ecdsa));
        let sk: [&[u8]; 4] = [b"sk-ecdsa-sha2-nistp256@openssh.com", b"nistp256", &point, b"ssh:"];
        assert!(whole_key("sk-ecdsa-sha2-nistp256@openssh.com", &sk));
        assert!(!whole_key("sk-ecdsa-sha2-nistp256@openssh.com", &sk[..3]));
    }

    #[test]
    fn quoted_options_stay_one_field() {
        assert_eq!(
            fields("a@b namespaces=\"git, file\"  ssh-ed25519 K c d"),
            ["a@b", "namespaces=\"git, file\"", "ssh-ed25519", "K", "c", "d"]
        );
    }
}
