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
//!      (`netc_node::transaction::Session`); a failed apply is undone and retried next round.
//! 3. otherwise (nothing new): re-observe and correct drift from the last
//!    good program in the state directory (kept in memory while the file
//!    is unchanged).
//!
//! Every outcome is recorded in `agent-status.json` (`status`) and counted
//! in `/metrics` (`metrics`); logs go through `tracing`.
//!
//! The files: this one holds the round (fetch, attempt, drift); `verdict`
//! the pure judgement of a commit (compile, node, downtime hold); `source`
//! git; `verify` signatures; `pacing` the loop, jitter and backoff;
//! `report` the Kubernetes Node annotations; `last_good` the last good
//! program kept in memory between drift rounds.

mod last_good;
pub mod metrics;
mod pacing;
mod report;
pub mod source;
pub mod ssh;
pub mod status;
pub mod verdict;
pub mod verify;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::{info, warn};

use last_good::LastGood;
use metrics::Metrics;
use netc_compiler::emit::program::bundle::CompiledNode;
use netc_compiler::emit::program::types::ProgramOs;
use netc_node::state::{self, StateError};
use netc_node::transaction;
#[cfg(target_os = "linux")]
use netc_node::transaction::Session;
use report::KubeLink;
use source::{Source, SourceError};
use status::{Attempt, Status};
use verdict::Verdict;
pub use verdict::{allows_disruption, ALLOW_DISRUPTION_TRAILER};

/// Everything `netc agent` is told.
#[derive(Clone, Debug)]
pub struct Config {
    /// The remote: a URL (`git://`, `https://`, `ssh://`, `file://`) or a path.
    pub repo: String,
    pub branch: String,
    /// The topology's path in the repository.
    pub path: String,
    pub target: transaction::Target,
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
    /// The last good program, in memory between drift rounds.
    last_good: LastGood,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Agent {
    /// An agent for `config`, with its saved status (a status file that
    /// cannot be parsed is reported and started afresh).
    pub fn new(config: Config) -> Result<Agent, StateError> {
        state::create_dir(&config.target.state_dir)?;
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
            last_good: LastGood::default(),
        })
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    pub fn status(&self) -> &Status {
        &self.status
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
                    SourceError::Other(_) | SourceError::Committed(_) => Round::Error,
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
        // The last applied revision, for the downtime check (unreadable:
        // nothing to compare with, as for a first apply).
        let base = applied.and_then(|applied| self.source.read(applied, &self.config.path).ok());
        let compiled_node = match verdict::judge(
            &snapshot,
            base.as_ref(),
            &self.config.path,
            &self.config.target.node,
            self.config.allow_disruption,
        ) {
            Verdict::Apply(compiled_node) => compiled_node,
            Verdict::Invalid(why) => return self.record(head, Invalid, why),
            Verdict::Held(why) => return self.record(head, Held, why),
        };
        match self.apply_program(&compiled_node, true) {
            Ok(summary) => {
                self.compiled_cidrs = compiled_node.own_subnets();
                self.last_good.keep(&self.config.target.state_dir, compiled_node);
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

    /// Re-apply the last good program if the host drifted from it.
    fn correct_drift(&mut self) -> Round {
        let last_good = match self.last_good.get(&self.config.target.state_dir) {
            Ok(Some(node)) => node,
            Ok(None) => return Round::Unchanged,
            Err(e) => {
                self.status.last_error = Some(e);
                return Round::Error;
            }
        };
        match self.apply_program(&last_good, false) {
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
    /// `netc_node::transaction::Session`, Windows through PowerShell (`netc_node::windows`). What
    /// changed, or `None` when nothing had to; with `record`, the state is
    /// committed also then (a new revision that needs no change).
    fn apply_program(&self, node: &Arc<CompiledNode>, record: bool) -> Result<Option<String>, String> {
        match node.program.os {
            ProgramOs::Windows => netc_node::windows::apply(
                std::path::Path::new(netc_node::windows::POWERSHELL),
                &self.config.target.state_dir,
                node,
                record,
            )
            .map_err(|e| e.to_string()),
            ProgramOs::Linux => self.apply_linux(node, record),
        }
    }

    #[cfg(target_os = "linux")]
    fn apply_linux(&self, node: &Arc<CompiledNode>, record: bool) -> Result<Option<String>, String> {
        let session = Session::new(&self.config.target, Arc::clone(node))?;
        if let Some(problem) = session.inventory_problem() {
            warn!(%problem, "inventory unreadable: applying without pruning");
        }
        let observed = session.observe()?;
        let plan = session.plan_from(&observed);
        if plan.is_empty() && !record {
            return Ok(None);
        }
        let done = session.apply(&observed, &plan).map_err(|failure| match &failure {
            transaction::Failure::Step { notes, .. } => format!("{failure} ({})", notes.join("; ")),
            _ => failure.to_string(),
        })?;
        Ok((!done.plan.is_empty())
            .then(|| transaction::summary(&done.plan, ["created", "updated", "recreated", "deleted"])))
    }

    #[cfg(not(target_os = "linux"))]
    fn apply_linux(&self, _node: &Arc<CompiledNode>, _record: bool) -> Result<Option<String>, String> {
        Err(format!(
            "node {} runs Linux, and this netc was built for another OS",
            self.config.target.node
        ))
    }
}

/// The state directory's agent files, for `netc status`.
pub fn status_path(state_dir: &std::path::Path) -> PathBuf {
    Status::path(state_dir)
}
