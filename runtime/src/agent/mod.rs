//! The git-watched node agent (`netc agent`): from a commit to this node.
//!
//! Every round (every `interval`, with ±10 % jitter so a fleet does not
//! poll in step; after a failed fetch the wait doubles, up to ten intervals):
//!
//! 1. fetch the branch (`source`). Unreachable: count it, back off, and
//!    still correct drift from the last good program.
//! 2. a commit not judged before is attempted:
//!    - refused when it does not descend from the last applied commit
//!      (anti-rollback: a force-push that rewinds history, or an old
//!      commit), unless `--allow-rollback`;
//!    - refused when signatures are required (`verify`) and it is not
//!      signed by an allowed key;
//!    - invalid when it has no topology at the path, does not compile, or
//!      does not name this node: never applied, the last good program stays;
//!    - held when the change needs cluster downtime (a `downtime`
//!      disruption of `netc_compiler::preview`, e.g. a new pod network or
//!      backend) unless `--allow-disruption` or the commit message has the
//!      trailer `Netc-Allow-Disruption: yes`;
//!    - otherwise applied with the same transaction as `netc apply`
//!      (`node::Session`); a failed apply is undone and retried next round.
//! 3. otherwise (nothing new): re-observe and correct drift from the last
//!    good program in the state directory.
//!
//! Every outcome is recorded in `agent-status.json` (`status`) and counted
//! in `/metrics` (`metrics`); logs go through `tracing`.

pub mod metrics;
pub mod source;
pub mod ssh;
pub mod status;
pub mod verify;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use netc_compiler::diagnostic::SourceFile;
use netc_compiler::model::Lock;
use netc_compiler::preview::{self, Class, Side};
use tracing::{info, warn};

use crate::node;
#[cfg(target_os = "linux")]
use crate::node::Session;
use crate::state;
use metrics::Metrics;
use source::{Snapshot, Source, SourceError};
use status::{Attempt, Status};

/// The commit trailer that allows a downtime-class change.
pub const ALLOW_DISRUPTION_TRAILER: &str = "Netc-Allow-Disruption";

/// Everything `netc agent` is told.
#[derive(Clone, Debug)]
pub struct Config {
    /// The remote: a URL (`git://`, `https://`, `ssh://`, `file://`) or a path.
    pub repo: String,
    pub branch: String,
    /// The topology's path in the repository.
    pub path: String,
    pub target: node::Target,
    pub interval: Duration,
    pub allow_disruption: bool,
    pub allow_rollback: bool,
    pub keys: verify::Keys,
    /// The key and known_hosts for an `ssh://` repository.
    pub ssh: Option<ssh::SshAuth>,
    /// Where `/metrics` and `/healthz` are served; `None`: not at all.
    pub listen: Option<SocketAddr>,
    pub kubernetes: Kubernetes,
}

/// Whether and how the agent reports to the Kubernetes API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kubernetes {
    /// Never.
    Off,
    /// With the in-cluster service account when running in a pod
    /// (`KUBERNETES_SERVICE_HOST` is set), else not at all.
    InCluster,
    /// With this kubeconfig.
    Kubeconfig(PathBuf),
}

/// A Kubernetes client and the runtime its calls run on.
struct KubeLink {
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
}

/// What one round did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// Nothing new, no drift.
    Unchanged,
    /// A new revision was applied.
    Applied,
    /// Nothing new; drift was found and corrected.
    DriftCorrected,
    /// The new revision was not applied (see the status): invalid, refused
    /// or held; the last good program stays in force.
    NotApplied(status::Result),
    /// The remote could not be reached.
    Unreachable,
    /// Something else went wrong (see the status's last error).
    Error,
}

impl Round {
    /// Whether the host is where it should be after this round.
    pub fn ok(self) -> bool {
        matches!(self, Round::Unchanged | Round::Applied | Round::DriftCorrected)
    }
}

