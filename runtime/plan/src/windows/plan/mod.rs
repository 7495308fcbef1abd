//! Desired vs observed vs owned on a Windows node: the ordered steps that
//! make the host match its program, with the Linux engine's rules
//! (`engine::plan`) and its `Action` and `Disruption` types. This file holds
//! the plan's types, its text form and `plan` itself (what to prune, the
//! order, adopting and conflicts); `compare` holds what is compared.
//!
//! Per key:
//! - desired, not observed: **create**;
//! - desired, observed, equal: nothing (so planning the result of an apply
//!   is empty);
//! - desired, observed, different: **update** in place, or **recreate**
//!   when Windows cannot change it in place (an HNS network);
//! - owned (in the inventory), no longer desired, observed: **delete**;
//! - observed, not owned, not desired: never touched. A desired object that
//!   is observed but not owned is adopted by an update (said in the
//!   reason); one that would need a recreate (removing a foreign HNS
//!   network) is a `WindowsConflict`, not a step, and a plan with conflicts
//!   must not be applied.
//!
//! Disruption classes:
//! - file creates and updates, firewall rule creates and updates, a new
//!   source VIP and the removal of a stale request file are `Hitless`:
//!   files are replaced atomically, `Set-NetFirewallRule` changes the rule
//!   in one call, and none of them touches traffic that works today;
//! - creating an HNS network is a `Flap`: HNS builds a vSwitch on the
//!   adapter and moves the host's address onto its `vEthernet` adapter, so
//!   the node loses connectivity for a few seconds;
//! - creating a host endpoint, attaching it or turning its forwarding on is
//!   `Hitless`: until then the pods have no gateway, so nothing that works
//!   today changes; recreating one (another network or address) is
//!   `ConnectivityRisk`: the pods lose their gateway until it is back;
//! - re-reserving a stale source VIP is a `Recreate`: the address changes,
//!   and kube-proxy uses the new one only after it restarts;
//! - recreating an HNS network (another type, subnet, gateway or adapter:
//!   HNS changes none of them in place) is `ConnectivityRisk`: every pod
//!   endpoint on it goes, and the node loses connectivity for seconds while
//!   HNS re-creates the vSwitch;
//! - every delete except a file's is `ConnectivityRisk`.
//!
//! Order: deletes first (source VIP, HNS endpoint, HNS network, firewall
//! rule, file; then by key), then creates, updates and recreates in program
//! order. Checks (`cni-plugins`, `service`) are carried along for the
//! script; they are never steps. Cost: key lookups only, O(n log n).

mod compare;
#[cfg(test)]
mod tests;
mod undo;

pub use undo::{undo, Undo};

use std::fmt;

use serde::{Deserialize, Serialize};

use self::compare::Live;
use super::objects::{WindowsCheck, WindowsDesired, WindowsKey, WindowsObject};
use super::observed::{WindowsInventory, WindowsObserved};
use crate::engine::{Action, Disruption};
use crate::reconcile::{reconcile, Decision, Model};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowsStep {
    pub action: Action,
    pub key: WindowsKey,
    /// The desired object; absent for a delete, which needs only the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<WindowsObject>,
    pub reason: String,
    pub disruption: Disruption,
}

/// A desired object the plan leaves alone because reaching it would
/// remove an object netc does not own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowsConflict {
    pub key: WindowsKey,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowsPlan {
    pub node: String,
    /// Run by the script around the steps: CNI plugins before any change,
    /// services (warnings only) after the last.
    pub checks: Vec<WindowsCheck>,
    pub steps: Vec<WindowsStep>,
    pub conflicts: Vec<WindowsConflict>,
}

impl WindowsPlan {
    /// Nothing to change and nothing in the way (checks still run).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.conflicts.is_empty()
    }
}

/// As the Linux plan: one line per step, `SIGN OBJECT  [CLASS] REASON`
/// (`+` create, `~` update, `-/+` recreate, `-` delete), one `! KEY:
/// REASON` line per conflict; then one `? CHECK` line per check.
impl fmt::Display for WindowsPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            let sign = step.action.sign();
            let what = match &step.object {
                Some(object) => object.to_string(),
                None => step.key.to_string(),
            };
            writeln!(
                f,
                "{sign} {}  [{}] {}",
                one_line(&what),
                step.disruption,
                one_line(&step.reason)
            )?;
        }
        for conflict in &self.conflicts {
            writeln!(
                f,
                "! {}: {}",
                one_line(&conflict.key.to_string()),
                one_line(&conflict.reason)
            )?;
        }
        for check in &self.checks {
            writeln!(f, "? {}", one_line(&check.to_string()))?;
        }
        Ok(())
    }
}

