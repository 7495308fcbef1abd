//! The reconciler both operating systems plan with: desired vs observed vs
//! owned gives the ordered decisions that make a host match its program.
//! Each OS says what its objects are (`Model`: keys, delete order, what is
//! never pruned) and how a desired object differs from its host (a
//! `Difference`); the rules are written once, here:
//!
//! - owned (in the inventory), no longer desired, still on the host:
//!   **delete**, dependents before what they sit on (`Model::delete_rank`),
//!   then by key; what is not owned is never deleted;
//! - desired, in program order: absent, **create**; different, **update**
//!   in place or **recreate**, marked as adopting when netc does not own
//!   it; a recreate of what netc does not own is a **conflict** (removing
//!   a foreign object), not a step, unless the model says the program
//!   itself asks for it (`Model::recreates_foreign`);
//! - equal: nothing, so planning the result of an apply is empty.
//!
//! Each OS words its steps' reasons and classes from the decisions
//! (`engine::plan`, `windows::plan`). Cost: key lookups only, O(n log n).

use std::collections::BTreeSet;

use crate::engine::{Action, Disruption};

/// How a desired object differs from what the host has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// Not on the host: the reason and class of its create.
    Absent(String, Disruption),
    /// Changeable in place: the differences and the class.
    InPlace(Vec<String>, Disruption),
    /// Only by removing it and creating it again: the differences and the
    /// class.
    Recreate(Vec<String>, Disruption),
}

/// One operating system's host objects, as the reconciler sees them.
pub trait Model {
    type Key: Ord + Clone;
    type Object;
    fn key(object: &Self::Object) -> Self::Key;
    /// Where a delete of `key` goes among the deletes: lower first, so
    /// dependents go before what they sit on.
    fn delete_rank(key: &Self::Key) -> u8;
    /// Whether netc ever deletes what `key` names.
    fn prunable(_key: &Self::Key) -> bool {
        true
    }
    /// Whether a recreate of `object` is planned even when netc does not
    /// own it (the program itself asks for it).
    fn recreates_foreign(_object: &Self::Object) -> bool {
        false
    }
    /// What a recreate of `object` does, said after its differences.
    fn recreate_consequence(_object: &Self::Object) -> String {
        String::new()
    }
    /// The verb a conflict's reason tells the operator to use.
    const REMOVE: &'static str;
}

/// What the plan does about one key.
pub enum Decision<'a, M: Model> {
    /// Remove what the inventory owns and the program no longer wants.
    Delete(&'a M::Key),
    /// Create, update or recreate a desired object.
    Change(Change<'a, M>),
    /// Left alone: reaching it would remove an object netc does not own.
    Conflict { key: M::Key, reason: String },
}

/// A create, update or recreate, with its reason in words: `Absent`'s for
/// a create, the differences for the others, then for a recreate what it
/// does, and for what netc does not own that it adopts it.
pub struct Change<'a, M: Model> {
    pub action: Action,
    pub key: M::Key,
    pub object: &'a M::Object,
    pub reason: String,
    pub disruption: Disruption,
}

