//! Crash safety of `netc apply`: the process is killed with SIGKILL at
//! random points while it applies, many times over, alternating between two
//! programs (120 nodes, and 80 nodes with a lower underlay MTU, so kills
//! land in creates, prunes, file replacements and link updates). After each
//! kill a complete apply of either program must converge: exit 0, an empty
//! plan, exactly that program's routes, neighbours and FDB entries in the
//! namespace (nothing left from the killed run), an inventory that is
//! exactly the program's keys (nothing netc made was forgotten), and no
//! temporary file anywhere.
//!
//! The random sequence is printed as a seed; `NETC_CRASH_SEED=N` replays it,
//! `NETC_CRASH_ROUNDS` is how many kills must land while an apply runs
//! (default 48, enough that a run without the write-ahead journal is caught:
//! with pipelined netlink the creates are a small part of an apply; rounds
//! continue until then, at most 200).
//!
//! Needs root; skipped with a printed reason otherwise, unless
//! `NETC_REQUIRE_ROOT_TESTS=1`. Network safety: one namespace of its own
//! (unique name, deleted by a guard also on failure) with the underlay veth
//! pair created inside it; only 198.18.0.0/16 and 198.51.100.0/24.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use netc_node::state;
use netc_plan::engine::ObjectKey;
use serde_json::Value;

mod common;
use common::{is_root, run, skip, text, NodeNamespace};

const DEVICE: &str = "flannel.4096";

fn netc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netc")).args(args).output().unwrap()
}

/// A static vxlan cluster of `count` nodes (198.51.100.11 onwards).
fn topology(count: u32, underlay_mtu: u32) -> String {
    format!(
        "cluster crash {{
  pod-network      198.18.0.0/16
  service-network  198.19.0.0/16
  cluster-dns      198.19.0.10
  node-subnet-len  24
  underlay-mtu     {underlay_mtu}
  kubernetes       1.30
  dataplane        static
  backend vxlan {{
    vni  4096
    port 4789
  }}
}}

segment lab-net {{
  prefix  198.51.100.0/24
  gateway 198.51.100.1
}}

nodes node count {count} {{
  os            linux
  arch          amd64
  address-start 198.51.100.11
}}
"
    )
}

/// What node-1 must have for one compiled program.
struct Expected {
    dir: PathBuf,
    /// Pod subnets of the other nodes: routes and neighbours.
    subnets: BTreeSet<String>,
    /// The other nodes' vxlan MACs: FDB entries.
    macs: BTreeSet<String>,
    mtu: u32,
}

fn compile(temp: &Path, name: &str, count: u32, underlay_mtu: u32) -> Expected {
    let source = temp.join(format!("{name}.netc"));
    fs::write(&source, topology(count, underlay_mtu)).unwrap();
    let dir = temp.join(name);
    let compiled = netc(&["compile", source.to_str().unwrap(), "-o", dir.to_str().unwrap()]);
    assert!(compiled.status.success(), "{}", text(&compiled));
    let peers: Value = serde_json::from_slice(&fs::read(dir.join("peers.json")).unwrap()).unwrap();
    let others: Vec<&Value> = peers["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|node| node["name"] != "node-1")
        .collect();
    assert_eq!(others.len() as u32, count - 1);
    Expected {
        dir,
        subnets: others
            .iter()
            .map(|node| node["subnets"][0].as_str().unwrap().to_string())
            .collect(),
        macs: others
            .iter()
            .map(|node| node["mac"].as_str().unwrap().to_string())
            .collect(),
        mtu: underlay_mtu - 50,
    }
}

/// A small deterministic generator (xorshift64*), so a failing sequence
/// can be replayed from its seed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Lab {
    ns: NodeNamespace,
    root: PathBuf,
    state: PathBuf,
}