pub struct Agent {
    config: Config,
    source: Source,
    status: Status,
    metrics: Arc<Metrics>,
    /// Consecutive failed fetches (for the backoff).
    failed_fetches: u32,
    /// The commit this process already judged invalid, refused or held:
    /// not attempted again until the branch moves (a restarted agent, which
    /// may have other flags or keys, judges it afresh).
    judged: Option<String>,
    random: u64,
    kube: Option<KubeLink>,
    /// This node's pod subnets in the last applied revision.
    compiled_cidrs: Vec<String>,
    /// The annotations last written on the Node (revision, state,
    /// message): an unchanged round patches nothing, so a fleet polling
    /// every interval does not write to the API server every interval.
    reported: Option<[String; 3]>,
    /// The status as last written to the state directory, likewise.
    saved: Option<Status>,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Agent {
    pub fn new(config: Config) -> Result<Agent, String> {
        std::fs::create_dir_all(&config.target.state_dir)
            .map_err(|e| format!("cannot create `{}`: {e}", config.target.state_dir.display()))?;
        // A status file that cannot be parsed (truncated, garbled) must not
        // keep the agent from starting: it starts afresh, keeps the bytes
        // and says so; the next save writes a whole file again.
        let status_path = Status::path(&config.target.state_dir);
        let mut status = match Status::read(&config.target.state_dir) {
            Ok(status) => status,
            Err(problem) if status_path.is_file() => {
                state::keep_unreadable(&status_path);
                warn!(%problem, "agent status unreadable: starting afresh");
                Status {
                    last_error: Some(format!(
                        "{problem}; started afresh (the old bytes are kept as `{}`)",
                        state::unreadable_copy(&status_path).display()
                    )),
                    ..Status::default()
                }
            }
            Err(problem) => return Err(problem),
        };
        status.node.clone_from(&config.target.node);
        let metrics = Arc::new(Metrics::default());
        if let Some(Attempt { revision, at, .. }) = &status.last_applied {
            if let Ok(mut last) = metrics.last_applied.lock() {
                *last = Some((revision.clone(), *at));
            }
        }
        let seed = u64::from(std::process::id())
            ^ SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.subsec_nanos().into())
            | 1;
        Ok(Agent {
            source: Source::new(&config.repo, &config.branch, &config.target.state_dir).with_ssh(config.ssh.clone()),
            config,
            status,
            metrics,
            failed_fetches: 0,
            judged: None,
            random: seed,
            kube: None,
            compiled_cidrs: Vec::new(),
            reported: None,
            saved: None,
        })
    }

