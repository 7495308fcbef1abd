//! Scenario f's moving parts: one local git repository the agents watch,
//! and one `netc agent` process per node namespace, killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fixture::{ip_json, must, text, Lab};

/// A work tree whose commits the agents fetch (as a `file://` remote).
pub struct Repo {
    pub dir: PathBuf,
}

impl Repo {
    pub fn new(parent: &Path) -> Repo {
        let dir = parent.join("topology-repo");
        must(&["git", "init", "-q", "-b", "main", dir.to_str().unwrap()]);
        Repo { dir }
    }

    fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .env("GIT_AUTHOR_NAME", "netc lab")
            .env("GIT_AUTHOR_EMAIL", "lab@netc.invalid")
            .env("GIT_COMMITTER_NAME", "netc lab")
            .env("GIT_COMMITTER_EMAIL", "lab@netc.invalid")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {}", text(&output));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Commit the topology and its lock file; the commit id.
    pub fn commit(&self, topology: &str, lock: &str, message: &str) -> String {
        std::fs::write(self.dir.join("cluster.netc"), topology).unwrap();
        std::fs::write(self.dir.join("cluster.netc.lock"), lock).unwrap();
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }
}

/// `netc agent` for every node of the lab, polling every `interval`.
pub struct Agents(Vec<Child>);

impl Agents {
    pub fn start(lab: &Lab, repo: &Repo, interval: &str) -> Agents {
        let children = lab
            .nodes
            .iter()
            .map(|node| {
                Command::new(env!("CARGO_BIN_EXE_netc"))
                    .args([
                        "agent",
                        "--repo",
                        &repo.url(),
                        "--path",
                        "cluster.netc",
                        "--node",
                        &node.name,
                    ])
                    .args(["--netns", &node.ns, "--interval", interval, "--listen", "off"])
                    .arg("--root")
                    .arg(&node.root)
                    .arg("--state-dir")
                    .arg(&node.state)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        Agents(children)
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The revision the agent of `state` last applied.
pub fn last_applied(state: &Path) -> Option<String> {
    let text = std::fs::read_to_string(state.join("agent-status.json")).ok()?;
    let status: Value = serde_json::from_str(&text).ok()?;
    status["last_applied"]["revision"].as_str().map(str::to_owned)
}

/// Whether node `ns` has netc's route to `subnet`.
pub fn has_route(ns: &str, subnet: &str) -> bool {
    ip_json(&["-n", ns, "route", "show", "proto", "211"])
        .as_array()
        .is_some_and(|routes| routes.iter().any(|r| r["dst"] == subnet))
}

/// Poll (every 20 ms, at most `limit`) until `done(node index)` holds for
/// each of `nodes`; each node's time from `since`.
pub fn converge(
    nodes: &[usize],
    since: Instant,
    limit: Duration,
    what: &str,
    done: impl Fn(usize) -> bool,
) -> Vec<Duration> {
    let mut took: Vec<Option<Duration>> = vec![None; nodes.len()];
    while took.iter().any(Option::is_none) {
        assert!(
            since.elapsed() < limit,
            "{what}: not converged within {limit:?} ({took:?})"
        );
        for (slot, &node) in took.iter_mut().zip(nodes) {
            if slot.is_none() && done(node) {
                *slot = Some(since.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    took.into_iter().flatten().collect()
}
