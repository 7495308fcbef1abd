//! The end-to-end benchmarks: `netc apply` and `netc plan` of a compiled
//! 506-node static-vxlan topology (and of a synthetic 5,000-peer table), and
//! the same node's generated `host.sh`, each into a fresh namespace.

use super::*;

/// The largest static-vxlan topology whose underlay fits the test-safe
/// ranges: 253 nodes on each of 198.51.100.0/24 and 203.0.113.0/24.
pub(super) fn topology() -> String {
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
pub(super) fn synthetic(compiled: &Path, into: &Path) -> Result<()> {
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

pub(super) fn read_program(dir: &Path) -> Result<(Program, PeerTable)> {
    let read = |path: PathBuf| fs::read(&path).map_err(|e| format!("{}: {e}", path.display()));
    let program: Program = serde_json::from_slice(&read(dir.join("nodes").join(NODE).join("program.json"))?)
        .map_err(|e| format!("program.json: {e}"))?;
    let peers: PeerTable =
        serde_json::from_slice(&read(dir.join("peers.json"))?).map_err(|e| format!("peers.json: {e}"))?;
    Ok((program, peers))
}

/// Empty stand-ins, under the temporary root, for the CNI plugins node a-1's
/// conflist calls (`netc apply` refuses to run without them).
pub(super) fn stub_cni_plugins(program: &Program, root: &Path) -> Result<()> {
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
pub(super) enum Run {
    Apply,
    Plan,
}

/// `netc COMMAND --node a-1 --from DIR --netns NS ...`; its wall time and,
/// with `/usr/bin/time`, its peak resident memory in KiB. Fails unless it
/// exits 0 and its summary says `expect` (e.g. `0 to create`).
/// The result of one `netc` run.
pub(super) struct Ran {
    pub(super) elapsed: Duration,
    /// The last line of its standard output (the summary).
    pub(super) summary: String,
    pub(super) peak_rss_kib: Option<u64>,
}

pub(super) fn netc(run: Run, from: &Path, ns: &str, scratch: &Path, expect: &str, rss: bool) -> Result<Ran> {
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
pub(super) fn host_sh(compiled: &Path) -> Result<(Duration, usize)> {
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
pub(super) struct BinaryFigures {
    pub(super) apply: Duration,
    pub(super) noop_plan: Duration,
    pub(super) noop_apply: Duration,
    pub(super) routes: usize,
    pub(super) peak_rss_kib: Option<u64>,
    /// `Applied: ...` of an apply from nothing.
    pub(super) summary: String,
}

/// `netc apply` into fresh namespaces (`RUNS` times, plus one under
/// `/usr/bin/time` if it exists), then no-op `plan` and `apply` in the last.
pub(super) fn binary(from: &Path, measure_rss: bool) -> Result<BinaryFigures> {
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
