//! Benchmark: parse + resolve + check generated topologies of 500 and 5,000
//! nodes (Kubernetes' largest supported cluster), each node written as its own
//! `node` block (the slowest form to parse), mixed Linux/Windows on 200
//! segments. Prints the median of several runs and the 5,000/500 ratio, which
//! should be close to 10 (linear growth).
//!
//! Run with `cargo bench -p netc-compiler --bench check`.

#![allow(clippy::disallowed_methods)] // a benchmark reads the clock by design

use std::fmt::Write;
use std::hint::black_box;
use std::time::{Duration, Instant};

use netc_compiler::diagnostic::SourceFile;

/// A valid mixed vxlan topology with `nodes` nodes on 200 segments.
fn topology(nodes: usize) -> String {
    let mut text = String::from(
        "cluster bench {\n  pod-network 10.0.0.0/8\n  service-network 172.31.0.0/16\n  node-subnet-len 24\n  kubernetes 1.30\n  backend vxlan {\n    vni 4096\n    port 4789\n  }\n}\n",
    );
    let racks = 200;
    for rack in 0..racks {
        let _ = write!(
            text,
            "\nsegment rack-{rack} {{\n  prefix 172.16.{rack}.0/24\n  gateway 172.16.{rack}.1\n}}\n"
        );
    }
    for i in 0..nodes {
        let (rack, host) = (i % racks, 10 + i / racks);
        let os = if i % 10 == 9 { "windows\n  build 20348" } else { "linux" };
        let role = if i == 0 { "control-plane" } else { "worker" };
        let _ = write!(
            text,
            "\nnode node-{i} {{\n  os {os}\n  arch amd64\n  role {role}\n  address 172.16.{rack}.{host}\n}}\n"
        );
    }
    text
}

fn median_time(source: &SourceFile, runs: usize) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let analysis = netc_compiler::analyze(black_box(source));
            let elapsed = start.elapsed();
            assert!(analysis.diagnostics.is_empty(), "the generated topology must be clean");
            black_box(analysis);
            elapsed
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is configurable.
    let mut results = Vec::new();
    for nodes in [500, 5_000] {
        let source = SourceFile::new("bench.netc", topology(nodes));
        let _ = median_time(&source, 2); // warm up
        let median = median_time(&source, 15);
        println!(
            "parse+check {nodes:>5} nodes ({:>7} bytes): median {:>8.2} ms",
            source.text().len(),
            median.as_secs_f64() * 1e3
        );
        results.push(median);
    }
    println!(
        "ratio 5000/500: {:.1} (10.0 is linear)",
        results[1].as_secs_f64() / results[0].as_secs_f64()
    );
}
