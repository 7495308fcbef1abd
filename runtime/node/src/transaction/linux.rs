//! Applying a host program on this Linux node: the whole apply transaction
//! that `netc apply` and `netc agent` share.
//!
//! A `Session` holds one program and its peer table, the objects they
//! want (`engine::desired`), the inventory from the state directory and a
//! connection to both Linux drivers (netlink in `--netns`, files under
//! `--root`). `apply` is the transaction:
//!
//! 1. refuse conflicts and missing CNI plugins (nothing changed);
//! 2. journal: widen the inventory by every key the run will create, so a
//!    crash at any later point forgets nothing netc made;
//! 3. apply the steps in order (runs of addresses, routes, neighbours and
//!    FDB entries pipelined in batches, `Netlink::apply_all`); on a failure
//!    undo every step this run applied, in reverse: with pipelining that
//!    can include steps of the failed batch after the failed one (a create is deleted; an update, recreate or
//!    delete is undone with the observed object; modules and sysctls
//!    created are left), and keep in the inventory only what could not be
//!    removed; the last good program stays in force;
//! 4. observe again and require an empty plan (a `best_effort` sysctl whose
//!    key does not exist is tolerated); an empty plan needs no second look;
//! 5. commit: the program and peers as the last good pair, then the exact
//!    inventory.
//!
//! Messages for the operator (what was undone, what was left) are returned,
//! not printed, so the CLI writes them to stderr and the agent logs them.

use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
pub use linux::{Applied, Failure, Session};

use netc_compiler::emit::program::bundle::{program_path, CompiledNode};
use netc_compiler::emit::program::types::PEERS;
use netc_plan::engine::{Action, Plan};

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

/// The program and peer table of `node` in a `netc compile` output.
pub fn read_compiled(dir: &Path, node: &str) -> Result<CompiledNode, String> {
    let read = |path: PathBuf| std::fs::read(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()));
    let program = read(dir.join(program_path(node)))?;
    let peers = read(dir.join(PEERS))?;
    CompiledNode::from_json(node, &program, &peers)
}

/// The transaction itself: netlink and the Linux host driver exist on Linux
/// only (the Windows agent applies through `crate::windows`).
#[cfg(target_os = "linux")]
mod linux {
    use std::collections::BTreeSet;
    use std::fmt;
    use std::path::PathBuf;
    use std::sync::Arc;

    use netc_compiler::emit::program::bundle::CompiledNode;
    use netc_compiler::emit::program::types::ProgramOs;

    use super::Target;
    use crate::driver::linux::host::Host;
    use crate::driver::linux::netlink::Netlink;
    use crate::state::{self, StateError};
    use netc_plan::engine::{self, Action, Inventory, Object, ObjectKey, Observed, Plan, Step};

    /// One program ready to be planned and applied on a Linux node.
    pub struct Session {
        /// What is applied, and recorded as the last good pair after.
        node: Arc<CompiledNode>,
        state_dir: PathBuf,
        missing_plugins: Vec<String>,
        interface_problems: Vec<String>,
        /// Why the inventory counts as empty (it could not be parsed).
        inventory_problem: Option<String>,
        desired: Vec<Object>,
        owned: Inventory,
        netlink: Netlink,
        host: Host,
    }

    /// A successful apply.
    #[derive(Debug)]
    pub struct Applied {
        /// The plan that was carried out (empty: nothing to do).
        pub plan: Plan,
        /// Steps sent to the kernel over netlink (0 on a no-op).
        pub netlink_writes: usize,
    }