    /// Report to the API through `client` (tests pass kube-rs's mock).
    pub fn with_client(mut self, client: kube::Client) -> Result<Agent, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        self.kube = Some(KubeLink { runtime, client });
        Ok(self)
    }

    /// Connect to the API as configured, if not connected yet; a failure is
    /// logged and retried next round.
    fn connect(&mut self) {
        if self.kube.is_some() {
            return;
        }
        let kubeconfig = match &self.config.kubernetes {
            Kubernetes::Off => return,
            Kubernetes::InCluster if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() => return,
            Kubernetes::InCluster => None,
            Kubernetes::Kubeconfig(path) => Some(path.clone()),
        };
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => return warn!(error = %e, "cannot start the async runtime"),
        };
        match runtime.block_on(crate::cluster::client(kubeconfig.as_deref())) {
            Ok(client) => self.kube = Some(KubeLink { runtime, client }),
            Err(e) => warn!(error = %e, "cannot reach the Kubernetes API; retrying next round"),
        }
    }

    /// Annotate this node with the round's outcome; after a new apply,
    /// compare Kubernetes' pod CIDRs with the compiled ones.
    fn report(&mut self, round: Round) {
        self.connect();
        let Some(link) = &self.kube else {
            return;
        };
        let node = self.config.target.node.clone();
        let state = match round {
            Round::Unchanged => "in-sync",
            Round::Applied => "applied",
            Round::DriftCorrected => "drift-corrected",
            Round::NotApplied(result) => result.as_str(),
            Round::Unreachable => "source-unreachable",
            Round::Error => "error",
        };
        let revision = self
            .status
            .last_applied
            .as_ref()
            .map(|a| a.revision.clone())
            .unwrap_or_default();
        let message = match round {
            Round::NotApplied(_) => self.status.last_attempted.as_ref().map(|a| a.message.clone()),
            Round::Unreachable | Round::Error => self.status.last_error.clone(),
            _ => self.status.last_applied.as_ref().map(|a| a.message.clone()),
        }
        .unwrap_or_default();
        let report = [revision, state.to_owned(), message];
        if self.reported.as_ref() != Some(&report) {
            let [revision, state, message] = &report;
            match link.runtime.block_on(crate::cluster::annotate_node(
                &link.client,
                &node,
                revision,
                state,
                message,
            )) {
                Ok(()) => self.reported = Some(report),
                Err(e) => warn!(error = %e, "cannot annotate the node"),
            }
        }
        if round == Round::Applied {
            match link
                .runtime
                .block_on(crate::cluster::node_pod_cidrs(&link.client, &node))
            {
                Ok(assigned) => {
                    let warning = crate::cluster::pod_cidr_mismatch(&node, &assigned, &self.compiled_cidrs);
                    if let Some(warning) = &warning {
                        warn!(%warning, "pod CIDR mismatch");
                    }
                    self.status.pod_cidr_warning = warning;
                }
                Err(e) => warn!(error = %e, "cannot read the node's pod CIDR"),
            }
            self.save();
        }
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Run rounds forever (or once), sleeping between them.
    pub fn run(&mut self, once: bool) -> Round {
        if let Some(address) = self.config.listen {
            match metrics::serve(address, self.metrics()) {
                Ok(bound) => info!(%bound, "serving /metrics and /healthz"),
                Err(e) => warn!(%address, error = %e, "cannot serve /metrics and /healthz"),
            }
        }
        loop {
            let round = self.round();
            if once {
                return round;
            }
            let delay = self.delay(round);
            self.metrics.beat(delay * 3 + self.config.interval);
            std::thread::sleep(delay);
        }
    }

    /// The wait before the next round: the interval with ±10 % jitter, or
    /// after failed fetches twice as long per failure, at most ten intervals.
    fn delay(&mut self, round: Round) -> Duration {
        let base = if round == Round::Unreachable {
            let factor = 1u32 << self.failed_fetches.min(4);
            (self.config.interval * factor).min(self.config.interval * 10)
        } else {
            self.config.interval
        };
        // xorshift64
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        let permille = 900 + (self.random % 201);
        base * u32::try_from(permille).unwrap_or(1000) / 1000
    }

    /// Write the status when it changed since the last write.
    fn save(&mut self) {
        if self.saved.as_ref() == Some(&self.status) {
            return;
        }
        match self.status.write(&self.config.target.state_dir) {
            Ok(()) => self.saved = Some(self.status.clone()),
            Err(e) => warn!(error = %e, "cannot write the agent status"),
        }
    }

    /// One round (module header).
    pub fn round(&mut self) -> Round {
        Metrics::count(&self.metrics.reconciles);
        let head = match self.source.fetch() {
            Ok(head) => {
                self.failed_fetches = 0;
                head
            }
            Err(e) => {
                Metrics::count(&self.metrics.fetch_failures);
                self.failed_fetches += 1;
                warn!(error = %e, failures = self.failed_fetches, "fetch failed; backing off, the last good program stays");
                self.status.last_error = Some(e.to_string());
                let _ = self.correct_drift();
                self.save();
                let round = match e {
                    SourceError::Unreachable(_) => Round::Unreachable,
                    SourceError::Other(_) => Round::Error,
                };
                self.report(round);
                return round;
            }
        };
        self.status.last_error = None;
        let applied = self.status.last_applied.as_ref().map(|a| a.revision.clone());
        let judged = self.judged.as_deref() == Some(head.as_str());
        let round = if applied.as_deref() == Some(head.as_str()) || judged {
            self.correct_drift()
        } else {
            let round = self.attempt(&head, applied.as_deref());
            if let Round::NotApplied(result) = round {
                if result != status::Result::Failed {
                    self.judged = Some(head.clone());
                }
                let _ = self.correct_drift();
            }
            round
        };
        self.save();
        self.report(round);
        round
    }

    fn record(&mut self, revision: &str, result: status::Result, message: String) -> Round {
        match result {
            status::Result::Applied => info!(revision, %message, "applied"),
            _ => warn!(revision, result = result.as_str(), %message, "not applied; the last good program stays"),
        }
        self.status.record(Attempt {
            revision: revision.to_owned(),
            at: now(),
            result,
            message,
        });
        match result {
            status::Result::Applied => Round::Applied,
            other => Round::NotApplied(other),
        }
    }

    fn attempt(&mut self, head: &str, applied: Option<&str>) -> Round {
        use status::Result::{Applied, Failed, Held, Invalid, Refused};
        if let (Some(applied), false) = (applied, self.config.allow_rollback) {
            match self.source.descends_from(head, applied) {
                Ok(true) => {}
                Ok(false) => {
                    return self.record(
                        head,
                        Refused,
                        format!("not a descendant of the last applied revision {applied}: history was rewritten (a force-push) or the branch moved back; pass --allow-rollback to apply it"),
                    )
                }
                Err(e) => return self.record(head, Refused, format!("cannot check the history: {e}")),
            }
        }
        if self.config.keys.required() {
            let signature = match self.source.signature(head) {
                Ok(signature) => signature,
                Err(e) => return self.record(head, Refused, e.to_string()),
            };
            match verify::verify(&self.config.keys, signature.as_ref(), &self.config.target.state_dir) {
                Ok(signer) => info!(revision = head, %signer, "signature verified"),
                Err(why) => return self.record(head, Refused, why),
            }
        }
        let snapshot = match self.source.read(head, &self.config.path) {
            Ok(snapshot) => snapshot,
            Err(e) => return self.record(head, Invalid, e.to_string()),
        };
        let compiled = match compile(&snapshot, &self.config.path) {
            Ok(compiled) => compiled,
            Err(why) => return self.record(head, Invalid, why),
        };
        let files = match compiled.artifacts.as_ref() {
            Some(artifacts) => &artifacts.files,
            None => return self.record(head, Invalid, "does not compile".into()),
        };
        let node = &self.config.target.node;
        let (Some(program), Some(peers)) = (
            files.get(&format!("nodes/{node}/program.json")),
            files.get("peers.json"),
        ) else {
            return self.record(head, Invalid, format!("the topology has no node `{node}`"));
        };
        if let Some(reason) = self.needs_permission(&snapshot, &compiled, applied) {
            return self.record(head, Held, reason);
        }
        match self.apply_program(program, peers, true) {
            Ok(summary) => {
                self.compiled_cidrs = node_subnets(peers, node);
                Metrics::count(&self.metrics.applies);
                if let Ok(mut last) = self.metrics.last_applied.lock() {
                    *last = Some((head.to_owned(), now()));
                }
                self.record(head, Applied, summary.unwrap_or_else(|| "nothing to change".into()))
            }
            Err(message) => {
                Metrics::count(&self.metrics.failures);
                self.record(head, Failed, message)
            }
        }
    }

    /// Why `head` must wait for permission: a downtime-class change against
    /// the last applied revision, without `--allow-disruption` or the trailer.
    fn needs_permission(
        &self,
        head: &Snapshot,
        compiled: &netc_compiler::Compilation,
        applied: Option<&str>,
    ) -> Option<String> {
        if self.config.allow_disruption || allows_disruption(&head.message) {
            return None;
        }
        let base = self.source.read(applied?, &self.config.path).ok()?;
        let base = compile(&base, &self.config.path).ok()?;
        let preview = preview::preview(
            Side {
                topology: base.topology.as_ref(),
                files: base.artifacts.as_ref().map(|a| &a.files),
            },
            Side {
                topology: compiled.topology.as_ref(),
                files: compiled.artifacts.as_ref().map(|a| &a.files),
            },
        );
        let downtime: Vec<String> = preview
            .disruptions
            .iter()
            .filter(|d| d.class == Class::Downtime)
            .map(|d| d.change.clone())
            .collect();
        (!downtime.is_empty()).then(|| {
            format!(
                "needs cluster downtime ({}); held until allowed with --allow-disruption or a `{ALLOW_DISRUPTION_TRAILER}: yes` commit trailer",
                downtime.join("; ")
            )
        })
    }

    /// Re-apply the last good program if the host drifted from it.
    fn correct_drift(&mut self) -> Round {
        let last_good = match state::read_last_good(&self.config.target.state_dir) {
            Ok(Some(pair)) => pair,
            Ok(None) => return Round::Unchanged,
            Err(e) => {
                self.status.last_error = Some(e);
                return Round::Error;
            }
        };
        match self.apply_program(&last_good.0, &last_good.1, false) {
            Ok(None) => Round::Unchanged,
            Ok(Some(summary)) => {
                Metrics::count(&self.metrics.drift_corrections);
                info!(%summary, "drift corrected");
                Round::DriftCorrected
            }
            Err(e) => {
                Metrics::count(&self.metrics.failures);
                warn!(error = %e, "drift correction failed");
                self.status.last_error = Some(format!("drift correction failed: {e}"));
                Round::Error
            }
        }
    }
}

