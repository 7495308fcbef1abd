//! The apply transaction, written once for both operating systems: `netc
//! apply` and the agent run it with the Linux drivers (`linux::Session`:
//! netlink and the host driver), the Windows agent with PowerShell
//! (`crate::windows`). A `Driver` says how to observe, plan, apply and undo
//! on its host; `transact` is the order of things and the state directory:
//!
//! 1. refuse a plan with conflicts, then whatever the driver refuses
//!    (missing CNI plugins, a wrong interface): nothing changed;
//! 2. with nothing to change, record the state (when asked) and stop;
//! 3. journal: widen the inventory by every key the run will create, so a
//!    crash at any later point forgets nothing netc made;
//! 4. apply; on a failure the driver undoes what this run did (Linux: the
//!    steps applied, in reverse; Windows: the way back from the host as
//!    observed before to the host now), and the inventory keeps what it
//!    owned before plus whatever this run created that is still there;
//!    the last good program stays in force;
//! 5. observe again and require an empty plan;
//! 6. commit: the program and peers as the last good pair, then the exact
//!    inventory.
//!
//! Messages for the operator (what was undone, what was left) are returned,
//! not printed, so the CLI writes them to stderr and the agent logs them.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use netc_compiler::emit::program::bundle::{program_path, BundleError, CompiledNode};
use netc_compiler::emit::program::types::PEERS;
use netc_plan::engine::{self, Action, Plan};
use netc_plan::windows::WindowsPlan;
use serde::Serialize;

use crate::driver;
use crate::files::FileError;
use crate::state::{self, StateError};

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::Session;

/// Where a program is applied.
#[derive(Clone, Debug)]
pub struct Target {
    pub node: String,
    /// The network namespace (`/run/netns/NAME`); `None`: the current one.
    pub netns: Option<String>,
    /// The prefix of every file path.
    pub root: PathBuf,
    pub state_dir: PathBuf,
}

