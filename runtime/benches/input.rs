//! Benchmark: what input that is not a topology costs `netc check`, the
//! figures behind the input limit (`--max-input-size`, 8 MiB by default)
//! and the error limit (`--error-limit`, 100): peak resident memory (the
//! kernel's `ru_maxrss` of the child, through `/usr/bin/time -f %M`), wall
//! time and the size of the report, for random base64 (one error per line)
//! of 1, 4 and 8 MiB, and for a file over the limit, which is refused
//! before it is read.
//!
//! Run with `cargo bench -p netc --bench input`; it prints a table. Without
//! `/usr/bin/time` it says so and exits 0.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Deterministic "random" base64 lines (xorshift), `bytes` long.
fn noise(bytes: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(bytes);
    while out.len() < bytes {
        if out.len() % 77 == 76 {
            out.push(b'\n');
            continue;
        }
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push(ALPHABET[(state % 64) as usize]);
    }
    out
}

fn main() {
    if !Path::new("/usr/bin/time").exists() {
        println!("skipped: /usr/bin/time (Debian: time) measures the child's peak memory");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    println!("| input | peak RSS | RSS / input | time | report (bytes) |");
    println!("|---|---|---|---|---|");
    for mib in [1usize, 4, 8, 9] {
        let bytes = mib << 20;
        // 9 MiB stands for any file over the 8 MiB limit.
        let path = dir.path().join(format!("noise-{mib}.netc"));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&noise(bytes - 1))
            .unwrap();
        let start = Instant::now();
        let output = Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(env!("CARGO_BIN_EXE_netc"))
            .arg("check")
            .arg(&path)
            .output()
            .unwrap();
        let took = start.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let rss_kib: u64 = stderr.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
        let rss_mib = rss_kib as f64 / 1024.0;
        println!(
            "| {mib} MiB{} | {rss_mib:.0} MiB | {:.1}x | {:.2} s | {} |",
            if mib > 8 { " (over the limit: refused)" } else { "" },
            rss_mib / mib as f64,
            took.as_secs_f64(),
            output.stdout.len()
        );
    }
}