impl Lab {
    fn args<'a>(&'a self, command: &'a str, program: &'a Expected) -> Vec<&'a str> {
        vec![
            command,
            "--node",
            "node-1",
            "--from",
            program.dir.to_str().unwrap(),
            "--netns",
            &self.ns.0,
            "--root",
            self.root.to_str().unwrap(),
            "--state-dir",
            self.state.to_str().unwrap(),
        ]
    }

    /// Start an apply and kill it after `delay`; whether it was still
    /// running (killed) or had finished.
    fn killed_apply(&self, program: &Expected, delay: Duration) -> bool {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netc"))
            .args(self.args("apply", program))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        status.signal() == Some(9)
    }

    /// A complete apply of `program`, then every convergence check; how
    /// long the apply took.
    fn converge(&self, program: &Expected, round: usize) -> Duration {
        let started = Instant::now();
        let applied = netc(&self.args("apply", program));
        let took = started.elapsed();
        assert_eq!(applied.status.code(), Some(0), "round {round}: {}", text(&applied));
        let plan = netc(&self.args("plan", program));
        assert_eq!(
            String::from_utf8_lossy(&plan.stdout),
            "Plan: 0 to create, 0 to update, 0 to recreate, 0 to delete.\n",
            "round {round}: {}",
            text(&plan)
        );

        let routes: BTreeSet<String> = json(&["ip", "-j", "-n", &self.ns.0, "route", "show", "proto", "211"])
            .iter()
            .map(|r| r["dst"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(routes, program.subnets, "round {round}: netc's routes");
        let neighbours: BTreeSet<String> = json(&[
            "ip",
            "-j",
            "-n",
            &self.ns.0,
            "neigh",
            "show",
            "dev",
            DEVICE,
            "nud",
            "permanent",
        ])
        .iter()
        .map(|n| format!("{}/24", n["dst"].as_str().unwrap()))
        .collect();
        assert_eq!(neighbours, program.subnets, "round {round}: neighbours");
        let fdb: BTreeSet<String> = json(&["bridge", "-j", "-n", &self.ns.0, "fdb", "show", "dev", DEVICE])
            .iter()
            .filter(|f| f["dst"].is_string())
            .map(|f| f["mac"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(fdb, program.macs, "round {round}: FDB entries");
        let link = run(&["ip", "-n", &self.ns.0, "link", "show", DEVICE]);
        assert!(link.contains(&format!("mtu {} ", program.mtu)), "round {round}: {link}");

        let inventory = state::read_inventory(&self.state).unwrap();
        let owned_routes: BTreeSet<String> = inventory
            .iter()
            .filter_map(|key| match key {
                ObjectKey::Route(dst) => Some(dst.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(owned_routes, program.subnets, "round {round}: the inventory's routes");
        let owned_neighbours = inventory
            .iter()
            .filter(|key| matches!(key, ObjectKey::Neighbour { .. }))
            .count();
        assert_eq!(
            owned_neighbours,
            program.subnets.len(),
            "round {round}: the inventory's neighbours"
        );
        for dir in [&self.root, &self.state] {
            let litter = temporaries(dir);
            assert!(litter.is_empty(), "round {round}: temporary files left: {litter:?}");
        }
        took
    }
}

fn json(args: &[&str]) -> Vec<Value> {
    serde_json::from_str::<Value>(&run(args))
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Files under `dir` whose names mark them as netc's temporaries.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if entry.file_name().to_string_lossy().contains(".netc-tmp-") {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn sigkill_at_random_points_then_a_rerun_converges() {
    if !is_root() && skip("not root") {
        return;
    }
    if Command::new("bridge").arg("-V").output().is_err() && skip("no `bridge` command (iproute2)") {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let large = compile(temp.path(), "large", 120, 1500);
    let small = compile(temp.path(), "small", 80, 1400);
    let root = temp.path().join("root");
    let bin = root.join("opt/cni/bin");
    fs::create_dir_all(&bin).unwrap();
    for plugin in ["bridge", "host-local", "portmap"] {
        fs::write(bin.join(plugin), "#!/bin/sh\n").unwrap();
    }
    let lab = Lab {
        ns: NodeNamespace::new("crash"),
        root,
        state: temp.path().join("state"),
    };

    // How long a whole apply takes here: kills are spread over that span.
    let span = lab.converge(&large, 0).as_micros() as u64;

    let seed = std::env::var("NETC_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) << 20 | (span & 0xfffff) | 1);
    // Rounds go on until this many applies were killed while running (a
    // kill after an apply finished proves nothing), at most `MAX_ROUNDS`.
    let wanted: usize = std::env::var("NETC_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48);
    const MAX_ROUNDS: usize = 200;
    eprintln!(
        "crash test: seed {seed} (NETC_CRASH_SEED), until {wanted} kills land mid-apply, a whole apply takes {span} µs"
    );
    let mut random = Random(seed);
    let programs = [&large, &small];
    let mut killed = 0;
    let mut attempts = 0;
    let mut current = 0;
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut round = 0;
    while killed < wanted && round < MAX_ROUNDS {
        round += 1;
        assert!(
            Instant::now() < deadline,
            "the crash test ran out of time ({killed} kills in {round} rounds)"
        );
        // One or two killed applies, the first one moving to the other
        // program (a real change), the second of either; then a full one.
        for attempt in 0..1 + random.below(2) {
            let program = if attempt == 0 {
                1 - current
            } else {
                random.below(2) as usize
            };
            let delay = Duration::from_micros(random.below(span + 1));
            attempts += 1;
            if lab.killed_apply(programs[program], delay) {
                killed += 1;
            }
        }
        current = random.below(2) as usize;
        lab.converge(programs[current], round);
    }
    eprintln!("crash test: {killed} of {attempts} applies were killed while running, in {round} rounds");
    assert!(
        killed >= wanted,
        "only {killed} of {attempts} applies were killed while running in {MAX_ROUNDS} rounds; the test needs {wanted}"
    );
}