    /// Why an apply did not happen or did not finish. `notes` say what was
    /// undone or left behind.
    #[derive(Debug)]
    pub enum Failure {
        /// The plan has conflicts (a foreign object in the way): nothing changed.
        Conflicts(Plan),
        /// CNI plugins the conflist calls are missing: nothing changed.
        MissingPlugins(Vec<String>),
        /// The node's named interface does not carry its address: nothing
        /// changed.
        WrongInterface(Vec<String>),
        /// The state directory could not be written before any change.
        Before(StateError),
        /// A step failed; this run's steps were undone (see `notes`).
        Step { message: String, notes: Vec<String> },
        /// The host still differs after applying (the remaining plan).
        Drift(Plan),
        /// The host was changed but the state directory could not be written.
        Commit(StateError),
    }

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
            Failure::Conflicts(plan) => write!(
                f,
                "the plan has {} conflict(s); nothing was changed",
                plan.conflicts.len()
            ),
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
                plan.steps.len()
            ),
            Failure::Commit(message) => write!(f, "applied, but {message}"),
        }
        }
    }

    impl Session {
        /// A session for `node` (which must be `target.node`'s Linux
        /// program): its objects, the inventory, and connections to both
        /// drivers.
        pub fn new(target: &Target, node: Arc<CompiledNode>) -> Result<Session, String> {
            node.is_for(&target.node)?;
            if node.program.os != ProgramOs::Linux {
                return Err(format!(
                "node {} runs Windows, and netc does not execute the Windows driver: run `netc plan --node {} --format powershell` and the script it prints on the node",
                target.node, target.node
            ));
            }
            let parsed = &node.program;
            let desired = engine::desired(parsed, &node.peers).map_err(|e| e.0)?;
            let (owned, inventory_problem) = state::read_inventory_for_apply(&target.state_dir)?;
            let netlink = Netlink::in_namespace(target.netns.as_deref()).map_err(|e| e.0)?;
            let host = Host::new(&target.root, target.netns.as_deref());
            let missing_plugins = host.missing_cni_plugins(parsed);
            let interface_problems = host.interface_problems(parsed).map_err(|e| e.0)?;
            Ok(Session {
                node,
                state_dir: target.state_dir.clone(),
                missing_plugins,
                interface_problems,
                inventory_problem,
                desired,
                owned,
                netlink,
                host,
            })
        }

        /// The CNI plugin binaries the program needs but this host lacks.
        pub fn missing_plugins(&self) -> &[String] {
            &self.missing_plugins
        }

        /// Why the inventory counted as empty, when it could not be parsed:
        /// a warning (nothing is pruned; an apply writes it again).
        pub fn inventory_problem(&self) -> Option<&str> {
            self.inventory_problem.as_deref()
        }

        /// The program's `interface-address` checks that fail on this host.
        pub fn interface_problems(&self) -> &[String] {
            &self.interface_problems
        }

        fn keys(&self) -> BTreeSet<ObjectKey> {
            self.desired
                .iter()
                .map(Object::key)
                .chain(self.owned.iter().cloned())
                .collect()
        }

        /// The live state of every key the program or the inventory names.
        pub fn observe(&self) -> Result<Observed, String> {
            let keys = self.keys();
            let mut observed = self.netlink.observe(&keys).map_err(|e| e.0)?;
            let host = self.host.observe(&keys).map_err(|e| e.0)?;
            observed.0.extend(host.0);
            Ok(observed)
        }

        /// What applying would change, as of now.
        pub fn plan(&self) -> Result<Plan, String> {
            Ok(self.plan_from(&self.observe()?))
        }

        /// What applying would change on a host in state `observed`.
        pub fn plan_from(&self, observed: &Observed) -> Plan {
            engine::plan(&self.desired, observed, &self.owned)
        }

        fn step(&self, step: &Step) -> Result<(), String> {
            if is_netlink(step) {
                self.netlink.apply(step).map_err(|e| e.0)
            } else {
                self.host.apply(step).map_err(|e| e.0)
            }
        }

        /// Applies `steps` in order, each run of netlink steps pipelined
        /// (`Netlink::apply_all`). Returns the steps applied, in order, and
        /// the first failure; nothing after the failed step's batch was
        /// sent, and whatever was applied is in the list, so an undo of it
        /// is exact.
        fn apply_steps<'p>(&self, steps: &'p [Step]) -> (Vec<&'p Step>, Option<String>) {
            let mut applied = Vec::with_capacity(steps.len());
            let mut rest = steps;
            while let Some(first) = rest.first() {
                let run = rest.iter().take_while(|step| is_netlink(step)).count();
                if run == 0 {
                    match self.host.apply(first) {
                        Ok(()) => applied.push(first),
                        Err(e) => return (applied, Some(e.0)),
                    }
                    rest = &rest[1..];
                    continue;
                }
                let outcomes = self.netlink.apply_all(&rest[..run]);
                let mut failure = None;
                for (step, outcome) in rest.iter().zip(&outcomes) {
                    match outcome {
                        Ok(()) => applied.push(step),
                        Err(e) => {
                            failure.get_or_insert_with(|| e.0.clone());
                        }
                    }
                }
                if failure.is_none() && outcomes.len() < run {
                    failure = Some(format!("{} of {run} netlink steps were not sent", run - outcomes.len()));
                }
                if failure.is_some() {
                    return (applied, failure);
                }
                rest = &rest[run..];
            }
            (applied, None)
        }

        /// The apply transaction (module header). `observed` and `plan` are the
        /// state and plan the caller already has (and may have shown).
        pub fn apply(&self, observed: &Observed, plan: &Plan) -> Result<Applied, Failure> {
            if !plan.conflicts.is_empty() {
                return Err(Failure::Conflicts(plan.clone()));
            }
            if !self.missing_plugins.is_empty() {
                return Err(Failure::MissingPlugins(self.missing_plugins.clone()));
            }
            if !self.interface_problems.is_empty() {
                return Err(Failure::WrongInterface(self.interface_problems.clone()));
            }
            // A run killed mid-write leaves a temporary beside the file; sweep
            // them even where this run writes nothing.
            for key in self.keys() {
                if let ObjectKey::File(path) = key {
                    crate::files::sweep_temporaries(&self.host.file_path(&path));
                }
            }
            let inventory = engine::plan::next_inventory(&self.desired);
            if self.inventory_problem.is_some() {
                // The unreadable inventory is about to be replaced: keep its
                // bytes for whoever investigates.
                state::keep_unreadable(&state::inventory_path(&self.state_dir));
            }
            if plan.steps.is_empty() {
                // Nothing to change: the observation the plan came from is the
                // verification. The state is still recorded (the program may be
                // new even though the host already matches it).
                state::commit(&self.state_dir, &inventory, &self.node).map_err(Failure::Commit)?;
                return Ok(Applied {
                    plan: plan.clone(),
                    netlink_writes: 0,
                });
            }
            // Write-ahead: whatever this run creates is owned before it exists.
            let created: Inventory = plan
                .steps
                .iter()
                .filter(|step| step.action == Action::Create && !self.owned.contains(&step.key))
                .map(|step| step.key.clone())
                .collect();
            state::journal(&self.state_dir, &self.owned, created.iter().cloned()).map_err(Failure::Before)?;
            let (applied, failure) = self.apply_steps(&plan.steps);
            if let Some(message) = failure {
                let mut notes = self.undo(&applied, observed);
                notes.push(self.settle_failed(&created));
                return Err(Failure::Step { message, notes });
            }
            // Verify: the host must now match the program.
            let mut remaining = self.plan().map_err(|message| Failure::Step {
                message: format!("observing after apply: {message}"),
                notes: Vec::new(),
            })?;
            remaining.steps.retain(|step| !tolerated(step));
            if !remaining.is_empty() {
                return Err(Failure::Drift(remaining));
            }
            state::commit(&self.state_dir, &inventory, &self.node).map_err(Failure::Commit)?;
            Ok(Applied {
                plan: plan.clone(),
                netlink_writes: self.netlink.writes(),
            })
        }

        /// Undo `applied` in reverse, best effort; a note per step.
        fn undo(&self, applied: &[&Step], observed: &Observed) -> Vec<String> {
            let mut notes = Vec::new();
            for step in applied.iter().rev() {
                let old = observed.get(&step.key).cloned();
                let reverse = match (step.action, old) {
                    (Action::Create, _) if matches!(step.key, ObjectKey::Module(_) | ObjectKey::Sysctl(_)) => None,
                    (Action::Create, _) => Some((Action::Delete, step.object.clone())),
                    (Action::Update, Some(old)) => Some((Action::Update, old)),
                    (Action::Recreate, Some(old)) => Some((Action::Recreate, old)),
                    (Action::Delete, Some(old)) => Some((Action::Create, old)),
                    _ => None,
                };
                let Some((action, object)) = reverse else {
                    notes.push(format!("not undone: {}", step.object));
                    continue;
                };
                let reverse = Step {
                    action,
                    key: step.key.clone(),
                    object,
                    reason: "undo".into(),
                    disruption: step.disruption,
                };
                match self.step(&reverse) {
                    Ok(()) => notes.push(format!("undone: {}", step.object)),
                    Err(message) => notes.push(format!("cannot undo {}: {message}", step.object)),
                }
            }
            notes
        }

        /// After a failed apply and its undo: the inventory keeps what it owned
        /// before plus whatever this run created that is still there (an undo
        /// that failed), so nothing netc made is ever forgotten.
        fn settle_failed(&self, created: &Inventory) -> String {
            let mut inventory = self.owned.clone();
            match self.observe() {
                Ok(now) => inventory.extend(created.iter().filter(|key| now.get(key).is_some()).cloned()),
                // Cannot tell: keep every key this run may have created.
                Err(_) => inventory.extend(created.iter().cloned()),
            }
            let left = inventory.len() - self.owned.len();
            let dir = self.state_dir.display();
            match state::write_inventory(&self.state_dir, &inventory) {
            Ok(()) if left == 0 => format!(
                "apply failed and was undone; the host is as before this run, and the inventory in `{dir}` as it was"
            ),
            Ok(()) => format!(
                "apply failed; {left} object(s) this run created could not be removed and stay in the inventory in `{dir}`, so the next apply prunes or keeps them"
            ),
            Err(message) => format!("error: {message}"),
        }
        }
    }

    /// The steps the netlink driver carries out; the host driver does the
    /// rest.
    fn is_netlink(step: &Step) -> bool {
        matches!(
            step.object,
            Object::VxlanLink(_)
                | Object::Bridge { .. }
                | Object::Address { .. }
                | Object::Route { .. }
                | Object::Neighbour { .. }
                | Object::Fdb { .. }
        )
    }

    /// After apply, a create of a `best_effort` sysctl means its key does not
    /// exist on this host: fine.
    fn tolerated(step: &Step) -> bool {
        step.action == Action::Create && matches!(step.object, Object::Sysctl { best_effort: true, .. })
    }
}