/// `text` on one line: control characters (a newline in an observed name
/// would otherwise end a comment in the script) become spaces.
pub(crate) fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Which of `keys` the host has.
pub fn present(observed: &WindowsObserved, keys: &WindowsInventory) -> WindowsInventory {
    let live = Live::new(observed);
    keys.iter().filter(|key| live.has(key)).cloned().collect()
}

/// The inventory after a successful apply of `desired`.
pub fn next_inventory(desired: &WindowsDesired) -> WindowsInventory {
    desired.objects.iter().map(WindowsObject::key).collect()
}

/// The steps that take the Windows host from `observed` to `desired`,
/// pruning only what `owned` lists: the shared reconciler's rules
/// (`crate::reconcile`), with Windows' comparisons and wording.
pub fn plan(desired: &WindowsDesired, observed: &WindowsObserved, owned: &WindowsInventory) -> WindowsPlan {
    let live = Live::new(observed);
    let mut plan = WindowsPlan {
        node: desired.node.clone(),
        checks: desired.checks.clone(),
        steps: Vec::new(),
        conflicts: Vec::new(),
    };
    let decisions = reconcile::<Windows>(
        &desired.objects,
        owned,
        |key| live.has(key),
        |object| live.difference(object),
    );
    for decision in decisions {
        match decision {
            Decision::Delete(key) => {
                let (reason, disruption) = delete_consequence(key);
                plan.steps.push(WindowsStep {
                    action: Action::Delete,
                    key: key.clone(),
                    object: None,
                    reason,
                    disruption,
                });
            }
            Decision::Change(change) => plan.steps.push(WindowsStep {
                action: change.action,
                key: change.key,
                reason: change.reason,
                disruption: change.disruption,
                object: Some(change.object.clone()),
            }),
            Decision::Conflict { key, reason } => plan.conflicts.push(WindowsConflict { key, reason }),
        }
    }
    plan
}

/// Windows host objects, for the shared reconciler.
struct Windows;

impl Model for Windows {
    type Key = WindowsKey;
    type Object = WindowsObject;

    fn key(object: &WindowsObject) -> WindowsKey {
        object.key()
    }

    fn delete_rank(key: &WindowsKey) -> u8 {
        key.delete_rank()
    }

    /// The program itself asks for stale source-VIP files to go, owned or
    /// not; anything else foreign is not removed.
    fn recreates_foreign(object: &WindowsObject) -> bool {
        matches!(object, WindowsObject::SourceVip { .. })
    }

    fn recreate_consequence(object: &WindowsObject) -> String {
        recreate_consequence(object)
    }

    const REMOVE: &'static str = "remove";
}

/// What the node loses when an HNS network goes.
const HNS_REMOVAL: &str =
    "every pod endpoint on it goes, and the node loses connectivity for seconds while HNS re-creates the vSwitch";

/// The reason and class of deleting what `key` names.
fn delete_consequence(key: &WindowsKey) -> (String, Disruption) {
    match key {
        WindowsKey::File(_) => ("no longer in the program".to_string(), Disruption::Hitless),
        WindowsKey::FirewallRule(_) => (
            "no longer in the program; the port it opened is closed".to_string(),
            Disruption::ConnectivityRisk,
        ),
        WindowsKey::HnsNetwork(_) => (
            format!("no longer in the program; {HNS_REMOVAL}"),
            Disruption::ConnectivityRisk,
        ),
        WindowsKey::HnsEndpoint(_) => (
            "no longer in the program; pods on its network lose their gateway".to_string(),
            Disruption::ConnectivityRisk,
        ),
        WindowsKey::SourceVip(_) => (
            "no longer in the program; kube-proxy loses its source VIP (host-local's store keeps the address)"
                .to_string(),
            Disruption::ConnectivityRisk,
        ),
    }
}

/// What a recreate of `object` does, after the list of differences.
fn recreate_consequence(object: &WindowsObject) -> String {
    match object {
        WindowsObject::HnsNetwork(_) => {
            format!(": HNS cannot change a network in place, so it is removed and created again; {HNS_REMOVAL}")
        }
        WindowsObject::SourceVip { .. } => ": the stale files are removed and host-local reserves a new address, which kube-proxy uses once it restarts (the node re-joined with another pod subnet)".to_string(),
        WindowsObject::HnsEndpoint { .. } => {
            ": HNS cannot change an endpoint in place, so it is removed and created again; pods on its network lose their gateway meanwhile".to_string()
        }
        WindowsObject::FirewallRule { .. } | WindowsObject::File { .. } => String::new(),
    }
}