impl Agent {
    /// Apply a program with the driver of its OS: Linux through
    /// `node::Session`, Windows through PowerShell (`windows_node`). What
    /// changed, or `None` when nothing had to; with `record`, the state is
    /// committed also then (a new revision that needs no change).
    fn apply_program(&self, program: &[u8], peers: &[u8], record: bool) -> Result<Option<String>, String> {
        let os: netc_compiler::emit::program::types::ProgramOs = serde_json::from_slice::<serde_json::Value>(program)
            .ok()
            .and_then(|value| serde_json::from_value(value["os"].clone()).ok())
            .ok_or("program.json has no `os`")?;
        match os {
            netc_compiler::emit::program::types::ProgramOs::Windows => crate::windows_node::apply(
                std::path::Path::new(crate::windows_node::POWERSHELL),
                &self.config.target.state_dir,
                program,
                peers,
                record,
            ),
            netc_compiler::emit::program::types::ProgramOs::Linux => self.apply_linux(program, peers, record),
        }
    }

    #[cfg(target_os = "linux")]
    fn apply_linux(&self, program: &[u8], peers: &[u8], record: bool) -> Result<Option<String>, String> {
        let session = Session::new(&self.config.target, program.to_vec(), peers.to_vec())?;
        if let Some(problem) = session.inventory_problem() {
            warn!(%problem, "inventory unreadable: applying without pruning");
        }
        let observed = session.observe()?;
        let plan = session.plan_from(&observed);
        if plan.is_empty() && !record {
            return Ok(None);
        }
        let done = session.apply(&observed, &plan).map_err(|failure| match &failure {
            node::Failure::Step { notes, .. } => format!("{failure} ({})", notes.join("; ")),
            _ => failure.to_string(),
        })?;
        Ok((!done.plan.is_empty()).then(|| node::summary(&done.plan, ["created", "updated", "recreated", "deleted"])))
    }

