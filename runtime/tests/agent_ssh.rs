//! The agent's `ssh://` source against a real OpenSSH server: Debian's
//! `sshd` on 127.0.0.1 (a free port), serving a bare repository through
//! `git-upload-pack`, with a host key and an authorized client key made by
//! `ssh-keygen` for the test. The agent's fetch logs in with the client key
//! (`--ssh-key`) and accepts the server only when its host key is in the
//! known_hosts file (`--known-hosts`), plain or hashed by `ssh-keygen -H`;
//! a known_hosts that lists another key for the server refuses the fetch
//! with a message that says so, and writes no commit.
//!
//! Needs root (sshd logs the test in as root) and the programs `sshd`,
//! `ssh-keygen` and `git`; skipped with a printed reason otherwise, unless
//! `NETC_REQUIRE_ROOT_TESTS=1` / `NETC_REQUIRE_TOOLS=1`. sshd listens on
//! 127.0.0.1 only and is killed by a guard, also when the test fails.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netc_runtime::agent::source::{Source, SourceError};
use netc_runtime::agent::ssh::SshAuth;

mod common;
use common::{is_root, run, skip};

const SSHD: &str = "/usr/sbin/sshd";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// sshd in the foreground, killed on drop; `/run/sshd` (its privilege
/// separation directory) made when missing and removed again.
struct Sshd {
    child: Child,
    made_run_dir: bool,
}

impl Sshd {
    fn start(dir: &Path, port: u16) -> Sshd {
        let made_run_dir = !Path::new("/run/sshd").exists();
        fs::create_dir_all("/run/sshd").unwrap();
        let config = dir.join("sshd_config");
        fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
                 AuthorizedKeysFile {dir}/authorized_keys\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n",
                dir = dir.display()
            ),
        )
        .unwrap();
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("sshd.log")).unwrap())
            .spawn()
            .unwrap();
        let sshd = Sshd { child, made_run_dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not start: {}",
                fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.made_run_dir {
            let _ = fs::remove_dir("/run/sshd");
        }
    }
}

fn prerequisites() -> bool {
    if !is_root() {
        return !skip("the ssh test logs in as root through sshd");
    }
    for program in [SSHD, "ssh-keygen", "git"] {
        let found = Path::new(program).exists()
            || std::env::var_os("PATH")
                .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).exists()));
        if !found {
            assert!(
                std::env::var("NETC_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "{program} is missing and NETC_REQUIRE_TOOLS=1"
            );
            eprintln!("skipped: {program} is missing (Debian: openssh-server, openssh-client, git)");
            return false;
        }
    }
    true
}

fn keygen(path: &Path) {
    run(&[
        "ssh-keygen",
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        "netc-test",
        "-f",
        path.to_str().unwrap(),
    ]);
}

/// A bare repository with one commit on `main`; its commit id.
fn repository(dir: &Path) -> (PathBuf, String) {
    let work = dir.join("work");
    let bare = dir.join("remote.git");
    run(&["git", "init", "-q", "-b", "main", work.to_str().unwrap()]);
    fs::write(work.join("cluster.netc"), "# a topology\n").unwrap();
    let git = |args: &[&str]| {
        let mut all = vec![
            "git",
            "-C",
            work.to_str().unwrap(),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
        ];
        all.extend_from_slice(args);
        run(&all)
    };
    git(&["add", "cluster.netc"]);
    git(&["commit", "-q", "-m", "first"]);
    run(&[
        "git",
        "clone",
        "-q",
        "--bare",
        work.to_str().unwrap(),
        bare.to_str().unwrap(),
    ]);
    (bare, git(&["rev-parse", "HEAD"]).trim().to_owned())
}

#[test]
fn an_ssh_remote_is_fetched_with_the_key_and_only_a_known_host_key() {
    if !prerequisites() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    keygen(&dir.join("host_key"));
    keygen(&dir.join("client_key"));
    fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
    let (bare, head) = repository(dir);
    let port = free_port();
    let _sshd = Sshd::start(dir, port);
    let url = format!("ssh://root@127.0.0.1:{port}{}", bare.display());

    // known_hosts as `ssh-keyscan` would write it, then hashed by ssh-keygen.
    let host_key = fs::read_to_string(dir.join("host_key.pub")).unwrap();
    let mut fields = host_key.split_whitespace();
    let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
    let known_hosts = dir.join("known_hosts");
    fs::write(&known_hosts, format!("[127.0.0.1]:{port} {kind} {key}\n")).unwrap();
    let auth = SshAuth {
        key: dir.join("client_key"),
        known_hosts: known_hosts.clone(),
    };
    let fetch = |state: &str, auth: &SshAuth| {
        Source::new(&url, "main", &dir.join(state))
            .with_ssh(Some(auth.clone()))
            .fetch()
    };
    assert_eq!(fetch("plain", &auth).unwrap(), head);

    run(&["ssh-keygen", "-q", "-H", "-f", known_hosts.to_str().unwrap()]);
    let hashed = fs::read_to_string(&known_hosts).unwrap();
    assert!(hashed.starts_with("|1|"), "{hashed}");
    assert_eq!(fetch("hashed", &auth).unwrap(), head);

    // Another key listed for this server: refused, and not as a network
    // fault (backing off would not change the key).
    keygen(&dir.join("other_key"));
    let other = fs::read_to_string(dir.join("other_key.pub")).unwrap();
    let mut fields = other.split_whitespace();
    let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
    fs::write(&known_hosts, format!("[127.0.0.1]:{port} {kind} {key}\n")).unwrap();
    match fetch("impostor", &auth) {
        Err(SourceError::Other(message)) => assert!(
            message.contains(&format!("host key of [127.0.0.1]:{port} is not the one known_hosts")),
            "{message}"
        ),
        other => panic!(
            "expected a refused host key, got {:?}",
            other.map_err(|e| e.to_string())
        ),
    }
    // The server not listed at all.
    fs::write(&known_hosts, "").unwrap();
    let unknown = fetch("unknown", &auth).unwrap_err().to_string();
    assert!(unknown.contains("is not in known_hosts"), "{unknown}");
}
