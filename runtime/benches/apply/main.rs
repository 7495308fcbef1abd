//! Benchmark: how fast the node runtime applies and re-checks routes, against
//! iproute2 and the generated `host.sh` doing the same, and how much memory
//! it needs.
//!
//! Measured, each in fresh network namespaces, median of several runs:
//! 1. 5,000 peer routes (`198.18.x.y/30 via 198.18.x.y dev d0 onlink proto
//!    211`) applied through the library: `engine::plan` from nothing, then
//!    `Netlink::apply_all` (pipelined) and, for comparison, `Netlink::apply`
//!    per step (connection set-up included).
//! 2. The same 5,000 routes with one `ip -n NS -batch FILE`; then 1 and 2
//!    again with one gateway shared by every route, where the kernel's
//!    work per route is small and the client's own cost shows.
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

mod binary;
mod routes;

use binary::*;
use routes::*;

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
    let desired = route_objects(Gateways::PerRoute);
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
    let routes_file = batch_file(scratch.path(), "routes.batch", ROUTES, Gateways::PerRoute)?;
    batch_run(&routes_file, ROUTES)?; // warm up
    let start = Instant::now();
    let mut batches = Vec::new();
    for _ in 0..RUNS {
        batches.push(batch_run(&routes_file, ROUTES)?);
        check_phase(start, "ip -batch")?;
    }
    let ip_batch = median(batches);

    // The kernel's share, and how it grows: ip -batch with a quarter and a
    // half of the routes.
    let mut scaling = Vec::new();
    let start = Instant::now();
    for count in [ROUTES / 4, ROUTES / 2] {
        let file = batch_file(
            scratch.path(),
            &format!("routes-{count}.batch"),
            count,
            Gateways::PerRoute,
        )?;
        let runs = (0..RUNS).map(|_| batch_run(&file, count)).collect::<Result<Vec<_>>>()?;
        scaling.push((count, median(runs)));
        check_phase(start, "ip -batch scaling")?;
    }
    scaling.push((ROUTES, ip_batch));

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
    println!("ip -batch, each route via its own gateway on one device (what the kernel costs):");
    for (count, took) in &scaling {
        println!(
            "  {count:>5} routes {:>10}  {:>6.1} µs per route",
            ms(*took),
            took.as_secs_f64() * 1e6 / *count as f64
        );
    }
    // The same comparison where the kernel's work is small.
    let shared = route_objects(Gateways::Shared);
    let shared_file = batch_file(scratch.path(), "shared.batch", ROUTES, Gateways::Shared)?;
    let (mut shared_library, mut shared_batch) = (Vec::new(), Vec::new());
    let start = Instant::now();
    for _ in 0..RUNS {
        shared_library.push(library_run(&shared, Send::Pipelined)?.0);
        shared_batch.push(batch_run(&shared_file, ROUTES)?);
        check_phase(start, "routes via one gateway")?;
    }
    let (shared_library, shared_batch) = (median(shared_library), median(shared_batch));
    println!();
    println!("the same {ROUTES} routes via one shared gateway (little kernel work per route):");
    println!(
        "  netc library, pipelined (Netlink::apply_all)       {:>10}",
        ms(shared_library)
    );
    println!(
        "  ip -batch (one process)                            {:>10}",
        ms(shared_batch)
    );
    println!(
        "  netc pipelined / ip -batch = {:.2}",
        shared_library.as_secs_f64() / shared_batch.as_secs_f64()
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
