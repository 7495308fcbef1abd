//! Benchmark: how fast the node runtime applies and re-checks routes, against
//! iproute2 and the generated `host.sh` doing the same, and how much memory
//! it needs.
//!
//! Measured, each in fresh network namespaces, median of several runs:
//! 1. 5,000 peer routes (`198.18.x.y/30 via 198.18.x.y dev d0 onlink proto
//!    211`) applied through the library: `engine::plan` from nothing, then
//!    `Netlink::apply_all` (pipelined) and, for comparison, `Netlink::apply`
//!    per step (connection set-up included).
//! 2. The same 5,000 routes with one `ip -n NS -batch FILE`.
//! 3. The same 5,000 routes with one `ip -n NS route add` process each.
//! 4. A no-op reconcile with the 5,000 routes present: `observe(keys)` plus
//!    `engine::plan`, which must plan nothing.
//! 5. `netc apply` end to end (the binary, from a compiled directory) for
//!    node `a-1` of the largest static-vxlan topology whose underlay fits the
//!    test-safe ranges (506 nodes on 198.51.100.0/24 and 203.0.113.0/24, so
//!    505 peers: 505 routes, neighbours and FDB entries), and for the same
//!    program with a synthetic 5,001-node peer table (5,000 peers, whose
//!    underlay addresses repeat, as no valid topology within the safe ranges
//!    has that many nodes). Then `netc plan` and `netc apply` when nothing
//!    is to change.
//! 6. Peak resident memory: of this process after the library runs (VmHWM),
//!    and of one `netc apply` child (`/usr/bin/time -f %M`, the kernel's
//!    `ru_maxrss`).
//! 7. Node a-1's own generated `host.sh` into a fresh namespace, beside
//!    `netc apply` of the same program (5).
//!
//! Targets: library apply (pipelined) at most 0.7x `ip -batch`, at least
//! 10x faster than one process per route; `netc apply` of the 506-node
//! static vxlan program at most 0.5x its `host.sh`; no-op reconcile under
//! 100 ms; resident memory under 50 MB.
//!
//! Run as root with `cargo bench -p netc --bench apply`; without root it
//! prints why and exits 0. Network safety: every object is created inside
//! namespaces named `netc-bench-<pid>-<n>` (the veth pairs directly inside
//! them), only 198.18.0.0/15, 198.51.100.0/24 and 203.0.113.0/24 are used,
//! nothing sends traffic, and a guard deletes each namespace, also on error
//! or panic. `netc apply` loads `br_netfilter` if it is missing (modules are
//! global) and writes its files under a temporary root.

#![allow(clippy::disallowed_methods)] // a benchmark reads the clock by design

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use netc_compiler::emit::program::types::{Operation, Peer, PeerTable, Program};
use netc_node::driver::linux::netlink::{Netlink, NETC_ROUTE_PROTOCOL};
use netc_plan::engine::{self, Inventory, Object, ObjectKey, Observed};

/// Peer routes per run.
const ROUTES: usize = 5_000;
/// Runs per figure (the median is reported).
const RUNS: usize = 5;
/// Runs of the slow one-process-per-route baseline (about 10 s each).
const PROCESS_RUNS: usize = 3;
/// No single measured phase may take longer than this; a bench that does is
/// stopped rather than left running.
const PHASE_LIMIT: Duration = Duration::from_secs(300);
/// The device every benchmark route leaves through.
const DEVICE: &str = "d0";
/// The node whose program `netc apply` applies (its underlay address).
const NODE: &str = "a-1";
const NODE_ADDRESS: &str = "198.51.100.2/24";
/// Peers in the synthetic peer table.
const SYNTHETIC_PEERS: u32 = 5_000;

type Result<T> = std::result::Result<T, String>;

static NAMESPACES: AtomicUsize = AtomicUsize::new(0);