/// `N to create, N to update, ...` with `words` for the four actions.
pub fn summary(plan: &Plan, words: [&str; 4]) -> String {
    let count = |action| plan.steps.iter().filter(|s| s.action == action).count();
    [Action::Create, Action::Update, Action::Recreate, Action::Delete]
        .iter()
        .zip(words)
        .map(|(action, word)| format!("{} {word}", count(*action)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a session could not begin: nothing was changed.
#[derive(Debug)]
pub enum SessionError {
    /// The program could not be read, or is another node's.
    Bundle(BundleError),
    /// A file of a `netc compile` output could not be read.
    File(FileError),
    /// A Windows program given to the Linux driver.
    Windows { node: String },
    /// The program asks for something the engine cannot expand.
    Program(engine::Error),
    /// The state directory could not be read.
    State(StateError),
    /// A driver could not start or observe.
    Driver(driver::Error),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Bundle(error) => error.fmt(f),
            SessionError::File(error) => error.fmt(f),
            SessionError::Windows { node } => write!(
                f,
                "node {node} runs Windows, and netc does not execute the Windows driver: run `netc plan --node {node} --format powershell` and the script it prints on the node"
            ),
            SessionError::Program(error) => f.write_str(&error.0),
            SessionError::State(error) => error.fmt(f),
            SessionError::Driver(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for SessionError {}

impl From<SessionError> for String {
    fn from(error: SessionError) -> String {
        error.to_string()
    }
}

impl From<BundleError> for SessionError {
    fn from(error: BundleError) -> Self {
        SessionError::Bundle(error)
    }
}

impl From<StateError> for SessionError {
    fn from(error: StateError) -> Self {
        SessionError::State(error)
    }
}

impl From<driver::Error> for SessionError {
    fn from(error: driver::Error) -> Self {
        SessionError::Driver(error)
    }
}

/// The program and peer table of `node` in a `netc compile` output.
pub fn read_compiled(dir: &Path, node: &str) -> Result<CompiledNode, SessionError> {
    let read = |path: PathBuf| {
        std::fs::read(&path).map_err(|e| {
            SessionError::File(FileError::Read {
                path,
                message: e.to_string(),
            })
        })
    };
    let program = read(dir.join(program_path(node)))?;
    let peers = read(dir.join(PEERS))?;
    Ok(CompiledNode::from_json(node, &program, &peers)?)
}

/// What the transaction reads of a plan, whichever OS it is for.
pub trait Steps {
    fn steps(&self) -> usize;
    fn conflicts(&self) -> usize;
}

impl Steps for Plan {
    fn steps(&self) -> usize {
        self.steps.len()
    }
    fn conflicts(&self) -> usize {
        self.conflicts.len()
    }
}

impl Steps for WindowsPlan {
    fn steps(&self) -> usize {
        self.steps.len()
    }
    fn conflicts(&self) -> usize {
        self.conflicts.len()
    }
}

/// One operating system's host, as the transaction drives it.
pub trait Driver {
    type Key: Ord + Clone + Serialize;
    type Observed;
    type Plan: Steps + Clone;
    /// What a failed apply got done, for its undo.
    type Progress;

    /// The live state of every key the program or `owned` names.
    fn observe(&self, owned: &BTreeSet<Self::Key>) -> Result<Self::Observed, driver::Error>;
    /// What applying would change on a host in state `observed`.
    fn plan(&self, observed: &Self::Observed, owned: &BTreeSet<Self::Key>) -> Self::Plan;
    /// The keys `plan` creates.
    fn creates(&self, plan: &Self::Plan) -> BTreeSet<Self::Key>;
    /// The inventory after a verified apply: the program's keys.
    fn exact(&self) -> BTreeSet<Self::Key>;
    /// Refuse before any change, or tidy up (Linux: sweep temporaries a
    /// killed run left beside its files).
    fn prepare(&self) -> Result<(), Failure<Self::Plan>> {
        Ok(())
    }
    /// Carry out `plan`: how many writes it took, or why it stopped and
    /// how far it got.
    fn apply(&self, plan: &Self::Plan) -> Result<usize, (String, Self::Progress)>;
    /// Undo what a failed apply of `plan` did to a host that was `before`;
    /// a note per object.
    fn undo(
        &self,
        plan: &Self::Plan,
        progress: Self::Progress,
        before: &Self::Observed,
        owned: &BTreeSet<Self::Key>,
    ) -> Vec<String>;
    /// What is left of a plan made after applying that still matters
    /// (Linux: a `best_effort` sysctl this kernel lacks does not).
    fn unsettled(&self, remaining: Self::Plan) -> Self::Plan {
        remaining
    }
    /// Which of `keys` the host has.
    fn present(&self, observed: &Self::Observed, keys: &BTreeSet<Self::Key>) -> BTreeSet<Self::Key>;
}

/// The state a transaction starts from and writes.
pub struct Ledger<'a, K> {
    pub state_dir: &'a Path,
    /// The driver's inventory file in `state_dir`.
    pub inventory: PathBuf,
    /// What the inventory held when the run began (empty when unreadable).
    pub owned: &'a BTreeSet<K>,
    /// Whether the inventory could not be parsed: its bytes are kept and it
    /// is written whole again.
    pub unreadable: bool,
    /// What is recorded as the last good pair.
    pub node: &'a CompiledNode,
}

/// A successful apply.
#[derive(Debug)]
pub struct Applied<P = Plan> {
    /// The plan that was carried out (empty: nothing to do).
    pub plan: P,
    /// Writes the driver made (0 on a no-op).
    pub writes: usize,
}

/// Why an apply did not happen or did not finish. `notes` say what was
/// undone or left behind.
#[derive(Debug)]
pub enum Failure<P = Plan> {
    /// The plan has conflicts (a foreign object in the way): nothing changed.
    Conflicts(P),
    /// CNI plugins the conflist calls are missing: nothing changed.
    MissingPlugins(Vec<String>),
    /// The node's named interface does not carry its address: nothing
    /// changed.
    WrongInterface(Vec<String>),
    /// The state directory could not be written before any change.
    Before(StateError),
    /// A step failed; this run's changes were undone (see `notes`).
    Step { message: String, notes: Vec<String> },
    /// The host still differs after applying (the remaining plan).
    Drift(P),
    /// The host was changed but the state directory could not be written.
    Commit(StateError),
}

impl<P: Steps> fmt::Display for Failure<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Conflicts(plan) => write!(f, "the plan has {} conflict(s); nothing was changed", plan.conflicts()),
            Failure::MissingPlugins(missing) => write!(
                f,
                "CNI plugins are missing ({}); the node's CNI configuration calls them and pods cannot start without them; nothing was changed",
                missing.join(", ")
            ),
            Failure::WrongInterface(problems) => write!(f, "{}; nothing was changed", problems.join("; ")),
            Failure::Before(message) => write!(f, "{message}; nothing was changed"),
            Failure::Step { message, .. } => write!(f, "{message}"),
            Failure::Drift(plan) => write!(
                f,
                "the host still differs from the program after apply ({} step(s) remain)",
                plan.steps()
            ),
            Failure::Commit(message) => write!(f, "applied, but {message}"),
        }
    }
}

/// The transaction (module header) of `plan`, made from `observed`, which
/// the caller already has and may have shown. With `record`, a plan with
/// nothing to do still records the state (the program may be new although
/// the host already matches it).
pub fn transact<D: Driver>(
    driver: &D,
    ledger: &Ledger<'_, D::Key>,
    observed: &D::Observed,
    plan: &D::Plan,
    record: bool,
) -> Result<Applied<D::Plan>, Failure<D::Plan>> {
    if plan.conflicts() > 0 {
        return Err(Failure::Conflicts(plan.clone()));
    }
    driver.prepare()?;
    if ledger.unreadable {
        // The unreadable inventory is about to be replaced: keep its bytes
        // for whoever investigates.
        state::keep_unreadable(&ledger.inventory);
    }
    let exact = driver.exact();
    if plan.steps() == 0 {
        // Nothing to change: the observation the plan came from is the
        // verification.
        if record || ledger.unreadable {
            commit(ledger, &exact).map_err(Failure::Commit)?;
        }
        return Ok(Applied {
            plan: plan.clone(),
            writes: 0,
        });
    }
    // Write-ahead: whatever this run creates is owned before it exists.
    let created: BTreeSet<D::Key> = driver
        .creates(plan)
        .into_iter()
        .filter(|key| !ledger.owned.contains(key))
        .collect();
    let journal =
        state::journal_owned(&ledger.inventory, ledger.owned, created.iter().cloned()).map_err(Failure::Before)?;
    let writes = match driver.apply(plan) {
        Ok(writes) => writes,
        Err((message, progress)) => {
            let mut notes = driver.undo(plan, progress, observed, &journal);
            notes.push(settle_failed(driver, ledger, &created, &journal));
            return Err(Failure::Step { message, notes });
        }
    };
    // Verify: the host must now match the program.
    let now = driver.observe(&journal).map_err(|message| Failure::Step {
        message: format!("observing after apply: {message}"),
        notes: Vec::new(),
    })?;
    let remaining = driver.unsettled(driver.plan(&now, &journal));
    if remaining.steps() + remaining.conflicts() > 0 {
        return Err(Failure::Drift(remaining));
    }
    commit(ledger, &exact).map_err(Failure::Commit)?;
    Ok(Applied {
        plan: plan.clone(),
        writes,
    })
}

/// The program and peers as the last good pair, then the exact inventory.
fn commit<K: Serialize>(ledger: &Ledger<'_, K>, exact: &BTreeSet<K>) -> Result<(), StateError> {
    state::commit_last_good(ledger.state_dir, ledger.node)?;
    state::write_owned(&ledger.inventory, exact)
}

/// After a failed apply and its undo: the inventory keeps what it owned
/// before plus whatever this run created that is still there (an undo
/// that failed), so nothing netc made is ever forgotten.
fn settle_failed<D: Driver>(
    driver: &D,
    ledger: &Ledger<'_, D::Key>,
    created: &BTreeSet<D::Key>,
    journal: &BTreeSet<D::Key>,
) -> String {
    let mut inventory = ledger.owned.clone();
    match driver.observe(journal) {
        Ok(now) => inventory.extend(driver.present(&now, created)),
        // Cannot tell: keep every key this run may have created.
        Err(_) => inventory.extend(created.iter().cloned()),
    }
    let left = inventory.len() - ledger.owned.len();
    let dir = ledger.state_dir.display();
    match state::write_owned(&ledger.inventory, &inventory) {
        Ok(()) if left == 0 => format!(
            "apply failed and was undone; the host is as before this run, and the inventory in `{dir}` as it was"
        ),
        Ok(()) => format!(
            "apply failed; {left} object(s) this run created could not be removed and stay in the inventory in `{dir}`, so the next apply prunes or keeps them"
        ),
        Err(message) => format!("error: {message}"),
    }
}
