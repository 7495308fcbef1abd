//! Benchmark: compile (check + emit + schema validation) generated 500- and
//! 5,000-node topologies, in two shapes: flannel vxlan with 10% Windows
//! nodes, and the static vxlan dataplane (where every node's program refers
//! to the shared peer table). Prints the median wall time, the total output
//! bytes and their 5,000/500 ratio (at most 11 keeps output linear), and the
//! process's peak resident memory.
//!
//! Run with `cargo bench -p netc-compiler --bench compile`.

#![allow(clippy::disallowed_methods)] // a benchmark reads the clock by design

use std::fmt::Write;
use std::hint::black_box;
use std::time::{Duration, Instant};

use netc_compiler::diagnostic::SourceFile;
use netc_compiler::model::Lock;

#[derive(Clone, Copy)]
enum Shape {
    FlannelMixed,
    StaticVxlan,
}

fn topology(shape: Shape, nodes: usize) -> String {
    let dataplane = match shape {
        Shape::FlannelMixed => "flannel",
        Shape::StaticVxlan => "static",
    };
    let mut text = format!(
        "cluster bench {{\n  pod-network 10.0.0.0/8\n  service-network 172.31.0.0/16\n  kubernetes 1.30\n  dataplane {dataplane}\n  backend vxlan {{\n    vni 4096\n    port 4789\n  }}\n}}\n"
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
        let windows = matches!(shape, Shape::FlannelMixed) && i % 10 == 9;
        let os = if windows { "windows\n  build 20348" } else { "linux" };
        let role = if i == 0 { "control-plane" } else { "worker" };
        let _ = write!(
            text,
            "\nnode node-{i} {{\n  os {os}\n  role {role}\n  address 172.16.{rack}.{host}\n}}\n"
        );
    }
    text
}

/// Peak resident set size of this process so far, from /proc (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn measure(shape: Shape, nodes: usize) -> (Duration, usize) {
    let source = SourceFile::new("bench.netc", topology(shape, nodes));
    let mut bytes = 0;
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            let compilation = netc_compiler::compile(black_box(&source), &Lock::default());
            let elapsed = start.elapsed();
            let artifacts = compilation.artifacts.expect("the generated topology compiles");
            bytes = artifacts.files.values().map(Vec::len).sum();
            black_box(artifacts);
            elapsed
        })
        .collect();
    times.sort();
    (times[2], bytes)
}

fn main() {
    for (shape, label) in [
        (Shape::FlannelMixed, "flannel vxlan, 10% Windows"),
        (Shape::StaticVxlan, "static vxlan"),
    ] {
        let (small_time, small_bytes) = measure(shape, 500);
        let (large_time, large_bytes) = measure(shape, 5_000);
        println!("{label}:");
        println!(
            "  compile   500 nodes: median {:>8.1} ms, output {:>10} bytes",
            small_time.as_secs_f64() * 1e3,
            small_bytes
        );
        println!(
            "  compile  5000 nodes: median {:>8.1} ms, output {:>10} bytes",
            large_time.as_secs_f64() * 1e3,
            large_bytes
        );
        println!(
            "  output ratio 5000/500: {:.2} (at most 11)",
            large_bytes as f64 / small_bytes as f64
        );
    }
    match peak_rss_mib() {
        Some(mib) => println!("peak resident memory of the whole run: {mib:.0} MiB"),
        None => println!("peak resident memory: not available on this system"),
    }
}