/// Runs `ip ARGS`, which must succeed; its standard output.
fn ip(args: &[&str]) -> Result<String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if !output.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A fresh namespace `netc-bench-<pid>-<n>` with a veth pair `d0`/`d1`
/// inside it, `d0` carrying `address`; deleted on drop.
struct Namespace {
    name: String,
}

impl Namespace {
    fn new(address: &str) -> Result<Namespace> {
        let n = NAMESPACES.fetch_add(1, Ordering::Relaxed);
        let name = format!("netc-bench-{}-{n}", std::process::id());
        ip(&["netns", "add", &name])?;
        // The guard exists from here on, so a failed set-up is cleaned up.
        let namespace = Namespace { name };
        let ns = namespace.name.as_str();
        ip(&[
            "link", "add", DEVICE, "netns", ns, "type", "veth", "peer", "name", "d1", "netns", ns,
        ])?;
        ip(&["-n", ns, "addr", "add", address, "dev", DEVICE])?;
        for device in ["lo", DEVICE, "d1"] {
            ip(&["-n", ns, "link", "set", device, "up"])?;
        }
        Ok(namespace)
    }

    /// How many routes with netc's protocol the namespace has.
    fn netc_routes(&self) -> Result<usize> {
        let listing = ip(&[
            "-n",
            &self.name,
            "route",
            "show",
            "proto",
            &NETC_ROUTE_PROTOCOL.to_string(),
        ])?;
        Ok(listing.lines().count())
    }
}

