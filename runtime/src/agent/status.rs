//! What the agent remembers and reports: `agent-status.json` in the state
//! directory, next to the inventory and the last good program. `netc
//! status` prints it; `/metrics` exports it.
//!
//! Vocabulary from Flux: the last applied revision, the last attempted one
//! (with its result: a commit that does not compile, is refused or is held
//! is attempted, never applied), and the last five applies.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use netc_node::state::{self, StateError};

/// How many applies `history` keeps.
pub const HISTORY: usize = 5;

/// What happened to a revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Result {
    /// Applied; the host matches it.
    Applied,
    /// It does not compile (or has no topology at the path): never applied.
    Invalid,
    /// Refused: older than the last applied revision, or not signed by an
    /// allowed key.
    Refused,
    /// Held: it needs cluster downtime and was not allowed.
    Held,
    /// The apply failed and was undone; retried at the next poll.
    Failed,
}

impl Result {
    pub fn as_str(self) -> &'static str {
        match self {
            Result::Applied => "applied",
            Result::Invalid => "invalid",
            Result::Refused => "refused",
            Result::Held => "held",
            Result::Failed => "failed",
        }
    }
}

/// One revision's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub revision: String,
    /// Seconds since the Unix epoch.
    pub at: u64,
    pub result: Result,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub node: String,
    pub last_applied: Option<Attempt>,
    pub last_attempted: Option<Attempt>,
    /// The last `HISTORY` applies, newest first.
    pub history: Vec<Attempt>,
    /// The last fetch or drift problem, cleared by the next success.
    pub last_error: Option<String>,
    /// Kubernetes assigned this node other pod CIDRs than the topology
    /// (checked after each apply when the agent talks to the API).
    #[serde(default)]
    pub pod_cidr_warning: Option<String>,
}

impl Status {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("agent-status.json")
    }

    /// The saved status, or an empty one for a node never reconciled (the
    /// state directory's reader, as for the inventories).
    pub fn read(state_dir: &Path) -> std::result::Result<Status, StateError> {
        state::read_owned(&Status::path(state_dir))
    }

    /// Replace the saved status atomically, creating the directory.
    pub fn write(&self, state_dir: &Path) -> std::result::Result<(), StateError> {
        state::write_owned(&Status::path(state_dir), self)
    }

    /// Record an attempt; an applied one also becomes the last applied and
    /// enters the history.
    pub fn record(&mut self, attempt: Attempt) {
        if attempt.result == Result::Applied {
            self.last_applied = Some(attempt.clone());
            self.history.insert(0, attempt.clone());
            self.history.truncate(HISTORY);
        }
        self.last_attempted = Some(attempt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(n: u64, result: Result) -> Attempt {
        Attempt {
            revision: format!("{n:040}"),
            at: n,
            result,
            message: String::new(),
        }
    }

    #[test]
    fn history_keeps_the_last_five_applies_and_round_trips() {
        let mut status = Status::default();
        for n in 0..7 {
            status.record(attempt(n, Result::Applied));
        }
        status.record(attempt(7, Result::Invalid));
        assert_eq!(status.history.len(), HISTORY);
        assert_eq!(status.history[0].at, 6);
        assert_eq!(status.last_applied.as_ref().unwrap().at, 6);
        assert_eq!(status.last_attempted.as_ref().unwrap().result, Result::Invalid);
        let dir = tempfile::tempdir().unwrap();
        status.write(dir.path()).unwrap();
        assert_eq!(Status::read(dir.path()).unwrap(), status);
        assert_eq!(Status::read(&dir.path().join("none")).unwrap(), Status::default());
    }
}
