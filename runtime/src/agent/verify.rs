//! Commit signature verification: with a list of allowed keys configured,
//! the agent applies only commits signed by one of them.
//!
//! - SSH signatures (`-----BEGIN SSH SIGNATURE-----`, `git commit -S` with
//!   `gpg.format=ssh`) are checked against an `allowed_signers` file (the
//!   format of ssh-keygen(1) and git's `gpg.ssh.allowedSignersFile`) with
//!   `ssh-keygen -Y find-principals` and `ssh-keygen -Y verify -n git`.
//! - OpenPGP signatures (`-----BEGIN PGP SIGNATURE-----`) are checked with
//!   `gpgv --keyring KEYRING`.
//!
//! An unsigned commit, a signature of the other kind than configured, or
//! one that does not verify is refused with the reason.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The keys a commit must be signed with.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    /// An ssh-keygen `allowed_signers` file.
    pub allowed_signers: Option<PathBuf>,
    /// A GnuPG keyring (`gpg --export > keyring.gpg`).
    pub gpg_keyring: Option<PathBuf>,
}

impl Keys {
    pub fn required(&self) -> bool {
        self.allowed_signers.is_some() || self.gpg_keyring.is_some()
    }
}

/// Verify `signature` over `data` with `keys`; `Ok(signer)` or why not.
pub fn verify(keys: &Keys, signature: Option<&(Vec<u8>, Vec<u8>)>, scratch: &Path) -> Result<String, String> {
    let Some((signature, data)) = signature else {
        return Err("the commit is not signed, and signed commits are required".into());
    };
    let text = String::from_utf8_lossy(signature);
    if text.contains("BEGIN SSH SIGNATURE") {
        let Some(allowed) = &keys.allowed_signers else {
            return Err("the commit has an SSH signature, but no --allowed-signers file is configured".into());
        };
        verify_ssh(allowed, signature, data, scratch)
    } else if text.contains("BEGIN PGP SIGNATURE") {
        let Some(keyring) = &keys.gpg_keyring else {
            return Err("the commit has an OpenPGP signature, but no --gpg-keyring is configured".into());
        };
        verify_gpg(keyring, signature, data, scratch)
    } else {
        Err("the commit's signature is neither SSH nor OpenPGP".into())
    }
}

fn run(command: &mut Command, stdin: &[u8]) -> Result<(bool, String), String> {
    let program = format!("{:?}", command.get_program());
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin).map_err(|e| format!("{program}: {e}"))?;
    }
    let output = child.wait_with_output().map_err(|e| format!("{program}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status.success(), text.trim().to_owned()))
}

fn verify_ssh(allowed: &Path, signature: &[u8], data: &[u8], scratch: &Path) -> Result<String, String> {
    let file = scratch.join("commit.sig");
    std::fs::write(&file, signature).map_err(|e| format!("{}: {e}", file.display()))?;
    let (found, principals) = run(
        Command::new("ssh-keygen")
            .args(["-Y", "find-principals", "-f"])
            .arg(allowed)
            .arg("-s")
            .arg(&file),
        b"",
    )?;
    let Some(principal) = principals.lines().next().filter(|_| found) else {
        let _ = std::fs::remove_file(&file);
        return Err(format!("the commit's SSH key is not in `{}`", allowed.display()));
    };
    let principal = principal.to_owned();
    let (valid, output) = run(
        Command::new("ssh-keygen")
            .args(["-Y", "verify", "-n", "git", "-f"])
            .arg(allowed)
            .args(["-I", &principal, "-s"])
            .arg(&file),
        data,
    )?;
    let _ = std::fs::remove_file(&file);
    if valid {
        Ok(format!("SSH signature of {principal}"))
    } else {
        Err(format!("the SSH signature does not verify: {output}"))
    }
}

fn verify_gpg(keyring: &Path, signature: &[u8], data: &[u8], scratch: &Path) -> Result<String, String> {
    let sig = scratch.join("commit.asc");
    let signed = scratch.join("commit.data");
    std::fs::write(&sig, signature).map_err(|e| format!("{}: {e}", sig.display()))?;
    std::fs::write(&signed, data).map_err(|e| format!("{}: {e}", signed.display()))?;
    let keyring = std::fs::canonicalize(keyring).map_err(|e| format!("{}: {e}", keyring.display()))?;
    let result = run(
        Command::new("gpgv")
            .arg("--keyring")
            .arg(&keyring)
            .arg(&sig)
            .arg(&signed),
        b"",
    );
    let _ = std::fs::remove_file(&sig);
    let _ = std::fs::remove_file(&signed);
    let (valid, output) = result?;
    if valid {
        let signer = output
            .lines()
            .find(|l| l.contains("Good signature"))
            .unwrap_or("good signature")
            .to_owned();
        Ok(signer)
    } else {
        Err(format!("the OpenPGP signature does not verify: {output}"))
    }
}
