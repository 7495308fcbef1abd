//! The apply transaction's Linux driver (`transaction::Driver`): a
//! `Session` holds one program and its peer table, the objects they want
//! (`engine::desired`), the inventory from the state directory and a
//! connection to both Linux drivers (netlink in `--netns`, files under
//! `--root`). Runs of addresses, routes, neighbours and FDB entries are
//! pipelined in batches (`Netlink::apply_all`); on a failure every step this
//! run applied is undone in reverse: with pipelining that can include
//! steps of the failed batch after the failed one. A create is deleted; an
//! update, recreate or delete is undone with the observed object; modules
//! and sysctls created are left. A `best_effort` sysctl whose key does not
//! exist is tolerated by the verification.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use netc_compiler::emit::program::bundle::CompiledNode;
use netc_compiler::emit::program::types::ProgramOs;

use super::{transact, Applied, Driver, Failure, Ledger, SessionError, Target};
use crate::driver;
use crate::driver::linux::host::Host;
use crate::driver::linux::netlink::Netlink;
use crate::state;
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

impl Session {
    /// A session for `node` (which must be `target.node`'s Linux
    /// program): its objects, the inventory, and connections to both
    /// drivers.
    pub fn new(target: &Target, node: Arc<CompiledNode>) -> Result<Session, SessionError> {
        node.is_for(&target.node)?;
        if node.program.os != ProgramOs::Linux {
            return Err(SessionError::Windows {
                node: target.node.clone(),
            });
        }
        let parsed = &node.program;
        let desired = engine::desired(parsed, &node.peers).map_err(SessionError::Program)?;
        let (owned, inventory_problem) = state::read_inventory_for_apply(&target.state_dir)?;
        let netlink = Netlink::in_namespace(target.netns.as_deref())?;
        let host = Host::new(&target.root, target.netns.as_deref());
        let missing_plugins = host.missing_cni_plugins(parsed);
        let interface_problems = host.interface_problems(parsed)?;
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

    fn keys(&self, owned: &Inventory) -> BTreeSet<ObjectKey> {
        self.desired
            .iter()
            .map(Object::key)
            .chain(owned.iter().cloned())
            .collect()
    }

    /// The live state of every key the program or the inventory names.
    pub fn observe(&self) -> Result<Observed, driver::Error> {
        Driver::observe(self, &self.owned)
    }

    /// What applying would change, as of now.
    pub fn plan(&self) -> Result<Plan, driver::Error> {
        Ok(self.plan_from(&self.observe()?))
    }

    /// What applying would change on a host in state `observed`.
    pub fn plan_from(&self, observed: &Observed) -> Plan {
        engine::plan(&self.desired, observed, &self.owned)
    }

    /// The apply transaction (`transaction::transact`). `observed` and
    /// `plan` are the state and plan the caller already has (and may have
    /// shown); a plan with nothing to do still records the state.
    pub fn apply(&self, observed: &Observed, plan: &Plan) -> Result<Applied, Failure> {
        let ledger = Ledger {
            state_dir: &self.state_dir,
            inventory: state::inventory_path(&self.state_dir),
            owned: &self.owned,
            unreadable: self.inventory_problem.is_some(),
            node: &self.node,
        };
        transact(self, &ledger, observed, plan, true)
    }

    fn step(&self, step: &Step) -> Result<(), driver::Error> {
        if is_netlink(step) {
            self.netlink.apply(step)
        } else {
            self.host.apply(step)
        }
    }

    /// Applies `steps` in order, each run of netlink steps pipelined
    /// (`Netlink::apply_all`). Returns the indices of the steps applied, in
    /// order, and the first failure; nothing after the failed step's batch
    /// was sent, and whatever was applied is in the list, so an undo of it
    /// is exact.
    fn apply_steps(&self, steps: &[Step]) -> (Vec<usize>, Option<String>) {
        let mut applied = Vec::with_capacity(steps.len());
        let mut next = 0;
        while let Some(first) = steps.get(next) {
            let rest = &steps[next..];
            let run = rest.iter().take_while(|step| is_netlink(step)).count();
            if run == 0 {
                match self.host.apply(first) {
                    Ok(()) => applied.push(next),
                    Err(e) => return (applied, Some(e.0)),
                }
                next += 1;
                continue;
            }
            let outcomes = self.netlink.apply_all(&rest[..run]);
            let mut failure = None;
            for (offset, outcome) in outcomes.iter().enumerate() {
                match outcome {
                    Ok(()) => applied.push(next + offset),
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
            next += run;
        }
        (applied, None)
    }
}

impl Driver for Session {
    type Key = ObjectKey;
    type Observed = Observed;
    type Plan = Plan;
    /// The indices of the steps applied, in order.
    type Progress = Vec<usize>;

    fn observe(&self, owned: &Inventory) -> Result<Observed, driver::Error> {
        let keys = self.keys(owned);
        let mut observed = self.netlink.observe(&keys)?;
        let host = self.host.observe(&keys)?;
        observed.0.extend(host.0);
        Ok(observed)
    }

    fn plan(&self, observed: &Observed, owned: &Inventory) -> Plan {
        engine::plan(&self.desired, observed, owned)
    }

    fn creates(&self, plan: &Plan) -> Inventory {
        plan.steps
            .iter()
            .filter(|step| step.action == Action::Create)
            .map(|step| step.key.clone())
            .collect()
    }

    fn exact(&self) -> Inventory {
        engine::plan::next_inventory(&self.desired)
    }

    fn prepare(&self) -> Result<(), Failure> {
        if !self.missing_plugins.is_empty() {
            return Err(Failure::MissingPlugins(self.missing_plugins.clone()));
        }
        if !self.interface_problems.is_empty() {
            return Err(Failure::WrongInterface(self.interface_problems.clone()));
        }
        // A run killed mid-write leaves a temporary beside the file; sweep
        // them even where this run writes nothing.
        for key in self.keys(&self.owned) {
            if let ObjectKey::File(path) = key {
                crate::files::sweep_temporaries(&self.host.file_path(&path));
            }
        }
        Ok(())
    }

    fn apply(&self, plan: &Plan) -> Result<usize, (String, Vec<usize>)> {
        let (applied, failure) = self.apply_steps(&plan.steps);
        match failure {
            None => Ok(self.netlink.writes()),
            Some(message) => Err((message, applied)),
        }
    }

    /// Undo the applied steps in reverse, best effort; a note per step.
    fn undo(&self, plan: &Plan, applied: Vec<usize>, observed: &Observed, _owned: &Inventory) -> Vec<String> {
        let mut notes = Vec::new();
        for step in applied.iter().rev().map(|&index| &plan.steps[index]) {
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

    /// After apply, a create of a `best_effort` sysctl means its key does
    /// not exist on this host: fine.
    fn unsettled(&self, mut remaining: Plan) -> Plan {
        remaining.steps.retain(|step| !tolerated(step));
        remaining
    }

    fn present(&self, observed: &Observed, keys: &Inventory) -> Inventory {
        keys.iter().filter(|key| observed.get(key).is_some()).cloned().collect()
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

fn tolerated(step: &Step) -> bool {
    step.action == Action::Create && matches!(step.object, Object::Sysctl { best_effort: true, .. })
}