    #[cfg(not(target_os = "linux"))]
    fn apply_linux(&self, _program: &[u8], _peers: &[u8], _record: bool) -> Result<Option<String>, String> {
        Err(format!(
            "node {} runs Linux, and this netc was built for another OS",
            self.config.target.node
        ))
    }
}

/// `node`'s pod subnets in a peer table.
fn node_subnets(peers: &[u8], node: &str) -> Vec<String> {
    let table: serde_json::Value = serde_json::from_slice(peers).unwrap_or_default();
    table["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|n| n["name"] == node))
        .and_then(|n| n["subnets"].as_array())
        .map(|subnets| subnets.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Whether a commit message carries `Netc-Allow-Disruption: yes`.
pub fn allows_disruption(message: &str) -> bool {
    message.lines().any(|line| {
        line.split_once(':').is_some_and(|(key, value)| {
            key.trim().eq_ignore_ascii_case(ALLOW_DISRUPTION_TRAILER) && value.trim().eq_ignore_ascii_case("yes")
        })
    })
}

/// Compile a snapshot; why not, in one line per error (at most five).
fn compile(snapshot: &Snapshot, path: &str) -> Result<netc_compiler::Compilation, String> {
    let Some(bytes) = &snapshot.topology else {
        return Err(format!("no `{path}` at this revision"));
    };
    let text = String::from_utf8(bytes.clone()).map_err(|_| format!("`{path}` is not UTF-8 text"))?;
    let lock = match &snapshot.lock {
        Some(bytes) => {
            let (lock, problems) = Lock::parse(&String::from_utf8_lossy(bytes));
            if let Some(problem) = problems.first() {
                return Err(format!("`{path}.lock` is not a valid lock file: {}", problem.message));
            }
            lock
        }
        None => Lock::default(),
    };
    let source = SourceFile::new(path.to_owned(), text);
    let compilation = netc_compiler::compile(&source, &lock);
    let errors: Vec<String> = compilation
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let at = source.line_col(d.primary.span.start);
            format!("{path}:{}:{}: {} {}", at.line, at.column, d.code, d.message)
        })
        .collect();
    if errors.is_empty() {
        Ok(compilation)
    } else {
        let more = errors.len().saturating_sub(5);
        let mut shown = errors.into_iter().take(5).collect::<Vec<_>>().join("; ");
        if more > 0 {
            shown.push_str(&format!("; and {more} more"));
        }
        Err(format!("does not compile: {shown}"))
    }
}

/// The state directory's agent files, for `netc status`.
pub fn status_path(state_dir: &std::path::Path) -> PathBuf {
    Status::path(state_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trailer_is_recognised_case_insensitively_and_only_with_yes() {
        assert!(allows_disruption("Move pods\n\nNetc-Allow-Disruption: yes\n"));
        assert!(allows_disruption("x\n\nnetc-allow-disruption:YES"));
        assert!(!allows_disruption("x\n\nNetc-Allow-Disruption: no"));
        assert!(!allows_disruption("Netc-Allow-Disruption is needed"));
    }
}
