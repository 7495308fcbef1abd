//! The agent's credentials for an `ssh://` repository: a private key for
//! the login, and a known_hosts file that the server's host key must be in.
//!
//! In a pod both come from a Secret the topology's `agent` block names
//! (`ssh-privatekey` and `known_hosts`, the keys of Kubernetes'
//! `kubernetes.io/ssh-auth` type), mounted read-only; `netc agent
//! --ssh-key FILE --known-hosts FILE`.
//!
//! The host key is checked here rather than by libgit2's default (the
//! user's `~/.ssh/known_hosts`, which a pod does not have): the key libgit2
//! reports (`GIT_CERT_SSH_RAW`) must equal, byte for byte, a key listed for
//! the host in the file, in OpenSSH's format: `HOSTS KEYTYPE BASE64 [COMMENT]`
//! where HOSTS is a comma-separated list of names (`host`, or `[host]:port`
//! for a port other than 22) or one hashed name (`|1|SALT|HASH`, HMAC-SHA1
//! of the name keyed with the salt, as `ssh-keyscan -H` writes). Markers
//! (`@cert-authority`, `@revoked`) and wildcards are not supported: such a
//! line never matches, so a host listed only that way is refused.
//! The file is read at every fetch, so a rotated Secret takes effect
//! without a restart.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use git2::{CertificateCheckStatus, Cred, RemoteCallbacks};
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The files `--ssh-key` and `--known-hosts` name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshAuth {
    pub key: PathBuf,
    pub known_hosts: PathBuf,
}

impl SshAuth {
    /// Callbacks that log in with the key (as the URL's user, else `git`)
    /// and accept only a host key listed for the host (and the port of
    /// `url`) in known_hosts. A refused host key is reported through
    /// `refusal` (libgit2's own error only says the callback failed).
    pub fn callbacks<'a>(&'a self, url: &str, refusal: &'a std::cell::RefCell<Option<String>>) -> RemoteCallbacks<'a> {
        let port = url_port(url);
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(move |_url, username, _allowed| {
            Cred::ssh_key(username.unwrap_or("git"), None, &self.key, None)
        });
        callbacks.certificate_check(move |cert, host| {
            let Some(hostkey) = cert.as_hostkey().and_then(|k| k.hostkey()) else {
                // Not an SSH host key (https): libgit2's own TLS checks apply.
                return Ok(CertificateCheckStatus::CertificatePassthrough);
            };
            match check(&self.known_hosts, &known_hosts_name(host, port), hostkey) {
                Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
                Err(message) => {
                    *refusal.borrow_mut() = Some(message.clone());
                    Err(git2::Error::from_str(&message))
                }
            }
        });
        callbacks
    }
}

/// Whether `key` (the raw host key, as on the wire) is listed for `host`
/// (as known_hosts names it: `host`, or `[host]:port` off port 22) in the
/// known_hosts file at `path`; the reason when it is not.
pub fn check(path: &Path, host: &str, key: &[u8]) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading known_hosts {}: {e}", path.display()))?;
    let mut listed = false;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 || fields[0].starts_with('#') || fields[0].starts_with('@') {
            continue;
        }
        if !host_matches(fields[0], host) {
            continue;
        }
        listed = true;
        if STANDARD.decode(fields[2]).is_ok_and(|listed_key| listed_key == key) {
            return Ok(());
        }
    }
    let key_type = key_type(key).unwrap_or("unknown");
    Err(if listed {
        format!(
            "the {key_type} host key of {host} is not the one known_hosts {} lists for it: the server's key changed, or this is not the server (refusing to fetch)",
            path.display()
        )
    } else {
        format!(
            "{host} is not in known_hosts {}: add its key (`ssh-keyscan -p PORT HOST`) to the Secret (refusing to fetch)",
            path.display()
        )
    })
}

/// Whether a known_hosts host field names `host`.
fn host_matches(field: &str, host: &str) -> bool {
    if let Some(hashed) = field.strip_prefix("|1|") {
        let Some((salt, hash)) = hashed.split_once('|') else {
            return false;
        };
        let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
            return false;
        };
        let mut mac = Hmac::<Sha1>::new_from_slice(&salt).expect("HMAC takes a key of any length");
        mac.update(host.as_bytes());
        return mac.verify_slice(&hash).is_ok();
    }
    field.split(',').any(|pattern| pattern == host)
}

