//! `netc agent` against a real git remote: a bare repository served by
//! `git daemon` on 127.0.0.1, commits pushed to it by the `git` command, and
//! the agent (`--once`, or running) applying static-vxlan's node-1 into a
//! network namespace.
//!
//! Faults: an invalid commit changes nothing and is reported, the next good
//! one applies; hostile commits (a link, an oversized topology, a binary
//! lock file) are invalid; the remote goes down and comes back (backoff,
//! failed fetches counted in `/metrics`, state kept, recovery); a
//! force-push that rewinds history is refused; a downtime-class change is
//! held until the commit trailer allows it; unsigned or wrongly signed
//! commits are refused when SSH keys or an OpenPGP keyring are required;
//! the local clone deleted or corrupted is cloned again; the agent killed
//! with SIGKILL mid-apply converges on restart, with `/metrics`, `/healthz`,
//! JSON logs and `netc status` reporting it; a Windows node without
//! PowerShell fails cleanly; truncated or garbled state files, or a state
//! directory removed under the running agent, are survived without pruning
//! what netc cannot prove it owns. The soak runs the agent for
//! `NETC_SOAK_ROUNDS` rounds (300 by default) with commits, drift and
//! outages, and checks that memory, descriptors and state files stay flat.
//!
//! Needs root (namespaces); skipped with a printed reason otherwise, unless
//! `NETC_REQUIRE_ROOT_TESTS=1`. Network safety: each test has its own
//! namespace (unique name, deleted by a guard) with its underlay veth pair
//! inside it; only 198.18.0.0/16 and 198.51.100.0/24 there; git daemon and
//! the metrics server listen on 127.0.0.1 only, on ports the kernel picked;
//! every wait is bounded.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{is_root, run, skip, text, NodeNamespace};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn example(name: &str) -> String {
    fs::read_to_string(workspace().join("examples").join(name)).unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `git daemon` serving `base` on 127.0.0.1:`port`; stopped on drop. The
/// `git-daemon` program is started directly (not through `git daemon`,
/// which would leave it running as a grandchild when killed).
struct Daemon(Child);

