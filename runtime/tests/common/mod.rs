//! Helpers shared by the runtime's tests: whether we are root, the
//! skip-or-fail rule for tests that need it (`skip`: fail under
//! `NETC_REQUIRE_ROOT_TESTS=1`), running a command that must succeed, or
//! one bounded in time (`run_within`, coreutils `timeout`), the namespace
//! guards (`Namespaces`, deleted on drop; `NodeNamespace`, static-vxlan's
//! node-1 with its underlay veth pair inside it), reading an output tree
//! and compiling with the real binary. `control_plane` starts a real
//! Kubernetes control plane; `repo` makes git repositories.
//!
//! Tests that touch the network use namespaces of their own, only
//! 198.18.0.0/15, 198.51.100.0/24 and 203.0.113.0/24, and delete what they
//! made in a `Drop` guard.

#![allow(dead_code)] // each test binary uses a different subset

pub mod control_plane;
// Namespaces: Linux only (the Windows build runs some of these tests).
#[cfg(target_os = "linux")]
pub mod flannel;
pub mod repo;

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Whether the effective user is root (the second `Uid:` field of
/// `/proc/self/status`).
pub fn is_root() -> bool {
    // Windows builds (run under Wine) have no root to test as.
    if cfg!(not(unix)) {
        return false;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|uid| uid == "0"))
        .unwrap_or(false)
}

/// Print why a test is skipped and return `true`; under
/// `NETC_REQUIRE_ROOT_TESTS=1` (CI) fail instead.
pub fn skip(reason: &str) -> bool {
    if std::env::var("NETC_REQUIRE_ROOT_TESTS").as_deref() == Ok("1") {
        panic!("NETC_REQUIRE_ROOT_TESTS=1 but {reason}");
    }
    eprintln!("skipped: {reason}");
    true
}

/// Run a command that must succeed; its standard output.
pub fn run(args: &[&str]) -> String {
    let output = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        output.status.success(),
        "{}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A command's exit code, stdout and stderr, for assertion messages.
pub fn text(output: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A network namespace standing in for static-vxlan's node-1: the
/// underlay address 198.51.100.11/24 on a veth pair created inside it (so
/// nothing touches the root namespace), everything up. Named
/// `netc-<tag>-<pid>`; deleted on drop, also when a test fails.
pub struct NodeNamespace(pub String);

impl NodeNamespace {
    pub fn new(tag: &str) -> NodeNamespace {
        let ns = NodeNamespace(format!("netc-{tag}-{}", std::process::id()));
        run(&["ip", "netns", "add", &ns.0]);
        run(&[
            "ip", "link", "add", "under0", "netns", &ns.0, "type", "veth", "peer", "name", "under1", "netns", &ns.0,
        ]);
        run(&["ip", "-n", &ns.0, "addr", "add", "198.51.100.11/24", "dev", "under0"]);
        for dev in ["lo", "under0", "under1"] {
            run(&["ip", "-n", &ns.0, "link", "set", dev, "up"]);
        }
        ns
    }

    /// The destinations of netc's routes (protocol 211) in the namespace,
    /// sorted.
    pub fn routes(&self) -> Vec<String> {
        let json: serde_json::Value =
            serde_json::from_str(&run(&["ip", "-j", "-n", &self.0, "route", "show", "proto", "211"])).unwrap();
        let mut routes: Vec<String> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["dst"].as_str().unwrap().to_owned())
            .collect();
        routes.sort();
        routes
    }
}

impl Drop for NodeNamespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Run a program with a time limit of `seconds` (coreutils `timeout`, then
/// SIGKILL 5 s later), optional standard input and extra environment.
pub fn run_within(seconds: &str, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, String)]) -> Output {
    let mut command = Command::new("timeout");
    command
        .args(["--kill-after=5", seconds])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        std::io::Write::write_all(&mut { input }, bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Network namespaces made by one test, `netc-<tag>-<pid>-<n>-<role>`,
/// deleted on drop (also when a test panics); deleting a namespace deletes
/// every link inside it.
pub struct Namespaces {
    prefix: String,
    names: Vec<String>,
}

impl Namespaces {
    pub fn new(tag: &str) -> Namespaces {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let prefix = format!(
            "netc-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        Namespaces {
            prefix,
            names: Vec::new(),
        }
    }

    /// Create `<prefix>-<role>` with `lo` up; its name.
    pub fn add(&mut self, role: &str) -> String {
        let name = format!("{}-{role}", self.prefix);
        // Recorded before it exists, so a half-made namespace is deleted too.
        self.names.push(name.clone());
        for args in [
            &["ip", "netns", "add", &name][..],
            &["ip", "-n", &name, "link", "set", "lo", "up"],
        ] {
            let output = run_within("60", args, None, &[]);
            assert!(output.status.success(), "{}: {}", args.join(" "), text(&output));
        }
        name
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in self.names.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

/// Every file under `dir`, by its `/`-separated relative path (on every
/// platform, as `index.json` names them), with its bytes.
pub fn tree(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// `netc compile` of `topology`, written as `dir/NAME.netc` (with `lock`, when
/// given, as its lock file), into `dir/NAME-out`, which must succeed; the
/// output directory.
pub fn compile(dir: &std::path::Path, name: &str, topology: &str, lock: Option<&str>) -> std::path::PathBuf {
    let source = dir.join(format!("{name}.netc"));
    std::fs::write(&source, topology).unwrap();
    if let Some(lock) = lock {
        std::fs::write(dir.join(format!("{name}.netc.lock")), lock).unwrap();
    }
    let out = dir.join(format!("{name}-out"));
    let compiled = run_within(
        "60",
        &[
            env!("CARGO_BIN_EXE_netc"),
            "compile",
            source.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        None,
        &[],
    );
    assert!(compiled.status.success(), "netc compile {name}: {}", text(&compiled));
    out
}
