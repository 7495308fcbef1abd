//! The way back after a failed Windows apply. The apply script stops at its
//! first error without saying how far it got, and one of its steps may
//! have run halfway (an HNS network made, the wait for the host address
//! failed), so the undo does not trust a list of finished steps: it
//! compares the host as observed before the run with the host now, for the
//! keys the failed plan touched, and plans the way back with the same
//! reconciler as any apply:
//!
//! - a key that was absent before is owned by the undo, and not desired, so
//!   it is deleted if the run made it;
//! - a key the host had before is desired as it was (`Live::restorable`),
//!   so a change the run made is updated or recreated back, and a key the
//!   run deleted is created again;
//! - a key that cannot be made again exactly (a source VIP reservation, a
//!   firewall rule for several ports, ...) is left as it is and named in
//!   `not_undone`; it is never deleted.
//!
//! A key nothing happened to compares equal and plans nothing.

use std::cmp::Reverse;

use super::compare::Live;
use super::{plan, WindowsPlan};
use crate::windows::objects::{WindowsDesired, WindowsObject};
use crate::windows::observed::{WindowsInventory, WindowsObserved};

/// The undo of a failed apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undo {
    /// What takes the host back (run like any plan).
    pub plan: WindowsPlan,
    /// Keys the failed plan touched that cannot be put back as they were.
    pub not_undone: Vec<String>,
}

/// The undo of `failed`, applied to a host observed as `before` the run,
/// which now is `after`.
pub fn undo(failed: &WindowsPlan, before: &WindowsObserved, after: &WindowsObserved) -> Undo {
    let (was, now) = (Live::new(before), Live::new(after));
    let mut owned = WindowsInventory::new();
    let mut restore: Vec<WindowsObject> = Vec::new();
    let mut not_undone = Vec::new();
    for step in &failed.steps {
        if !was.has(&step.key) {
            owned.insert(step.key.clone());
            continue;
        }
        match was.restorable(&step.key, step.object.as_ref()) {
            Some(object) => {
                owned.insert(step.key.clone());
                restore.push(object);
            }
            // Unchanged is fine; changed and not restorable is said.
            None if was.same_as(&now, &step.key) => {}
            None => not_undone.push(step.key.to_string()),
        }
    }
    // What others sit on first: files, firewall rules, networks, endpoints.
    restore.sort_by_key(|object| Reverse(object.key().delete_rank()));
    let desired = WindowsDesired {
        node: failed.node.clone(),
        checks: Vec::new(),
        objects: restore,
    };
    let mut plan = plan(&desired, after, &owned);
    for step in &mut plan.steps {
        step.reason = format!("undo: {}", step.reason);
    }
    Undo { plan, not_undone }
}
