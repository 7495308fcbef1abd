//! The agent's `allowed-signer` lines against ssh-keygen itself, the tool
//! the agents verify commits with: a line N0326 accepts, in the ConfigMap
//! netc generates, verifies a `git`-namespace signature of its key; lines
//! N0326 refuses are lines ssh-keygen cannot use to find the signer.

#![allow(clippy::disallowed_methods)] // tests run ssh-keygen in scratch directories

use netc_test_support as common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use netc_compiler::diagnostic::SourceFile;
use netc_compiler::model::Lock;
use netc_compiler::yaml::parse_documents;

fn run(program: &Path, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// A new key pair of `ssh-keygen -t` arguments in `dir`: its private key
/// file and its `.pub` line without the comment.
fn key_pair(keygen: &Path, dir: &Path, name: &str, kind: &[&str]) -> (PathBuf, String) {
    let private = dir.join(name);
    let mut args = vec!["-q", "-N", "", "-C", "", "-f", private.to_str().unwrap()];
    args.extend(kind);
    let output = run(keygen, &args, b"");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let public = std::fs::read_to_string(private.with_extension("pub")).unwrap();
    (private, public.trim().to_string())
}

/// The N0326 diagnostics of a topology with these `allowed-signer` lines,
/// and, when it compiles, the `allowed_signers` file of its ConfigMap.
fn compile(lines: &[String]) -> (Vec<String>, Option<String>) {
    let signers: String = lines.iter().map(|l| format!("  allowed-signer \"{l}\"\n")).collect();
    let text = format!(
        "cluster c {{\n  pod-network 198.18.0.0/16\n  service-network 198.19.0.0/16\n  dataplane static\n}}\n\
         segment s {{\n  prefix 198.51.100.0/24\n}}\nnode a {{\n  os linux\n  address 198.51.100.10\n}}\n\
         agent {{\n  repo \"https://git.example/net.git\"\n  path \"c.netc\"\n  image \"netc:1\"\n{signers}}}\n"
    );
    let compilation = netc_compiler::compile(&SourceFile::new("t.netc", text), &Lock::default());
    let refused = compilation
        .diagnostics
        .iter()
        .inspect(|d| assert_eq!(d.code, "N0326", "{d:?}"))
        .map(|d| d.primary.message.clone())
        .collect();
    let file = compilation.artifacts.map(|artifacts| {
        let manifest = std::str::from_utf8(&artifacts.files["manifests/netc-agent.yaml"])
            .unwrap()
            .to_string();
        let config_map = parse_documents(&manifest)
            .into_iter()
            .find(|d| d["kind"] == "ConfigMap")
            .expect("the trust ConfigMap");
        config_map["data"]["allowed_signers"].as_str().unwrap().to_string()
    });
    (refused, file)
}

#[test]
fn every_key_type_netc_accepts_verifies_a_git_signature_with_ssh_keygen() {
    let Some(keygen) = tool("NETC_SSH_KEYGEN", "ssh-keygen") else {
        return;
    };
    let scratch = Scratch::new("signers-verify");
    // The key types ssh-keygen makes without a security key.
    let kinds: [(&str, &[&str]); 5] = [
        ("ed25519", &["-t", "ed25519"]),
        ("rsa", &["-t", "rsa", "-b", "2048"]),
        ("ecdsa256", &["-t", "ecdsa", "-b", "256"]),
        ("ecdsa384", &["-t", "ecdsa", "-b", "384"]),
        ("ecdsa521", &["-t", "ecdsa", "-b", "521"]),
    ];
    let keys: Vec<(String, PathBuf, String)> = kinds
        .iter()
        .map(|(name, kind)| {
            let (private, public) = key_pair(&keygen, &scratch.0, name, kind);
            (format!("{name}@example.com"), private, public)
        })
        .collect();
    let lines: Vec<String> = keys.iter().map(|(who, _, public)| format!("{who} {public}")).collect();
    let (refused, file) = compile(&lines);
    assert_eq!(refused, Vec::<String>::new());
    let file = file.expect("it compiles");
    let allowed = scratch.0.join("allowed_signers");
    std::fs::write(&allowed, &file).unwrap();
    let message = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\ncommit\n";
    for (who, private, _) in &keys {
        let output = run(
            &keygen,
            &["-Y", "sign", "-n", "git", "-f", private.to_str().unwrap()],
            message,
        );
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let signature = scratch.0.join(format!("{who}.sig"));
        std::fs::write(&signature, &output.stdout).unwrap();
        // What the agent runs (runtime/src/agent/verify.rs).
        let found = run(
            &keygen,
            &[
                "-Y",
                "find-principals",
                "-f",
                allowed.to_str().unwrap(),
                "-s",
                signature.to_str().unwrap(),
            ],
            b"",
        );
        assert_eq!(String::from_utf8_lossy(&found.stdout).trim(), who.as_str());
        let verified = run(
            &keygen,
            &[
                "-Y",
                "verify",
                "-n",
                "git",
                "-f",
                allowed.to_str().unwrap(),
                "-I",
                who,
                "-s",
                signature.to_str().unwrap(),
            ],
            message,
        );
        assert!(
            verified.status.success(),
            "{who}: {}",
            String::from_utf8_lossy(&verified.stderr)
        );
    }
}

#[test]
fn lines_netc_refuses_find_no_signer_in_ssh_keygen_either() {
    let Some(keygen) = tool("NETC_SSH_KEYGEN", "ssh-keygen") else {
        return;
    };
    let scratch = Scratch::new("signers-refuse");
    let (private, public) = key_pair(&keygen, &scratch.0, "ed25519", &["-t", "ed25519"]);
    let (_, ecdsa) = key_pair(&keygen, &scratch.0, "ecdsa", &["-t", "ecdsa", "-b", "256"]);
    let key = public.split_once(' ').unwrap().1;
    let ecdsa_key = ecdsa.split_once(' ').unwrap().1;
    let broken = [
        // No principal.
        public.clone(),
        // A key type ssh-keygen does not know.
        format!("a@example.com ssh-ed448 {key}"),
        // Cut short.
        format!("a@example.com {}", &public[..public.len() - 10]),
        // Not base64.
        format!("a@example.com ssh-ed25519 {}!", &key[..key.len() - 1]),
        // Another key's type.
        format!("a@example.com ssh-ed25519 {ecdsa_key}"),
    ];
    let output = run(
        &keygen,
        &["-Y", "sign", "-n", "git", "-f", private.to_str().unwrap()],
        b"data",
    );
    let signature = scratch.0.join("data.sig");
    std::fs::write(&signature, &output.stdout).unwrap();
    for line in &broken {
        let (refused, _) = compile(std::slice::from_ref(line));
        assert_eq!(refused.len(), 1, "netc accepts `{line}`");
        let allowed = scratch.0.join("allowed_signers");
        std::fs::write(&allowed, format!("{line}\n")).unwrap();
        let found = run(
            &keygen,
            &[
                "-Y",
                "find-principals",
                "-f",
                allowed.to_str().unwrap(),
                "-s",
                signature.to_str().unwrap(),
            ],
            b"",
        );
        assert!(
            !found.status.success(),
            "ssh-keygen finds {} with `{line}`",
            String::from_utf8_lossy(&found.stdout)
        );
    }
    // The same key, whole and with a principal, is found: the refusals above
    // are the lines' fault, not the signature's.
    let allowed = scratch.0.join("allowed_signers");
    std::fs::write(&allowed, format!("a@example.com {public}\n")).unwrap();
    let found = run(
        &keygen,
        &[
            "-Y",
            "find-principals",
            "-f",
            allowed.to_str().unwrap(),
            "-s",
            signature.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(String::from_utf8_lossy(&found.stdout).trim(), "a@example.com");
}
