//! The agent's `/metrics` (Prometheus text format 0.0.4) and `/healthz`,
//! served on a loopback address by default, from a plain thread: one
//! request per connection, nothing else is needed.
//!
//! `/healthz` answers 200 while the reconcile loop has completed a round
//! recently (within three intervals plus the current backoff), else 503:
//! a stuck agent is visible to the kubelet's liveness probe.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counters and gauges the loop updates and the server reads.
#[derive(Default)]
pub struct Metrics {
    pub reconciles: AtomicU64,
    pub applies: AtomicU64,
    pub failures: AtomicU64,
    pub drift_corrections: AtomicU64,
    pub fetch_failures: AtomicU64,
    /// The last applied revision and when (Unix seconds).
    pub last_applied: Mutex<Option<(String, u64)>>,
    /// When a round last completed, and how long a healthy gap may be.
    pub heartbeat: Mutex<Option<(Instant, Duration)>>,
}

impl Metrics {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A round completed; the next is due within `allowed`.
    pub fn beat(&self, allowed: Duration) {
        if let Ok(mut heartbeat) = self.heartbeat.lock() {
            *heartbeat = Some((Instant::now(), allowed));
        }
    }

    pub fn healthy(&self) -> bool {
        match self.heartbeat.lock().ok().and_then(|h| *h) {
            Some((at, allowed)) => at.elapsed() <= allowed,
            None => false,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = [
            (
                "netc_reconciles_total",
                "Reconcile rounds (fetch, then apply or drift check).",
                &self.reconciles,
            ),
            (
                "netc_applies_total",
                "New revisions applied successfully.",
                &self.applies,
            ),
            (
                "netc_apply_failures_total",
                "Applies that failed and were undone.",
                &self.failures,
            ),
            (
                "netc_drift_corrections_total",
                "Rounds that found drift and corrected it.",
                &self.drift_corrections,
            ),
            (
                "netc_fetch_failures_total",
                "Fetches that failed (the agent backs off).",
                &self.fetch_failures,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        if let Some((revision, at)) = self.last_applied.lock().ok().and_then(|l| l.clone()) {
            let _ = writeln!(
                out,
                "# HELP netc_last_applied_info The last applied revision.\n# TYPE netc_last_applied_info gauge\nnetc_last_applied_info{{revision=\"{revision}\"}} 1"
            );
            let _ = writeln!(
                out,
                "# HELP netc_last_applied_timestamp_seconds When the last revision was applied.\n# TYPE netc_last_applied_timestamp_seconds gauge\nnetc_last_applied_timestamp_seconds {at}"
            );
        }
        out
    }
}

/// Serve `metrics` on `address` from a background thread; the bound
/// address (the port, when 0 was asked for).
pub fn serve(address: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(address)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new().name("netc-metrics".into()).spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            // The request line, however the client split its writes.
            let mut request = [0u8; 1024];
            let mut read = 0;
            while read < request.len() && !request[..read].contains(&b'\n') {
                match stream.read(&mut request[read..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => read += n,
                }
            }
            let line = String::from_utf8_lossy(&request[..read]);
            let path = line.split_whitespace().nth(1).unwrap_or("");
            let (status, content_type, body) = match path {
                "/metrics" => ("200 OK", "text/plain; version=0.0.4", metrics.render()),
                "/healthz" if metrics.healthy() => ("200 OK", "text/plain", "ok\n".to_owned()),
                "/healthz" => ("503 Service Unavailable", "text/plain", "the reconcile loop is late\n".to_owned()),
                _ => ("404 Not Found", "text/plain", "try /metrics or /healthz\n".to_owned()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    })?;
    Ok(bound)
}