/// The decisions that take a host to `desired`, pruning only what `owned`
/// lists: deletes first (`on_host` says which owned keys are still there),
/// then each desired object in program order, as `difference` compares it
/// with the host (it is called once per desired object, in order, so it
/// may remember what it decided before).
pub fn reconcile<'a, M: Model>(
    desired: &'a [M::Object],
    owned: &'a BTreeSet<M::Key>,
    on_host: impl Fn(&M::Key) -> bool,
    mut difference: impl FnMut(&M::Object) -> Option<Difference>,
) -> Vec<Decision<'a, M>> {
    let wanted: BTreeSet<M::Key> = desired.iter().map(M::key).collect();
    let mut deletes: Vec<(u8, &M::Key)> = owned
        .iter()
        .filter(|key| !wanted.contains(key) && M::prunable(key) && on_host(key))
        .map(|key| (M::delete_rank(key), key))
        .collect();
    deletes.sort();
    let mut decisions: Vec<Decision<'a, M>> = deletes.into_iter().map(|(_, key)| Decision::Delete(key)).collect();
    for object in desired {
        let Some(found) = difference(object) else {
            continue;
        };
        let key = M::key(object);
        let adopted = if owned.contains(&key) {
            ""
        } else {
            " (adopting an object netc did not create)"
        };
        let (action, reason, disruption) = match found {
            Difference::Absent(reason, disruption) => (Action::Create, reason, disruption),
            Difference::InPlace(changes, disruption) => {
                (Action::Update, format!("{}{adopted}", changes.join(", ")), disruption)
            }
            Difference::Recreate(changes, disruption) if adopted.is_empty() || M::recreates_foreign(object) => {
                let consequence = M::recreate_consequence(object);
                (
                    Action::Recreate,
                    format!("{}{consequence}{adopted}", changes.join(", ")),
                    disruption,
                )
            }
            Difference::Recreate(changes, _) => {
                let reason = format!(
                    "{} needs a recreate, but netc did not create it: {} it by hand or let netc adopt it",
                    changes.join(", "),
                    M::REMOVE
                );
                decisions.push(Decision::Conflict { key, reason });
                continue;
            }
        };
        decisions.push(Decision::Change(Change {
            action,
            key,
            object,
            reason,
            disruption,
        }));
    }
    decisions
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Objects are `(name, value)`; names starting with `vip` may be
    /// recreated when foreign; `z` names are never pruned; `b` names are
    /// deleted before `a` names.
    struct Toy;

    impl Model for Toy {
        type Key = String;
        type Object = (String, u32);
        fn key(object: &(String, u32)) -> String {
            object.0.clone()
        }
        fn delete_rank(key: &String) -> u8 {
            u8::from(!key.starts_with('b'))
        }
        fn prunable(key: &String) -> bool {
            !key.starts_with('z')
        }
        fn recreates_foreign(object: &(String, u32)) -> bool {
            object.0.starts_with("vip")
        }
        const REMOVE: &'static str = "remove";
    }

    fn summary(decisions: &[Decision<'_, Toy>]) -> Vec<String> {
        decisions
            .iter()
            .map(|decision| match decision {
                Decision::Delete(key) => format!("delete {key}"),
                Decision::Change(change) => format!("{:?} {}: {}", change.action, change.key, change.reason),
                Decision::Conflict { key, reason } => format!("conflict {key}: {reason}"),
            })
            .collect()
    }

    /// The shared rules on a toy host: only owned keys still on the host
    /// are pruned, in rank order, never an unprunable one; creates, updates
    /// and recreates follow program order; a recreate of a foreign object
    /// is a conflict unless the model asks for it; equal objects plan
    /// nothing.
    #[test]
    fn the_rules_hold_for_any_model() {
        let host: BTreeSet<&str> = [
            "a-old",
            "b-old",
            "z-old",
            "gone-foreign",
            "same",
            "upd",
            "rec",
            "vip",
            "mine",
        ]
        .into();
        let owned: BTreeSet<String> = ["a-old", "b-old", "z-old", "missing", "mine"]
            .iter()
            .map(|k| k.to_string())
            .collect();
        let desired: Vec<(String, u32)> = [("new", 1), ("same", 1), ("upd", 2), ("rec", 3), ("vip", 3), ("mine", 3)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let decisions = reconcile::<Toy>(
            &desired,
            &owned,
            |key| host.contains(key.as_str()),
            |object| match object.0.as_str() {
                "new" => Some(Difference::Absent("absent".into(), Disruption::Hitless)),
                "same" => None,
                "upd" => Some(Difference::InPlace(vec!["value".into()], Disruption::Hitless)),
                _ => Some(Difference::Recreate(vec!["value".into()], Disruption::Recreate)),
            },
        );
        assert_eq!(
            summary(&decisions),
            [
                "delete b-old",
                "delete a-old",
                "Create new: absent",
                "Update upd: value (adopting an object netc did not create)",
                "conflict rec: value needs a recreate, but netc did not create it: remove it by hand or let netc adopt it",
                "Recreate vip: value (adopting an object netc did not create)",
                "Recreate mine: value",
            ]
        );
    }
}