impl Daemon {
    fn start(base: &Path, port: u16) -> Daemon {
        let exec_path = run(&["git", "--exec-path"]);
        let child = Command::new(Path::new(exec_path.trim()).join("git-daemon"))
            .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Bounded wait until it accepts connections.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "git daemon did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Daemon(child)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A remote (bare, served by git daemon), a work clone that commits and
/// pushes to it, and node-1's namespace, root and state directory.
struct Lab {
    temp: tempfile::TempDir,
    port: u16,
    daemon: Option<Daemon>,
    ns: NodeNamespace,
    commits: u32,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let temp = tempfile::tempdir().unwrap();
        let served = temp.path().join("served");
        fs::create_dir_all(&served).unwrap();
        run(&[
            "git",
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            served.join("net.git").to_str().unwrap(),
        ]);
        let work = temp.path().join("work");
        run(&["git", "init", "-q", "-b", "main", work.to_str().unwrap()]);
        let root = temp.path().join("root");
        let bin = root.join("opt/cni/bin");
        fs::create_dir_all(&bin).unwrap();
        for plugin in ["bridge", "host-local", "portmap"] {
            fs::write(bin.join(plugin), "#!/bin/sh\n").unwrap();
        }
        let port = free_port();
        let daemon = Some(Daemon::start(&served, port));
        let lab = Lab {
            temp,
            port,
            daemon,
            ns: NodeNamespace::new(&format!("ag-{tag}")),
            commits: 0,
        };
        lab.git(&[
            "remote",
            "add",
            "origin",
            lab.served().join("net.git").to_str().unwrap(),
        ]);
        lab
    }

    fn served(&self) -> PathBuf {
        self.temp.path().join("served")
    }

    fn work(&self) -> PathBuf {
        self.temp.path().join("work")
    }

    fn state(&self) -> PathBuf {
        self.temp.path().join("state")
    }

    fn url(&self) -> String {
        format!("git://127.0.0.1:{}/net.git", self.port)
    }

    fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(args)
            .current_dir(self.work())
            .env("GIT_AUTHOR_NAME", "netc test")
            .env("GIT_AUTHOR_EMAIL", "test@netc.invalid")
            .env("GIT_COMMITTER_NAME", "netc test")
            .env("GIT_COMMITTER_EMAIL", "test@netc.invalid")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.temp.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {}", text(&output));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Commit `topology` (and the example's lock file) and push; the id.
    fn commit(&mut self, topology: &str, message: &str, extra: &[&str]) -> String {
        fs::write(self.work().join("cluster.netc"), topology).unwrap();
        fs::write(self.work().join("cluster.netc.lock"), example("static-vxlan.netc.lock")).unwrap();
        self.git(&["add", "-A"]);
        let mut args = vec!["commit", "-q", "--allow-empty", "-m", message];
        args.extend_from_slice(extra);
        self.git(&args);
        self.commits += 1;
        self.git(&["push", "-q", "--force", "origin", "main"]);
        self.git(&["rev-parse", "HEAD"])
    }

    fn agent_args(&self) -> Vec<String> {
        [
            "agent",
            "--repo",
            &self.url(),
            "--branch",
            "main",
            "--path",
            "cluster.netc",
            "--node",
            "node-1",
            "--state-dir",
            self.state().to_str().unwrap(),
            "--netns",
            &self.ns.0,
            "--root",
            self.temp.path().join("root").to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// One round of the agent (`--once`) with `extra` arguments.
    fn once(&self, extra: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_netc"))
            .args(self.agent_args())
            .args(["--once", "--listen", "off"])
            .args(extra)
            .output()
            .unwrap()
    }

    /// The running agent (not `--once`) with `extra` arguments, its
    /// standard error going to `stderr`.
    fn spawn(&self, extra: &[&str], stderr: impl Into<Stdio>) -> Child {
        Command::new(env!("CARGO_BIN_EXE_netc"))
            .args(self.agent_args())
            .args(extra)
            .stderr(stderr)
            .spawn()
            .unwrap()
    }

    fn status(&self) -> Value {
        let output = Command::new(env!("CARGO_BIN_EXE_netc"))
            .args([
                "status",
                "--format",
                "json",
                "--state-dir",
                self.state().to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// `netc plan --last-good`: empty when the host is at the last good
    /// program.
    fn at_last_good(&self) -> bool {
        let output = Command::new(env!("CARGO_BIN_EXE_netc"))
            .args(["plan", "--node", "node-1", "--last-good", "--netns", &self.ns.0])
            .arg("--root")
            .arg(self.temp.path().join("root"))
            .arg("--state-dir")
            .arg(self.state())
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout) == "Plan: 0 to create, 0 to update, 0 to recreate, 0 to delete.\n"
    }
}

fn topology(count: u32) -> String {
    example("static-vxlan.netc").replace("count 3", &format!("count {count}"))
}

/// node-1's peer routes for `count` nodes, sorted as `NodeNamespace::routes`.
fn subnets(count: u32) -> Vec<String> {
    let mut subnets: Vec<String> = (1..count).map(|i| format!("198.18.{i}.0/24")).collect();
    subnets.sort();
    subnets
}

fn prerequisites() -> bool {
    if !is_root() {
        return !skip("not root (network namespaces)");
    }
    true
}

#[test]
fn invalid_commits_change_nothing_and_the_next_good_one_applies() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new("inv");
    let good = lab.commit(&topology(3), "three nodes", &[]);
    let first = lab.once(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert_eq!(lab.ns.routes(), subnets(3));
    assert_eq!(lab.status()["status"]["last_applied"]["revision"], good.as_str());

    let broken = lab.commit(&topology(4).replace("vni  4096", "vni  banana"), "broken", &[]);
    let refused = lab.once(&[]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert_eq!(lab.ns.routes(), subnets(3), "nothing changed");
    assert!(lab.at_last_good());
    let status = lab.status();
    assert_eq!(status["status"]["last_applied"]["revision"], good.as_str());
    let attempted = &status["status"]["last_attempted"];
    assert_eq!(attempted["revision"], broken.as_str());
    assert_eq!(attempted["result"], "invalid");
    let message = attempted["message"].as_str().unwrap();
    assert!(
        message.contains("cluster.netc:12:") && message.contains("does not compile"),
        "{message}"
    );
    // Judged again by the next run: still not applied, still nothing changed.
    assert_eq!(lab.once(&[]).status.code(), Some(1));
    assert_eq!(lab.ns.routes(), subnets(3));

    let next = lab.commit(&topology(4), "four nodes", &[]);
    let applied = lab.once(&[]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    assert_eq!(lab.ns.routes(), subnets(4));
    assert_eq!(lab.status()["status"]["last_applied"]["revision"], next.as_str());
    assert_eq!(lab.status()["status"]["history"].as_array().unwrap().len(), 2);
}

/// Hostile commits (`hostile_repos.rs` has each kind against `netc diff`
/// and the agent's source): a topology that is a symbolic link, one larger
/// than the input limit, and a binary lock file. Each round records the
/// commit as invalid with the reason and changes nothing; the host stays
/// at its last good program.
#[test]
fn hostile_commits_are_invalid_and_change_nothing() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new("hst");
    lab.commit(&topology(3), "three nodes", &[]);
    assert_eq!(lab.once(&[]).status.code(), Some(0));
    let work = lab.work();
    let cases: [(&str, &dyn Fn()); 3] = [
        ("is a symbolic link", &|| {
            fs::remove_file(work.join("cluster.netc")).unwrap();
            std::os::unix::fs::symlink("/etc/passwd", work.join("cluster.netc")).unwrap();
        }),
        ("larger than netc's input limit", &|| {
            fs::File::create(work.join("cluster.netc"))
                .unwrap()
                .set_len(64 << 20)
                .unwrap();
        }),
        ("cluster.netc.lock", &|| {
            fs::write(work.join("cluster.netc"), topology(4)).unwrap();
            fs::write(work.join("cluster.netc.lock"), [0u8, 159, 146, 150, 255, 0, 1]).unwrap();
        }),
    ];
    for (said, make) in cases {
        make();
        lab.git(&["add", "-A"]);
        lab.git(&["commit", "-q", "-m", said]);
        lab.git(&["push", "-q", "origin", "main"]);
        let head = lab.git(&["rev-parse", "HEAD"]);
        let round = lab.once(&[]);
        assert_eq!(round.status.code(), Some(1), "{said}: {}", text(&round));
        let status = lab.status();
        let attempted = &status["status"]["last_attempted"];
        assert_eq!(attempted["revision"], head.as_str(), "{said}");
        assert_eq!(attempted["result"], "invalid", "{said}");
        let message = attempted["message"].as_str().unwrap();
        assert!(message.contains(said), "{said}: {message}");
        assert_eq!(lab.ns.routes(), subnets(3), "{said}: nothing changed");
        assert!(lab.at_last_good(), "{said}");
        let _ = fs::remove_file(work.join("cluster.netc"));
    }
}

#[test]
fn the_remote_goes_down_and_comes_back() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new("down");
    let good = lab.commit(&topology(3), "three nodes", &[]);
    assert_eq!(lab.once(&[]).status.code(), Some(0));
    lab.daemon = None; // stopped

    let down = lab.once(&[]);
    assert_eq!(down.status.code(), Some(2), "{}", text(&down));
    let status = lab.status();
    assert!(
        status["status"]["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot fetch"),
        "{status}"
    );
    assert_eq!(
        status["status"]["last_applied"]["revision"],
        good.as_str(),
        "state kept"
    );
    assert_eq!(lab.ns.routes(), subnets(3), "host kept");

    // Drift is still corrected from the last good program while it is down.
    run(&["ip", "-n", &lab.ns.0, "route", "del", "198.18.1.0/24"]);
    assert_eq!(lab.once(&[]).status.code(), Some(2));
    assert_eq!(lab.ns.routes(), subnets(3), "drift corrected without the remote");

    // Backoff: with a 200 ms interval, failed fetches space out (200, 400,
    // 800, 1600 ms...), so 3 s see far fewer than 15 attempts.
    let port = free_port();
    let mut agent = lab.spawn(
        &["--interval", "200ms", "--listen", &format!("127.0.0.1:{port}")],
        Stdio::null(),
    );
    std::thread::sleep(Duration::from_secs(3));
    let metrics = http_get(port, "/metrics");
    let _ = agent.kill();
    let _ = agent.wait();
    let failures = counter(&metrics, "netc_fetch_failures_total");
    assert!((2..=6).contains(&failures), "{failures} fetches in 3 s:\n{metrics}");

    // Back up: the next round recovers.
    lab.daemon = Some(Daemon::start(&lab.served(), lab.port));
    let next = lab.commit(&topology(4), "four nodes", &[]);
    let up = lab.once(&[]);
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));
    assert_eq!(lab.ns.routes(), subnets(4));
    let status = lab.status();
    assert_eq!(status["status"]["last_applied"]["revision"], next.as_str());
    assert!(status["status"]["last_error"].is_null());
}

#[test]
fn a_force_push_that_rewinds_history_is_refused() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new("rew");
    lab.commit(&topology(3), "three nodes", &[]);
    let four = lab.commit(&topology(4), "four nodes", &[]);
    assert_eq!(lab.once(&[]).status.code(), Some(0));
    assert_eq!(lab.ns.routes(), subnets(4));

    // Rewind: main back to its first commit plus a different one.
    lab.git(&["reset", "-q", "--hard", "HEAD~1"]);
    let rewritten = lab.commit(&topology(2), "two nodes, rewritten history", &[]);
    let refused = lab.once(&[]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let status = lab.status();
    assert_eq!(status["status"]["last_attempted"]["revision"], rewritten.as_str());
    assert_eq!(status["status"]["last_attempted"]["result"], "refused");
    assert!(status["status"]["last_attempted"]["message"]
        .as_str()
        .unwrap()
        .contains("not a descendant of the last applied revision"));
    assert_eq!(status["status"]["last_applied"]["revision"], four.as_str());
    assert_eq!(lab.ns.routes(), subnets(4), "nothing changed");

    // Forced on purpose, it applies.
    let forced = lab.once(&["--allow-rollback"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    assert_eq!(lab.ns.routes(), subnets(2));
}

#[test]
fn a_downtime_change_is_held_until_the_trailer_allows_it() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new("hold");
    lab.commit(&topology(3), "vxlan", &[]);
    assert_eq!(lab.once(&[]).status.code(), Some(0));
    let host_gw = topology(3).replace("backend vxlan {\n    vni  4096\n    port 4789\n  }", "backend host-gw");
    assert_ne!(host_gw, topology(3));
    let held = lab.commit(&host_gw, "switch to host-gw", &[]);
    let output = lab.once(&[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let status = lab.status();
    assert_eq!(status["status"]["last_attempted"]["revision"], held.as_str());
    assert_eq!(status["status"]["last_attempted"]["result"], "held");
    let message = status["status"]["last_attempted"]["message"].as_str().unwrap();
    assert!(
        message.contains("backend vxlan → host-gw") && message.contains("Netc-Allow-Disruption: yes"),
        "{message}"
    );
    assert!(
        run(&["ip", "-n", &lab.ns.0, "link"]).contains("flannel.4096"),
        "still vxlan"
    );

    lab.commit(&host_gw, "switch to host-gw", &["-m", "Netc-Allow-Disruption: yes"]);
    let allowed = lab.once(&[]);
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed));
    assert!(
        !run(&["ip", "-n", &lab.ns.0, "link"]).contains("flannel.4096"),
        "the vxlan device was pruned"
    );
    let routes = run(&["ip", "-n", &lab.ns.0, "route", "show", "proto", "211"]);
    assert!(routes.contains("198.18.1.0/24 via 198.51.100.12"), "{routes}");
}

#[test]
fn signatures_are_required_when_keys_are_given() {
    if !prerequisites() {
        return;
    }
    if Command::new("ssh-keygen").arg("-?").output().is_err() && skip("no ssh-keygen (openssh-client)") {
        return;
    }
    let mut lab = Lab::new("sig");
    let keys = lab.temp.path().join("keys");
    fs::create_dir_all(&keys).unwrap();
    for name in ["trusted", "stranger"] {
        run(&[
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            name,
            "-f",
            keys.join(name).to_str().unwrap(),
        ]);
    }
    let trusted = fs::read_to_string(keys.join("trusted.pub")).unwrap();
    let allowed = keys.join("allowed_signers");
    fs::write(&allowed, format!("test@netc.invalid {trusted}")).unwrap();
    lab.git(&["config", "gpg.format", "ssh"]);
    let sign_with = |name: &str| format!("user.signingkey={}", keys.join(name).display());

    let unsigned = lab.commit(&topology(3), "unsigned", &[]);
    let required = ["--allowed-signers", allowed.to_str().unwrap()];
    let output = lab.once(&required);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let attempted = &lab.status()["status"]["last_attempted"];
    assert_eq!(attempted["revision"], unsigned.as_str());
    assert_eq!(attempted["result"], "refused");
    assert!(attempted["message"].as_str().unwrap().contains("not signed"));
    assert!(lab.ns.routes().is_empty(), "nothing applied");

    lab.git(&[
        "-c",
        &sign_with("stranger"),
        "commit",
        "-q",
        "--allow-empty",
        "-S",
        "-m",
        "signed by a stranger",
    ]);
    lab.git(&["push", "-q", "origin", "main"]);
    let output = lab.once(&required);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let message = lab.status()["status"]["last_attempted"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("not in"), "{message}");

    lab.git(&[
        "-c",
        &sign_with("trusted"),
        "commit",
        "-q",
        "--allow-empty",
        "-S",
        "-m",
        "signed",
    ]);
    lab.git(&["push", "-q", "origin", "main"]);
    let output = lab.once(&required);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(lab.ns.routes(), subnets(3));
}

#[test]
fn a_deleted_or_corrupted_clone_is_cloned_again() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new("clone");
    lab.commit(&topology(3), "three nodes", &[]);
    assert_eq!(lab.once(&[]).status.code(), Some(0));
    let clone = lab.state().join("repo.git");

    fs::remove_dir_all(&clone).unwrap();
    lab.commit(&topology(4), "four", &[]);
    let output = lab.once(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(lab.ns.routes(), subnets(4));

    // Corrupt it: every object file replaced by garbage, HEAD too.
    let mut pending = vec![clone.join("objects")];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            if entry.path().is_dir() {
                pending.push(entry.path());
            } else {
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(entry.path())
                    .unwrap();
                file.write_all(b"garbage").unwrap();
            }
        }
    }
    fs::write(clone.join("HEAD"), "garbage\n").unwrap();
    lab.commit(&topology(5), "five", &[]);
    let output = lab.once(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(lab.ns.routes(), subnets(5));
}

#[test]
fn sigkill_mid_apply_then_restart_converges_and_metrics_report() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new("kill");
    let big = topology(150);
    let head = lab.commit(&big, "150 nodes", &[]);
    // Kill the running agent at several points of its first apply.
    for delay in [30, 60, 120, 250] {
        let mut agent = lab.spawn(&["--interval", "1s", "--listen", "off"], Stdio::null());
        std::thread::sleep(Duration::from_millis(delay));
        let _ = agent.kill();
        let _ = agent.wait();
    }
    let port = free_port();
    let mut agent = lab.spawn(
        &[
            "--interval",
            "300ms",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ],
        Stdio::piped(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut metrics = String::new();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        metrics = http_get(port, "/metrics");
        if metrics.contains(&format!("netc_last_applied_info{{revision=\"{head}\"}} 1"))
            && counter(&metrics, "netc_reconciles_total") >= 2
        {
            break;
        }
    }
    let health = http_get(port, "/healthz");
    let _ = agent.kill();
    let mut logs = String::new();
    let _ = agent.stderr.take().unwrap().read_to_string(&mut logs);
    let _ = agent.wait();
    assert!(
        metrics.contains(&format!("netc_last_applied_info{{revision=\"{head}\"}} 1")),
        "{metrics}"
    );
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    for line in logs.lines() {
        let event: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(event["level"].is_string() && event["fields"].is_object(), "{line}");
    }
    assert_eq!(lab.ns.routes(), subnets(150));
    assert!(lab.at_last_good(), "converged");
    let inventory = lab.status()["inventory"].as_array().unwrap().len();
    assert!(inventory > 3 * 149, "{inventory} objects owned");

    // `netc status` for humans.
    let human = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["status", "--state-dir", lab.state().to_str().unwrap()])
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(human.contains(&format!("last applied:   {head}")), "{human}");
    assert!(human.contains("objects owned"), "{human}");
}

/// `GET path` on 127.0.0.1:`port`: the whole response, or "" if nothing
/// answered.
fn http_get(port: u16, path: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn openpgp_signatures_are_checked_against_a_keyring() {
    if !prerequisites() {
        return;
    }
    if Command::new("gpg").arg("--version").output().is_err() && skip("no gpg (gnupg)") {
        return;
    }
    let mut lab = Lab::new("gpg");
    let home = lab.temp.path().join("gnupg");
    fs::create_dir_all(&home).unwrap();
    let gpg = |args: &[&str]| -> Output {
        Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap()
    };
    let generated = gpg(&[
        "--quick-gen-key",
        "netc test <test@netc.invalid>",
        "ed25519",
        "sign",
        "never",
    ]);
    assert!(generated.status.success(), "{}", text(&generated));
    let keyring = lab.temp.path().join("trusted.gpg");
    let exported = gpg(&["--export", "--output", keyring.to_str().unwrap(), "test@netc.invalid"]);
    assert!(exported.status.success(), "{}", text(&exported));
    // Stop the gpg-agent this started, whatever happens below.
    struct StopAgent(PathBuf);
    impl Drop for StopAgent {
        fn drop(&mut self) {
            let _ = Command::new("gpgconf")
                .env("GNUPGHOME", &self.0)
                .args(["--kill", "gpg-agent"])
                .status();
        }
    }
    let _stop = StopAgent(home.clone());

    fs::write(lab.work().join("cluster.netc"), topology(3)).unwrap();
    fs::write(lab.work().join("cluster.netc.lock"), example("static-vxlan.netc.lock")).unwrap();
    lab.git(&["add", "-A"]);
    let signed = Command::new("git")
        .current_dir(lab.work())
        .env("GNUPGHOME", &home)
        .env("GIT_COMMITTER_NAME", "netc test")
        .env("GIT_COMMITTER_EMAIL", "test@netc.invalid")
        .env("GIT_AUTHOR_NAME", "netc test")
        .env("GIT_AUTHOR_EMAIL", "test@netc.invalid")
        .args([
            "-c",
            "user.signingkey=test@netc.invalid",
            "commit",
            "-q",
            "-S",
            "-m",
            "signed with OpenPGP",
        ])
        .output()
        .unwrap();
    assert!(signed.status.success(), "{}", text(&signed));
    lab.git(&["push", "-q", "origin", "main"]);

    let output = lab.once(&["--gpg-keyring", keyring.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(lab.ns.routes(), subnets(3));

    // With a keyring configured, an unsigned commit is refused.
    lab.commit(&topology(4), "unsigned", &[]);
    let output = lab.once(&["--gpg-keyring", keyring.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert_eq!(lab.ns.routes(), subnets(3));
}

/// A Windows node's agent applies through PowerShell (`netc_node::windows`);
/// this host has none, so the round fails cleanly: reported, retried next
/// round, and nothing recorded as applied.
#[test]
fn a_windows_node_needs_powershell_and_fails_cleanly_without_it() {
    if !prerequisites() {
        return;
    }
    let lab = Lab::new("win");
    fs::write(lab.work().join("cluster.netc"), example("vxlan-mixed.netc")).unwrap();
    fs::write(lab.work().join("cluster.netc.lock"), example("vxlan-mixed.netc.lock")).unwrap();
    lab.git(&["add", "-A"]);
    lab.git(&["commit", "-q", "-m", "mixed cluster"]);
    lab.git(&["push", "-q", "origin", "main"]);
    let args: Vec<String> = lab
        .agent_args()
        .into_iter()
        .map(|arg| if arg == "node-1" { "win-1".to_owned() } else { arg })
        .collect();
    let output = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(&args)
        .args(["--once", "--listen", "off"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let status = lab.status();
    let attempted = &status["status"]["last_attempted"];
    assert_eq!(attempted["result"], "failed", "{status}");
    assert!(
        attempted["message"]
            .as_str()
            .unwrap()
            .contains("cannot run powershell.exe"),
        "{status}"
    );
    assert!(status["status"]["last_applied"].is_null());
    assert!(!lab.state().join("windows-inventory.json").exists());
    assert!(!lab.state().join("last-good.json").exists());
}

/// State files a power cut truncated or a hand garbled are survived, round
/// after round, and nothing is deleted that netc cannot prove it owns:
/// - a truncated `inventory.json`: the next commit applies without pruning
///   (node-4's route, owned only by the lost inventory, stays), the bytes
///   are kept as `inventory.json.unreadable`, and a whole inventory is
///   written again;
/// - a garbled `agent-status.json`: the agent starts afresh, says so in its
///   log, keeps the old bytes and writes a whole status again;
/// - a garbled `last-good.json`: drift correction reports it and the agent
///   goes on; the next commit writes a whole one again.
#[test]
fn corrupted_state_files_are_survived() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new("cor");
    lab.commit(&topology(4), "four nodes", &[]);
    let first = lab.once(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert_eq!(lab.ns.routes(), subnets(4));
    let state = lab.state();

    let inventory = state.join("inventory.json");
    let whole = fs::read(&inventory).unwrap();
    let truncated = &whole[..whole.len() / 2];
    fs::write(&inventory, truncated).unwrap();
    let three = lab.commit(&topology(3), "three nodes", &[]);
    let applied = lab.once(&[]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    assert!(text(&applied).contains("inventory unreadable"), "{}", text(&applied));
    assert_eq!(
        lab.ns.routes(),
        subnets(4),
        "a route was pruned without a readable inventory"
    );
    assert_eq!(lab.status()["status"]["last_applied"]["revision"], three.as_str());
    let rebuilt: Value = serde_json::from_slice(&fs::read(&inventory).unwrap()).expect("a whole inventory again");
    assert!(!rebuilt.as_array().unwrap().is_empty());
    assert_eq!(fs::read(state.join("inventory.json.unreadable")).unwrap(), truncated);

    let status_file = state.join("agent-status.json");
    fs::write(&status_file, b"{\"node\": \"node-1\", \"last_applied\": {\"revis").unwrap();
    let round = lab.once(&[]);
    assert_eq!(round.status.code(), Some(0), "{}", text(&round));
    // Reported in the log; the round then judged the head afresh (nothing
    // to change) and wrote a whole status again.
    assert!(text(&round).contains("agent status unreadable"), "{}", text(&round));
    assert_eq!(lab.status()["status"]["last_applied"]["revision"], three.as_str());
    assert!(state.join("agent-status.json.unreadable").is_file());

    fs::write(state.join("last-good.json"), b"not json").unwrap();
    let round = lab.once(&[]);
    assert_ne!(round.status.code(), Some(0), "{}", text(&round));
    let error = lab.status()["status"]["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains("last-good.json"), "{error}");
    let two = lab.commit(&topology(2), "two nodes", &[]);
    let applied = lab.once(&[]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    assert_eq!(lab.status()["status"]["last_applied"]["revision"], two.as_str());
    let last_good: Value = serde_json::from_slice(&fs::read(state.join("last-good.json")).unwrap()).unwrap();
    assert!(last_good["program"].is_object());
    assert!(lab.at_last_good());
}

/// The whole state directory removed under the running agent: it keeps
/// running, clones again, and applies the next commit without pruning
/// (the lost inventory proved ownership of node-3's and node-4's routes,
/// so they stay), then writes a whole state directory again.
#[test]
fn a_state_directory_removed_under_the_running_agent_is_rebuilt() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new("gone");
    let four = lab.commit(&topology(4), "four nodes", &[]);
    let mut agent = lab.spawn(&["--interval", "100ms", "--listen", "off"], Stdio::null());
    let applied = |lab: &Lab, revision: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if lab.status()["status"]["last_applied"]["revision"] == revision {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    };
    assert!(applied(&lab, &four), "four nodes applied");
    assert_eq!(lab.ns.routes(), subnets(4));

    fs::remove_dir_all(lab.state()).unwrap();
    let two = lab.commit(&topology(2), "two nodes", &[]);
    let done = applied(&lab, &two);
    let alive = agent.try_wait().unwrap().is_none();
    let _ = agent.kill();
    let _ = agent.wait();
    assert!(alive, "the agent kept running");
    assert!(done, "two nodes applied after the state directory went");
    assert_eq!(lab.ns.routes(), subnets(4), "nothing pruned without an inventory");
    for file in ["inventory.json", "last-good.json", "agent-status.json", "repo.git"] {
        assert!(lab.state().join(file).exists(), "{file} written again");
    }
    assert!(lab.at_last_good());
}

/// One sample of the running agent: resident memory (KiB), open file
/// descriptors, and the files in its state directory outside the clone.
#[derive(Debug, Clone, Copy)]
struct Sample {
    round: u64,
    rss_kib: u64,
    fds: usize,
    state_files: usize,
}

fn sample(pid: u32, state: &Path, round: u64) -> Sample {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    let state_files = fs::read_dir(state)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != "repo.git")
        .count();
    Sample {
        round,
        rss_kib,
        fds,
        state_files,
    }
}

/// Soak: the running agent at a 100 ms interval (its shortest) for `NETC_SOAK_ROUNDS`
/// rounds (300 by default; the README's figures are from a longer run),
/// with a new commit every 40 rounds, a route deleted (drift) every 15,
/// and the remote stopped for 20 rounds every 150. After warm-up (the
/// first fifth of the rounds), resident memory grows by less than 8 MiB,
/// the floor of open descriptors (sampled every 5 rounds) does not rise,
/// and the state directory holds the same files.
#[test]
fn soak_keeps_memory_descriptors_and_state_files_flat() {
    if !prerequisites() {
        return;
    }
    let rounds: u64 = std::env::var("NETC_SOAK_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let mut lab = Lab::new("soak");
    lab.commit(&topology(3), "three nodes", &[]);
    let port = free_port();
    let mut agent = lab.spawn(
        &["--interval", "100ms", "--listen", &format!("127.0.0.1:{port}")],
        fs::File::create(lab.temp.path().join("agent.log")).unwrap(),
    );
    let pid = agent.id();
    let log_path = lab.temp.path().join("agent.log");
    let log = || fs::read_to_string(&log_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60 + rounds);
    let (mut commits, mut drifts, mut outages) = (0u64, 0u64, 0u64);
    let mut samples: Vec<Sample> = Vec::new();
    let mut last = 0;
    let mut down_since = None;
    let started = Instant::now();
    while last < rounds {
        assert!(
            Instant::now() < deadline,
            "only {last} of {rounds} rounds before the deadline"
        );
        assert!(agent.try_wait().unwrap().is_none(), "the agent exited:\n{}", log());
        std::thread::sleep(Duration::from_millis(20));
        let metrics = http_get(port, "/metrics");
        let round = counter(&metrics, "netc_reconciles_total");
        if round == last {
            continue;
        }
        last = round;
        if round % 40 == 0 {
            commits += 1;
            lab.commit(&topology(3 + (commits % 2) as u32), &format!("soak {commits}"), &[]);
        }
        if round % 15 == 0 {
            let routes = lab.ns.routes();
            if let Some(route) = routes.first() {
                drifts += 1;
                let _ = Command::new("ip")
                    .args(["-n", &lab.ns.0, "route", "del", route])
                    .output();
            }
        }
        if round % 150 == 75 && lab.daemon.is_some() {
            outages += 1;
            lab.daemon = None;
            down_since = Some(round);
        }
        if down_since.is_some_and(|at| round >= at + 20) {
            lab.daemon = Some(Daemon::start(&lab.served(), lab.port));
            down_since = None;
        }
        if round % 5 == 0 {
            samples.push(sample(pid, &lab.state(), round));
        }
    }
    // Every deleted route was put back, whatever round it fell in (an
    // apply, a drift correction, or a round whose fetch failed).
    if lab.daemon.is_none() {
        lab.daemon = Some(Daemon::start(&lab.served(), lab.port));
    }
    let expected = subnets(3 + (commits % 2) as u32);
    let settle = Instant::now() + Duration::from_secs(30);
    while lab.ns.routes() != expected && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(lab.ns.routes(), expected, "the host ends at the last commit's program");
    let metrics = http_get(port, "/metrics");
    let _ = agent.kill();
    let _ = agent.wait();
    let seconds = started.elapsed().as_secs_f64();

    eprintln!(
        "soak: {rounds} rounds in {seconds:.0} s; {commits} commits, {drifts} drifts, {outages} outages; \
         applies {}, drift corrections {}, fetch failures {}",
        counter(&metrics, "netc_applies_total"),
        counter(&metrics, "netc_drift_corrections_total"),
        counter(&metrics, "netc_fetch_failures_total")
    );
    for s in samples.iter().filter(|s| s.round % (rounds / 10).max(5) == 0) {
        eprintln!(
            "  round {:>6}: RSS {:>6} KiB, {:>3} fds, {} state files",
            s.round, s.rss_kib, s.fds, s.state_files
        );
    }
    let warm = samples
        .iter()
        .find(|s| s.round >= rounds / 5)
        .copied()
        .expect("a sample after warm-up");
    let end = *samples.last().unwrap();
    assert!(
        end.rss_kib < warm.rss_kib + 8 * 1024,
        "memory grew from {} to {} KiB",
        warm.rss_kib,
        end.rss_kib
    );
    // Descriptors come and go within a round (netlink, the fetch, a
    // metrics request): a leak shows as a rising floor.
    let after: Vec<&Sample> = samples.iter().filter(|s| s.round >= warm.round).collect();
    let third = after.len() / 3;
    let floor = |window: &[&Sample]| window.iter().map(|s| s.fds).min().unwrap();
    let (early, late) = (
        floor(&after[..third.max(1)]),
        floor(&after[after.len() - third.max(1)..]),
    );
    assert!(late <= early + 2, "the descriptor floor rose from {early} to {late}");
    let most = after.iter().map(|s| s.fds).max().unwrap();
    assert!(most <= 64, "{most} descriptors open at once");
    assert_eq!(end.state_files, warm.state_files, "files in the state directory");
    assert!(
        counter(&metrics, "netc_drift_corrections_total") > 0,
        "drift was corrected"
    );
    assert!(
        counter(&metrics, "netc_applies_total") > commits / 2,
        "commits were applied"
    );
}