impl Namespace {
    /// How many routes with a gateway the namespace has, of any protocol
    /// (host.sh's routes carry none).
    fn gateway_routes(&self) -> Result<usize> {
        let listing = ip(&["-n", &self.name, "route", "show"])?;
        Ok(listing.lines().filter(|line| line.contains(" via ")).count())
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// Route `i`: a /30 every 16 addresses from 198.18.0.0, so the 5,000 routes
/// spread over 198.18.0.0/15, each via its own first address, onlink.
fn route(i: usize) -> (String, String) {
    let offset = u32::try_from(i * 16).expect("a small offset");
    let network = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + offset);
    (format!("{network}/30"), network.to_string())
}

fn route_objects() -> Vec<Object> {
    (0..ROUTES)
        .map(|i| {
            let (destination, via) = route(i);
            Object::Route {
                destination,
                via,
                device: Some(DEVICE.to_owned()),
                onlink: true,
            }
        })
        .collect()
}

fn route_add_args(i: usize) -> Vec<String> {
    let (destination, via) = route(i);
    [
        "route",
        "add",
        &destination,
        "via",
        &via,
        "dev",
        DEVICE,
        "onlink",
        "proto",
        &NETC_ROUTE_PROTOCOL.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

fn check_phase(start: Instant, what: &str) -> Result<()> {
    if start.elapsed() > PHASE_LIMIT {
        return Err(format!("{what} took longer than {PHASE_LIMIT:?}; stopped"));
    }
    Ok(())
}

/// Peak resident set size of this process so far, in KiB.
fn own_peak_rss_kib() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How the library sends a plan's steps.
#[derive(Clone, Copy, PartialEq)]
enum Send {
    /// `Netlink::apply_all`: runs of steps pipelined in batches.
    Pipelined,
    /// `Netlink::apply` per step: one request, one answer, then the next.
    OneByOne,
}

/// Library: 5,000 routes into a fresh namespace (plan from nothing, then
/// the steps sent as `send` says; the connection is opened inside the
/// timing), then the no-op reconcile (`observe` + `plan`) with them present.
fn library_run(desired: &[Object], send: Send) -> Result<(Duration, Duration)> {
    let namespace = Namespace::new("198.51.100.1/24")?;
    let plan = engine::plan(desired, &Observed::new(), &Inventory::new());
    if plan.steps.len() != ROUTES {
        return Err(format!("planned {} steps for {ROUTES} routes", plan.steps.len()));
    }
    let start = Instant::now();
    let netlink = Netlink::in_namespace(Some(&namespace.name)).map_err(|e| e.0)?;
    match send {
        Send::Pipelined => {
            let outcomes = netlink.apply_all(&plan.steps);
            if outcomes.len() != ROUTES {
                return Err(format!("{} of {ROUTES} steps were sent", outcomes.len()));
            }
            outcomes
                .into_iter()
                .collect::<std::result::Result<(), _>>()
                .map_err(|e| e.0)?;
        }
        Send::OneByOne => {
            for step in &plan.steps {
                netlink.apply(step).map_err(|e| e.0)?;
            }
        }
    }
    let applied = start.elapsed();
    if namespace.netc_routes()? != ROUTES {
        return Err(format!("the namespace does not have the {ROUTES} routes after apply"));
    }

    let keys: BTreeSet<ObjectKey> = desired.iter().map(Object::key).collect();
    let owned: Inventory = keys.clone();
    let start = Instant::now();
    let observed = netlink.observe(&keys).map_err(|e| e.0)?;
    let again = engine::plan(desired, &observed, &owned);
    let reconciled = start.elapsed();
    if !again.is_empty() {
        return Err(format!("the no-op reconcile planned {} steps", again.steps.len()));
    }
    Ok((applied, reconciled))
}

/// `ip -n NS -batch FILE` with the same routes.
fn batch_run(file: &Path) -> Result<Duration> {
    let namespace = Namespace::new("198.51.100.1/24")?;
    let path = file.to_str().ok_or("temporary path is not UTF-8")?;
    let start = Instant::now();
    ip(&["-n", &namespace.name, "-batch", path])?;
    let elapsed = start.elapsed();
    if namespace.netc_routes()? != ROUTES {
        return Err(format!("ip -batch did not leave {ROUTES} routes"));
    }
    Ok(elapsed)
}

/// One `ip -n NS route add` process per route.
fn processes_run() -> Result<Duration> {
    let namespace = Namespace::new("198.51.100.1/24")?;
    let start = Instant::now();
    for i in 0..ROUTES {
        let mut args = vec!["-n".to_owned(), namespace.name.clone()];
        args.extend(route_add_args(i));
        let status = Command::new("ip")
            .args(&args)
            .status()
            .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
        if !status.success() {
            return Err(format!("ip {} failed", args.join(" ")));
        }
        check_phase(start, "one process per route")?;
    }
    let elapsed = start.elapsed();
    if namespace.netc_routes()? != ROUTES {
        return Err(format!("the processes did not leave {ROUTES} routes"));
    }
    Ok(elapsed)
}

/// The largest static-vxlan topology whose underlay fits the test-safe
/// ranges: 253 nodes on each of 198.51.100.0/24 and 203.0.113.0/24.
fn topology() -> String {
    let mut text = String::from(
        "cluster bench {\n  pod-network      198.18.0.0/16\n  service-network  198.19.0.0/16\n  cluster-dns      198.19.0.10\n  node-subnet-len  26\n  underlay-mtu     1500\n  kubernetes       1.30\n  dataplane        static\n  backend vxlan {\n    vni  4096\n    port 4789\n  }\n}\n",
    );
    for (segment, prefix) in [("a", "198.51.100"), ("b", "203.0.113")] {
        let _ = write!(
            text,
            "\nsegment net-{segment} {{\n  prefix  {prefix}.0/24\n  gateway {prefix}.1\n}}\n\nnodes {segment} count 253 {{\n  os            linux\n  arch          amd64\n  address-start {prefix}.2\n}}\n"
        );
    }
    text
}

/// A copy of `compiled` whose peer table keeps node `a-1` and replaces every
/// other node by `SYNTHETIC_PEERS` peers: /29 pod subnets from 198.18.0.64
/// (after a-1's 198.18.0.0/26), distinct MACs, underlay addresses cycling
/// through 203.0.113.2-254 (repeated: no traffic is sent to them).
fn synthetic(compiled: &Path, into: &Path) -> Result<()> {
    let program_dir = into.join("nodes").join(NODE);
    fs::create_dir_all(&program_dir).map_err(|e| format!("{}: {e}", program_dir.display()))?;
    let program = compiled.join("nodes").join(NODE).join("program.json");
    fs::copy(&program, program_dir.join("program.json")).map_err(|e| format!("{}: {e}", program.display()))?;
    let peers_path = compiled.join("peers.json");
    let text = fs::read(&peers_path).map_err(|e| format!("{}: {e}", peers_path.display()))?;
    let mut table: PeerTable = serde_json::from_slice(&text).map_err(|e| format!("peers.json: {e}"))?;
    let me = table
        .nodes
        .iter()
        .find(|peer| peer.name == NODE)
        .cloned()
        .ok_or("the compiled peer table has no a-1")?;
    if me.subnets != ["198.18.0.0/26"] {
        return Err(format!("a-1 has the subnets {:?}, not 198.18.0.0/26", me.subnets));
    }
    let base = u32::from(Ipv4Addr::new(198, 18, 0, 64));
    let mut nodes = vec![me.clone()];
    for k in 0..SYNTHETIC_PEERS {
        let subnet = Ipv4Addr::from(base + 8 * k);
        let [_, _, high, low] = k.to_be_bytes();
        nodes.push(Peer {
            name: format!("synthetic-{k}"),
            os: me.os,
            address: format!("203.0.113.{}", 2 + k % 253),
            subnets: vec![format!("{subnet}/29")],
            mac: Some(format!("02:42:c6:12:{high:02x}:{low:02x}")),
        });
    }
    table.nodes = nodes;
    let json = serde_json::to_vec_pretty(&table).map_err(|e| format!("peers.json: {e}"))?;
    fs::write(into.join("peers.json"), json).map_err(|e| format!("peers.json: {e}"))
}

fn read_program(dir: &Path) -> Result<(Program, PeerTable)> {
    let read = |path: PathBuf| fs::read(&path).map_err(|e| format!("{}: {e}", path.display()));
    let program: Program = serde_json::from_slice(&read(dir.join("nodes").join(NODE).join("program.json"))?)
        .map_err(|e| format!("program.json: {e}"))?;
    let peers: PeerTable =
        serde_json::from_slice(&read(dir.join("peers.json"))?).map_err(|e| format!("peers.json: {e}"))?;
    Ok((program, peers))
}

/// Empty stand-ins, under the temporary root, for the CNI plugins node a-1's
/// conflist calls (`netc apply` refuses to run without them).
fn stub_cni_plugins(program: &Program, root: &Path) -> Result<()> {
    for operation in &program.operations {
        if let Operation::CniPlugins { dir, plugins, .. } = operation {
            let bin = root.join(dir.trim_start_matches('/'));
            fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
            for plugin in plugins {
                let path = bin.join(plugin);
                fs::write(&path, "#!/bin/sh\n").map_err(|e| format!("{plugin}: {e}"))?;
                // host.sh checks that each is executable.
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).map_err(|e| format!("{plugin}: {e}"))?;
            }
        }
    }
    Ok(())
}

/// Which `netc` subcommand, measured how.
#[derive(Clone, Copy, PartialEq)]
enum Run {
    Apply,
    Plan,
}

/// `netc COMMAND --node a-1 --from DIR --netns NS ...`; its wall time and,
/// with `/usr/bin/time`, its peak resident memory in KiB. Fails unless it
/// exits 0 and its summary says `expect` (e.g. `0 to create`).
/// The result of one `netc` run.
struct Ran {
    elapsed: Duration,
    /// The last line of its standard output (the summary).
    summary: String,
    peak_rss_kib: Option<u64>,
}

fn netc(run: Run, from: &Path, ns: &str, scratch: &Path, expect: &str, rss: bool) -> Result<Ran> {
    let command = match run {
        Run::Apply => "apply",
        Run::Plan => "plan",
    };
    let rss_file = scratch.join("rss");
    let mut process = if rss {
        let mut time = Command::new("/usr/bin/time");
        time.args(["-f", "%M", "-o"])
            .arg(&rss_file)
            .arg(env!("CARGO_BIN_EXE_netc"));
        time
    } else {
        Command::new(env!("CARGO_BIN_EXE_netc"))
    };
    process
        .args([command, "--node", NODE, "--from"])
        .arg(from)
        .args(["--netns", ns, "--root"])
        .arg(scratch.join("root"))
        .arg("--state-dir")
        .arg(scratch.join("state"))
        .stdin(Stdio::null());
    let start = Instant::now();
    let output = process.output().map_err(|e| format!("running netc {command}: {e}"))?;
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout.lines().rev().take(2).collect::<Vec<_>>().join(" / ");
    if !output.status.success() || !summary.contains(expect) {
        return Err(format!(
            "netc {command} (expected `{expect}`): {:?}, {summary}\n{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let peak = if rss {
        let text = fs::read_to_string(&rss_file).map_err(|e| format!("{}: {e}", rss_file.display()))?;
        Some(
            text.trim()
                .parse()
                .map_err(|e| format!("/usr/bin/time printed `{text}`: {e}"))?,
        )
    } else {
        None
    };
    Ok(Ran {
        elapsed,
        summary: stdout.lines().last().unwrap_or_default().to_owned(),
        peak_rss_kib: peak,
    })
}

/// Node a-1's own `host.sh` from `compiled` (bash forking `ip -batch`,
/// `bridge -batch`, jq, sysctl and iptables) into a fresh namespace, its
/// files under a temporary root (`NETC_ROOT`): the wall time of each of
/// `RUNS` runs' median, and how many netc routes it left.
fn host_sh(compiled: &Path) -> Result<(Duration, usize)> {
    let (program, _) = read_program(compiled)?;
    let script = compiled.join("nodes").join(NODE).join("host.sh");
    let mut times = Vec::new();
    let mut routes = 0;
    let start = Instant::now();
    for _ in 0..RUNS {
        let namespace = Namespace::new(NODE_ADDRESS)?;
        let scratch = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let root = scratch.path().join("root");
        stub_cni_plugins(&program, &root)?;
        let begin = Instant::now();
        let output = Command::new("ip")
            .args(["netns", "exec", &namespace.name, "bash"])
            .arg(&script)
            .env("NETC_ROOT", &root)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {}: {e}", script.display()))?;
        times.push(begin.elapsed());
        if !output.status.success() {
            return Err(format!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        routes = namespace.gateway_routes()?;
        check_phase(start, "host.sh")?;
    }
    Ok((median(times), routes))
}

/// Figures of the binary for one compiled directory.
struct BinaryFigures {
    apply: Duration,
    noop_plan: Duration,
    noop_apply: Duration,
    routes: usize,
    peak_rss_kib: Option<u64>,
    /// `Applied: ...` of an apply from nothing.
    summary: String,
}

/// `netc apply` into fresh namespaces (`RUNS` times, plus one under
/// `/usr/bin/time` if it exists), then no-op `plan` and `apply` in the last.
fn binary(from: &Path, measure_rss: bool) -> Result<BinaryFigures> {
    let (program, _) = read_program(from)?;
    let mut applies = Vec::new();
    let (mut routes, mut summary) = (0, String::new());
    let (mut noop_plans, mut noop_applies) = (Vec::new(), Vec::new());
    let mut peak_rss_kib = None;
    let start = Instant::now();
    for run in 0..=RUNS {
        // The extra last run is the one under `/usr/bin/time`; without it,
        // its time is just one more sample.
        let rss = measure_rss && run == RUNS;
        let namespace = Namespace::new(NODE_ADDRESS)?;
        let scratch = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        stub_cni_plugins(&program, &scratch.path().join("root"))?;
        let ran = netc(Run::Apply, from, &namespace.name, scratch.path(), "Applied: ", rss)?;
        if rss {
            peak_rss_kib = ran.peak_rss_kib;
        } else {
            applies.push(ran.elapsed);
        }
        summary = ran.summary;
        routes = namespace.netc_routes()?;
        if run == RUNS {
            let (ns, scratch) = (namespace.name.as_str(), scratch.path());
            for _ in 0..RUNS {
                noop_plans.push(netc(Run::Plan, from, ns, scratch, "Plan: 0 to create, 0 to update", false)?.elapsed);
                let noop = netc(Run::Apply, from, ns, scratch, "Applied: 0 created, 0 updated", false)?;
                noop_applies.push(noop.elapsed);
                check_phase(start, "netc apply")?;
            }
        }
        check_phase(start, "netc apply")?;
    }
    Ok(BinaryFigures {
        apply: median(applies),
        noop_plan: median(noop_plans),
        noop_apply: median(noop_applies),
        routes,
        peak_rss_kib,
        summary,
    })
}

fn run() -> Result<()> {
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let iproute = ip(&["-V"])?;
    println!(
        "netc runtime benchmarks: kernel {}, {cores} cores, {}",
        kernel.trim(),
        iproute.trim()
    );
    println!("median of {RUNS} runs unless noted; every run in a fresh namespace");
    let scratch = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;

    // 1 and 4: the library, pipelined and one request at a time.
    let desired = route_objects();
    library_run(&desired, Send::Pipelined)?; // warm up
    let (mut applies, mut reconciles, mut one_by_one) = (Vec::new(), Vec::new(), Vec::new());
    let start = Instant::now();
    for _ in 0..RUNS {
        let (applied, reconciled) = library_run(&desired, Send::Pipelined)?;
        applies.push(applied);
        reconciles.push(reconciled);
        one_by_one.push(library_run(&desired, Send::OneByOne)?.0);
        check_phase(start, "the library runs")?;
    }
    let library_apply = median(applies);
    let library_one_by_one = median(one_by_one);
    let library_noop = median(reconciles);
    let library_rss = own_peak_rss_kib();

    // 2: ip -batch.
    let batch_file = scratch.path().join("routes.batch");
    let batch: String = (0..ROUTES).map(|i| route_add_args(i).join(" ") + "\n").collect();
    fs::write(&batch_file, batch).map_err(|e| format!("{}: {e}", batch_file.display()))?;
    batch_run(&batch_file)?; // warm up
    let start = Instant::now();
    let mut batches = Vec::new();
    for _ in 0..RUNS {
        batches.push(batch_run(&batch_file)?);
        check_phase(start, "ip -batch")?;
    }
    let ip_batch = median(batches);

    // 3: one process per route.
    let processes = median((0..PROCESS_RUNS).map(|_| processes_run()).collect::<Result<Vec<_>>>()?);

    println!();
    println!("apply {ROUTES} routes into a fresh namespace:");
    println!(
        "  netc library, pipelined (Netlink::apply_all)       {:>10}",
        ms(library_apply)
    );
    println!(
        "  netc library, one request at a time (apply)        {:>10}",
        ms(library_one_by_one)
    );
    println!(
        "  ip -batch (one process)                            {:>10}",
        ms(ip_batch)
    );
    println!(
        "  ip route add, one process per route ({PROCESS_RUNS} runs)     {:>10}",
        ms(processes)
    );
    let batch_ratio = library_apply.as_secs_f64() / ip_batch.as_secs_f64();
    let process_ratio = processes.as_secs_f64() / library_apply.as_secs_f64();
    println!(
        "  netc pipelined / ip -batch = {batch_ratio:.2} (target at most 0.7): {}",
        verdict(batch_ratio <= 0.7)
    );
    println!(
        "  one process per route / netc = {process_ratio:.1} (target at least 10): {}",
        verdict(process_ratio >= 10.0)
    );
    println!();
    println!("no-op reconcile with the {ROUTES} routes present:");
    println!(
        "  observe + plan (library)   {:>10} (target under 100 ms): {}",
        ms(library_noop),
        verdict(library_noop < Duration::from_millis(100))
    );

    // 5 and 6: the binary.
    let topology_file = scratch.path().join("bench.netc");
    fs::write(&topology_file, topology()).map_err(|e| format!("{}: {e}", topology_file.display()))?;
    let compiled = scratch.path().join("compiled");
    let output = Command::new(env!("CARGO_BIN_EXE_netc"))
        .arg("compile")
        .arg(&topology_file)
        .arg("-o")
        .arg(&compiled)
        .output()
        .map_err(|e| format!("netc compile: {e}"))?;
    if !output.status.success() {
        return Err(format!("netc compile: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let synthetic_dir = scratch.path().join("synthetic");
    synthetic(&compiled, &synthetic_dir)?;
    let measure_rss = Path::new("/usr/bin/time").exists();
    let mut rows = Vec::new();
    for (label, dir, peers) in [
        ("static vxlan, 506 nodes (505 peers)", compiled.clone(), 505),
        (
            "synthetic peer table, 5,000 peers",
            synthetic_dir.clone(),
            SYNTHETIC_PEERS as usize,
        ),
    ] {
        let figures = binary(&dir, measure_rss)?;
        if figures.routes != peers {
            return Err(format!("{label}: {} routes after apply, not {peers}", figures.routes));
        }
        rows.push((label, peers, figures));
    }
    println!();
    println!("`netc apply` of node a-1 from a compiled directory (whole process, fresh namespace):");
    for (label, peers, figures) in &rows {
        println!("  {label}: {} routes, neighbours and FDB entries", 3 * peers);
        println!("    {}", figures.summary);
        println!("    apply from nothing        {:>10}", ms(figures.apply));
        println!("    no-op `netc plan`         {:>10}", ms(figures.noop_plan));
        println!("    no-op `netc apply`        {:>10}", ms(figures.noop_apply));
    }
    // The same node's generated host.sh, side by side with the first row.
    let (host_sh_time, host_sh_routes) = host_sh(&compiled)?;
    if host_sh_routes != rows[0].1 {
        return Err(format!("host.sh left {host_sh_routes} routes, not {}", rows[0].1));
    }
    let ratio = rows[0].2.apply.as_secs_f64() / host_sh_time.as_secs_f64();
    println!("  the same node's host.sh (bash, ip -batch, bridge -batch, jq), static vxlan:");
    println!("    apply from nothing        {:>10}", ms(host_sh_time));
    println!(
        "    netc apply / host.sh = {ratio:.2} (target at most 0.5): {}",
        verdict(ratio <= 0.5)
    );

    println!();
    println!("peak resident memory (target under 50 MB):");
    match library_rss {
        Some(kib) => println!(
            "  this bench process after the library runs   {:>7.1} MiB: {}",
            kib as f64 / 1024.0,
            verdict(kib * 1024 < 50_000_000)
        ),
        None => println!("  this bench process: /proc/self/status has no VmHWM"),
    }
    for (label, _, figures) in &rows {
        match figures.peak_rss_kib {
            Some(kib) => println!(
                "  `netc apply`, {label}   {:>7.1} MiB: {}",
                kib as f64 / 1024.0,
                verdict(kib * 1024 < 50_000_000)
            ),
            None => println!("  `netc apply`, {label}: not measured (no /usr/bin/time)"),
        }
    }
    Ok(())
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is configurable.
    let root = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let ids = status.lines().find_map(|l| l.strip_prefix("Uid:"))?.to_owned();
            ids.split_whitespace().nth(1).map(|uid| uid == "0")
        })
        .unwrap_or(false);
    if !root {
        println!("skipped: the apply benchmark creates network namespaces and needs root");
        return;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        println!("skipped: no `ip` command (iproute2)");
        return;
    }
    if let Err(message) = run() {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