/// The name OpenSSH lists a server under: `host` on port 22, else
/// `[host]:port`. libgit2 gives the check the host without its port.
fn known_hosts_name(host: &str, port: Option<u16>) -> String {
    match port {
        Some(port) if port != 22 => format!("[{host}]:{port}"),
        _ => host.to_owned(),
    }
}

/// The port of an `ssh://[user@]host[:port]/path` URL, if it names one.
fn url_port(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("ssh://")?;
    let authority = rest.split('/').next()?;
    let host_port = authority.rsplit('@').next()?;
    let (_, port) = host_port.rsplit_once(':')?;
    port.parse().ok()
}

/// The key type at the start of an SSH wire-format key (`ssh-ed25519`, ...).
fn key_type(key: &[u8]) -> Option<&str> {
    let length = u32::from_be_bytes(key.get(..4)?.try_into().ok()?) as usize;
    std::str::from_utf8(key.get(4..4 + length)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ed25519 public key in wire format (type, then 32 key bytes).
    fn wire_key(byte: u8) -> Vec<u8> {
        let mut key = Vec::new();
        key.extend_from_slice(&11u32.to_be_bytes());
        key.extend_from_slice(b"ssh-ed25519");
        key.extend_from_slice(&32u32.to_be_bytes());
        key.extend_from_slice(&[byte; 32]);
        key
    }

    fn hashed(host: &str, salt: &[u8]) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(salt).unwrap();
        mac.update(host.as_bytes());
        format!(
            "|1|{}|{}",
            STANDARD.encode(salt),
            STANDARD.encode(mac.finalize().into_bytes())
        )
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn a_listed_key_passes_and_any_other_is_refused() {
        let key = STANDARD.encode(wire_key(7));
        let known = file(&format!(
            "# comment\n@revoked git.example {key}\nother.example ssh-ed25519 {key}\ngit.example,10.0.0.1 ssh-ed25519 {key} ops\n"
        ));
        assert_eq!(check(known.path(), "git.example", &wire_key(7)), Ok(()));
        assert_eq!(check(known.path(), "10.0.0.1", &wire_key(7)), Ok(()));
        let changed = check(known.path(), "git.example", &wire_key(8)).unwrap_err();
        assert!(
            changed.contains("ssh-ed25519 host key of git.example is not the one"),
            "{changed}"
        );
        let unknown = check(known.path(), "third.example", &wire_key(7)).unwrap_err();
        assert!(unknown.contains("third.example is not in known_hosts"), "{unknown}");
    }

    #[test]
    fn hashed_host_names_are_matched_with_their_salt() {
        let key = STANDARD.encode(wire_key(9));
        let known = file(&format!(
            "{} ssh-ed25519 {key}\n",
            hashed("127.0.0.1", b"0123456789abcdefghij")
        ));
        assert_eq!(check(known.path(), "127.0.0.1", &wire_key(9)), Ok(()));
        assert!(check(known.path(), "127.0.0.2", &wire_key(9)).is_err());
    }

    #[test]
    fn a_port_other_than_22_is_part_of_the_name() {
        assert_eq!(url_port("ssh://git@127.0.0.1:2222/r.git"), Some(2222));
        assert_eq!(url_port("ssh://git.example/r.git"), None);
        assert_eq!(known_hosts_name("127.0.0.1", Some(2222)), "[127.0.0.1]:2222");
        assert_eq!(known_hosts_name("git.example", Some(22)), "git.example");
        let key = STANDARD.encode(wire_key(3));
        let known = file(&format!("[127.0.0.1]:2222 ssh-ed25519 {key}\n"));
        assert_eq!(check(known.path(), "[127.0.0.1]:2222", &wire_key(3)), Ok(()));
        assert!(check(known.path(), "127.0.0.1", &wire_key(3)).is_err());
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let error = check(Path::new("/nonexistent/known_hosts"), "h", &wire_key(1)).unwrap_err();
        assert!(error.contains("/nonexistent/known_hosts"), "{error}");
    }
}
