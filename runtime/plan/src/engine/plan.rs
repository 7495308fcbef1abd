//! Desired vs observed vs owned: the ordered steps that make a host match
//! its program.
//!
//! Inputs: `desired` (from `desired::desired`, parents before dependents),
//! `Observed` (the live state a driver read: key to object) and `Inventory`
//! (the keys netc created or adopted in earlier applies, from the state
//! directory). Rules, per key:
//! - desired, not observed: **create**.
//! - desired, observed, equal (in the compared fields): nothing. Planning
//!   the result of an apply is therefore empty (idempotence).
//! - desired, observed, different: **update** in place, or **recreate**
//!   (delete and create) when the kernel cannot change it in place.
//! - owned, no longer desired, observed: **delete** (prune).
//! - observed, not owned, not desired: never touched. This is the safety
//!   property: netc deletes only what its inventory says it created.
//!   A desired object that is observed but not owned and differs is
//!   adopted by an in-place update (noted in the reason); one that would
//!   need a recreate (deleting a foreign link) is not planned but reported
//!   as a `Conflict`, and a driver must not apply a plan with conflicts.
//! - Modules and sysctls are never deleted: unloading `br_netfilter` or
//!   resetting `ip_forward` would break other users of the same setting
//!   (kube-proxy, the container runtime), and the old value is not known.
//!   They simply leave the inventory, which after a successful apply is the
//!   desired keys (`next_inventory`).
//!
//! Order of the steps (deterministic):
//! 1. deletes, dependents before what they sit on: routes, FDB entries,
//!    neighbours, the masquerade chain, addresses, links, files (then by
//!    key);
//! 2. creates, updates and recreates in desired (program) order, which has
//!    parents before dependents (link, then its sysctls and addresses, then
//!    neighbours, FDB entries, routes). A recreated link is one `Recreate`
//!    step (the driver deletes and creates it); every desired object that
//!    lives on it (`Object::depends_on_link`) follows as a create, since
//!    the kernel removes those with the link.
//!
//! Disruption classes, per step:
//! - creates are `Hitless`: a new object (file, sysctl, module, link,
//!   address, neighbour, FDB entry, route to a new peer, masquerade chain)
//!   changes no traffic that works today;
//! - file, sysctl and module updates are `Hitless`: files are replaced
//!   atomically and a sysctl write is a single store;
//! - link MTU, MAC, learning and up changes are `Flap`: the kernel can
//!   change them in place (`ip link set`, the vxlan changelink), but the MAC
//!   may need the device down and an MTU change drops packets in flight;
//! - a vxlan VNI, port, local address or underlay change, or a change of
//!   link kind, is `Recreate`: the kernel's vxlan changelink refuses them
//!   and flannel deletes and recreates the device (`vxlanLinksIncompat`,
//!   flannel v0.28.9 `pkg/backend/vxlan/device.go`); the objects re-created
//!   with it share the class. Which link settings recreate and their
//!   classes come from the table the pull-request preview uses too
//!   (`netc_compiler::preview::Setting`), so both say the same word;
//! - route, neighbour, FDB and masquerade updates, and every delete except
//!   a file's, are `ConnectivityRisk`: they change where live pod traffic
//!   goes (a wrong neighbour or FDB entry black-holes a peer's subnet).
//!
//! Cost: one `BTreeMap` of desired keys and lookups in `Observed` and
//! `Inventory`: O(n log n) in the number of objects.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::objects::{Object, ObjectKey, VxlanLink};
use crate::reconcile::{reconcile, Decision, Difference, Model};
use netc_compiler::preview::Setting;

/// The live state of the host, as a driver read it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Observed(pub BTreeMap<ObjectKey, Object>);

impl Observed {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, object: Object) -> Option<Object> {
        self.0.insert(object.key(), object)
    }

    pub fn remove(&mut self, key: &ObjectKey) -> Option<Object> {
        self.0.remove(key)
    }

    pub fn get(&self, key: &ObjectKey) -> Option<&Object> {
        self.0.get(key)
    }
}

impl FromIterator<Object> for Observed {
    fn from_iter<I: IntoIterator<Item = Object>>(objects: I) -> Self {
        Observed(objects.into_iter().map(|o| (o.key(), o)).collect())
    }
}

/// The keys of the objects netc created (or adopted) in earlier applies.
pub type Inventory = BTreeSet<ObjectKey>;

/// The inventory after a successful apply of `desired`.
pub fn next_inventory(desired: &[Object]) -> Inventory {
    desired.iter().map(Object::key).collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    /// Delete and create again (links only).
    Recreate,
    Delete,
}

impl Action {
    /// How plans print it: `+` create, `~` update, `-/+` recreate, `-` delete.
    pub fn sign(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Recreate => "-/+",
            Action::Delete => "-",
        }
    }
}

/// How disruptive a step is: the same classes a pull request's preview
/// gives topology changes (`netc diff`), so a plan and a preview name a
/// consequence alike. A node's plan never needs `Downtime`, which is a
/// whole-cluster consequence.
pub use netc_compiler::preview::Class as Disruption;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub action: Action,
    pub key: ObjectKey,
    /// The desired object; for a delete, the observed one.
    pub object: Object,
    pub reason: String,
    pub disruption: Disruption,
}

/// A desired object the plan leaves alone because reaching it would delete
/// an object netc does not own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub key: ObjectKey,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub conflicts: Vec<Conflict>,
}

impl Plan {
    /// Nothing to do and nothing in the way.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.conflicts.is_empty()
    }
}

/// One line per step, `SIGN OBJECT  [CLASS] REASON`, with `+` create, `~`
/// update, `-/+` recreate and `-` delete; then one `! KEY: REASON` line per
/// conflict.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            let sign = step.action.sign();
            writeln!(f, "{sign} {}  [{}] {}", step.object, step.disruption, step.reason)?;
        }
        for conflict in &self.conflicts {
            writeln!(f, "! {}: {}", conflict.key, conflict.reason)?;
        }
        Ok(())
    }
}

/// The steps that take the host from `observed` to `desired`, pruning only
/// what `owned` lists. `desired` must have parents before dependents and
/// unique keys, as `desired::desired` guarantees. The rules are the shared
/// reconciler's (`crate::reconcile`); this says how Linux objects compare
/// and words the steps.
pub fn plan(desired: &[Object], observed: &Observed, owned: &Inventory) -> Plan {
    // Links this plan recreates: what lives on them is created again.
    let mut recreated: Vec<String> = Vec::new();
    let decisions = reconcile::<Linux>(
        desired,
        owned,
        |key| observed.get(key).is_some(),
        |object| {
            if let Some(link) = recreated.iter().find(|link| object.depends_on_link(link)) {
                return Some(Difference::Absent(
                    format!("re-created with link {link}"),
                    Disruption::Recreate,
                ));
            }
            let key = object.key();
            let Some(have) = observed.get(&key) else {
                return Some(Difference::Absent("absent".into(), Disruption::Hitless));
            };
            let difference = compare(object, have)?;
            if let (Difference::Recreate(..), true) = (&difference, owned.contains(&key)) {
                if let Object::VxlanLink(VxlanLink { name, .. }) | Object::Bridge { name, .. } = object {
                    recreated.push(name.clone());
                }
            }
            Some(difference)
        },
    );
    let mut plan = Plan::default();
    for decision in decisions {
        match decision {
            Decision::Delete(key) => {
                let Some(object) = observed.get(key) else {
                    continue;
                };
                plan.steps.push(Step {
                    action: Action::Delete,
                    key: key.clone(),
                    object: object.clone(),
                    reason: "no longer in the program".into(),
                    disruption: match key {
                        ObjectKey::File(_) => Disruption::Hitless,
                        _ => Disruption::ConnectivityRisk,
                    },
                });
            }
            Decision::Change(change) => plan.steps.push(Step {
                object: change.object.clone(),
                action: change.action,
                key: change.key,
                reason: change.reason,
                disruption: change.disruption,
            }),
            Decision::Conflict { key, reason } => plan.conflicts.push(Conflict { key, reason }),
        }
    }
    plan
}

/// Linux host objects, for the shared reconciler.
struct Linux;

impl Model for Linux {
    type Key = ObjectKey;
    type Object = Object;

    fn key(object: &Object) -> ObjectKey {
        object.key()
    }

    fn delete_rank(key: &ObjectKey) -> u8 {
        key.delete_rank()
    }

    fn prunable(key: &ObjectKey) -> bool {
        prunable(key)
    }

    const REMOVE: &'static str = "delete";
}

/// Modules and sysctls are never deleted (see the module header).
fn prunable(key: &ObjectKey) -> bool {
    !matches!(key, ObjectKey::Module(_) | ObjectKey::Sysctl(_))
}

/// How `have` must change to become `want` (same key), or `None` when they
/// agree in every compared field.
fn compare(want: &Object, have: &Object) -> Option<Difference> {
    let mut changes = Vec::new();
    let disruption = match (want, have) {
        (Object::VxlanLink(want), Object::VxlanLink(have)) => {
            let mut link = LinkChanges::default();
            link.setting(Setting::VxlanVni, "vni", &have.vni, &want.vni);
            link.setting(Setting::VxlanPort, "dstport", &have.port, &want.port);
            link.setting(Setting::VxlanLocal, "local", &have.local, &want.local);
            if let Some(underlay) = &want.underlay {
                link.setting(Setting::VxlanUnderlay, "dev", &display(&have.underlay), underlay);
            }
            link.setting(Setting::LinkMac, "address", &have.mac, &want.mac);
            link.setting(Setting::LinkMtu, "mtu", &have.mtu, &want.mtu);
            link.setting(Setting::VxlanLearning, "learning", &have.learning, &want.learning);
            link.bring_up(want.up, have.up);
            return link.difference();
        }
        (Object::Bridge { mtu, up, .. }, Object::Bridge { mtu: mtu0, up: up0, .. }) => {
            let mut link = LinkChanges::default();
            link.setting(Setting::LinkMtu, "mtu", mtu0, mtu);
            link.bring_up(*up, *up0);
            return link.difference();
        }
        (Object::VxlanLink(_), Object::Bridge { .. }) => {
            let mut link = LinkChanges::default();
            link.setting(Setting::LinkKind, "kind", "bridge", "vxlan");
            return link.difference();
        }
        (Object::Bridge { .. }, Object::VxlanLink(_)) => {
            let mut link = LinkChanges::default();
            link.setting(Setting::LinkKind, "kind", "vxlan", "bridge");
            return link.difference();
        }
        (Object::Sysctl { value, .. }, Object::Sysctl { value: value0, .. }) => {
            field(&mut changes, "value", value0, value);
            Disruption::Hitless
        }
        (
            Object::File { content, mode, .. },
            Object::File {
                content: content0,
                mode: mode0,
                ..
            },
        ) => {
            if content != content0 {
                changes.push("content differs".into());
            }
            if mode.is_some() {
                field(&mut changes, "mode", &display(mode0), &display(mode));
            }
            Disruption::Hitless
        }
        (
            Object::Route {
                via, device, onlink, ..
            },
            Object::Route {
                via: via0,
                device: device0,
                onlink: onlink0,
                ..
            },
        ) => {
            field(&mut changes, "via", via0, via);
            if let Some(device) = device {
                field(&mut changes, "dev", &display(device0), device);
            }
            field(&mut changes, "onlink", onlink0, onlink);
            Disruption::ConnectivityRisk
        }
        (Object::Neighbour { mac, .. }, Object::Neighbour { mac: mac0, .. }) => {
            field(&mut changes, "lladdr", mac0, mac);
            Disruption::ConnectivityRisk
        }
        (Object::Fdb { dst, .. }, Object::Fdb { dst: dst0, .. }) => {
            field(&mut changes, "dst", dst0, dst);
            Disruption::ConnectivityRisk
        }
        (
            Object::Masquerade { source, except, .. },
            Object::Masquerade {
                source: source0,
                except: except0,
                ..
            },
        ) => {
            field(&mut changes, "source", source0, source);
            field(&mut changes, "except", &except0.join(","), &except.join(","));
            Disruption::ConnectivityRisk
        }
        (
            Object::ForwardAccept { networks, .. },
            Object::ForwardAccept {
                networks: networks0, ..
            },
        ) => {
            field(&mut changes, "networks", &networks0.join(","), &networks.join(","));
            Disruption::ConnectivityRisk
        }
        // Modules and addresses have no state beyond their key.
        _ => return None,
    };
    (!changes.is_empty()).then_some(Difference::InPlace(changes, disruption))
}

/// A link's differences, sorted by what the shared table
/// (`netc_compiler::preview::Setting`) says changing each setting does.
#[derive(Default)]
struct LinkChanges {
    recreate: Vec<String>,
    in_place: Vec<String>,
    /// The most severe class of any change (classes sort most severe
    /// first).
    class: Option<Disruption>,
}

impl LinkChanges {
    fn setting<T: PartialEq + fmt::Display + ?Sized>(&mut self, setting: Setting, name: &str, have: &T, want: &T) {
        if have == want {
            return;
        }
        let consequence = setting.consequence();
        let list = if consequence.recreates {
            &mut self.recreate
        } else {
            &mut self.in_place
        };
        list.push(format!("{name} {have} -> {want}"));
        self.note(consequence.class);
    }

    /// Setting a link up changes it in place, as an MTU change does.
    fn bring_up(&mut self, want: bool, have: bool) {
        if want && !have {
            self.in_place.push("down -> up".into());
            self.note(Setting::LinkMtu.consequence().class);
        }
    }

    /// Keep the more severe of the class so far and `class`.
    fn note(&mut self, class: Disruption) {
        self.class = Some(self.class.map_or(class, |so_far| so_far.min(class)));
    }

    /// A recreate lists the settings that force it first, then the rest.
    fn difference(mut self) -> Option<Difference> {
        let class = self.class?;
        if self.recreate.is_empty() {
            return Some(Difference::InPlace(self.in_place, class));
        }
        self.recreate.append(&mut self.in_place);
        Some(Difference::Recreate(self.recreate, class))
    }
}

fn field<T: PartialEq + fmt::Display + ?Sized>(out: &mut Vec<String>, name: &str, have: &T, want: &T) {
    if have != want {
        out.push(format!("{name} {have} -> {want}"));
    }
}

fn display(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "(none)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(vni: u32, mtu: u32) -> Object {
        Object::VxlanLink(VxlanLink {
            name: "flannel.4096".into(),
            vni,
            port: 4789,
            local: "198.51.100.11".parse().unwrap(),
            underlay: None,
            mac: "02:aa:00:00:00:01".parse().unwrap(),
            mtu,
            learning: false,
            up: true,
        })
    }

    fn route(destination: &str, via: &str) -> Object {
        Object::Route {
            destination: destination.parse().unwrap(),
            via: via.parse().unwrap(),
            device: Some("flannel.4096".into()),
            onlink: true,
        }
    }

    #[test]
    fn human_and_json_rendering() {
        let desired = [route("198.18.1.0/24", "198.18.1.0")];
        let plan = plan(&desired, &Observed::new(), &Inventory::new());
        assert_eq!(
            plan.to_string(),
            "+ route 198.18.1.0/24 via 198.18.1.0 dev flannel.4096 onlink  [hitless] absent\n"
        );
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["steps"][0]["action"], "create");
        assert_eq!(json["steps"][0]["disruption"], "hitless");
        assert_eq!(json["steps"][0]["key"]["route"], "198.18.1.0/24");
        assert_eq!(json["steps"][0]["object"]["kind"], "route");
        let back: Plan = serde_json::from_value(json).unwrap();
        assert_eq!(back, plan);
    }

    #[test]
    fn link_changes_are_classified() {
        let owned: Inventory = [ObjectKey::Link("flannel.4096".into())].into();
        let observed: Observed = [link(4096, 1500)].into_iter().collect();
        let mtu = plan(&[link(4096, 1450)], &observed, &owned);
        assert_eq!(mtu.steps.len(), 1);
        assert_eq!(mtu.steps[0].action, Action::Update);
        assert_eq!(mtu.steps[0].disruption, Disruption::Flap);
        assert_eq!(mtu.steps[0].reason, "mtu 1500 -> 1450");

        let vni = plan(&[link(4097, 1500)], &observed, &owned);
        assert_eq!(vni.steps.len(), 1);
        assert_eq!(vni.steps[0].action, Action::Recreate);
        assert_eq!(vni.steps[0].disruption, Disruption::Recreate);

        let bridge = Object::Bridge {
            name: "flannel.4096".into(),
            mtu: 1500,
            up: true,
        };
        let kind = plan(&[bridge], &observed, &owned);
        assert_eq!(kind.steps[0].action, Action::Recreate);
        assert_eq!(kind.steps[0].reason, "kind vxlan -> bridge");
    }

    #[test]
    fn a_foreign_link_is_never_recreated() {
        let observed: Observed = [link(1, 1450)].into_iter().collect();
        let plan = plan(&[link(4096, 1450)], &observed, &Inventory::new());
        assert!(plan.steps.is_empty());
        assert_eq!(plan.conflicts.len(), 1);
        assert!(plan.to_string().starts_with("! link flannel.4096: vni 1 -> 4096"));
    }

    #[test]
    fn foreign_objects_at_desired_keys_are_adopted_in_place() {
        let observed: Observed = [route("198.18.1.0/24", "198.18.9.9")].into_iter().collect();
        let plan = plan(&[route("198.18.1.0/24", "198.18.1.0")], &observed, &Inventory::new());
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(plan.steps[0].action, Action::Update);
        assert_eq!(plan.steps[0].disruption, Disruption::ConnectivityRisk);
        assert!(plan.steps[0].reason.contains("adopting"), "{}", plan.steps[0].reason);
    }

    #[test]
    fn modules_and_sysctls_are_never_pruned() {
        let module = Object::Module {
            name: "br_netfilter".into(),
        };
        let sysctl = Object::Sysctl {
            key: "net.ipv4.ip_forward".into(),
            value: "1".into(),
            best_effort: false,
        };
        let observed: Observed = [module.clone(), sysctl.clone()].into_iter().collect();
        let owned = next_inventory(&[module, sysctl]);
        assert!(plan(&[], &observed, &owned).is_empty());
    }

    #[test]
    fn deletes_go_dependents_first() {
        let address = Object::Address {
            device: "flannel.4096".into(),
            cidr: "198.18.0.0/32".parse().unwrap(),
        };
        let neighbour = Object::Neighbour {
            device: "flannel.4096".into(),
            ip: "198.18.1.0".parse().unwrap(),
            mac: "02:aa:00:00:00:02".parse().unwrap(),
        };
        let old = [
            link(4096, 1450),
            address,
            neighbour,
            route("198.18.1.0/24", "198.18.1.0"),
        ];
        let observed: Observed = old.iter().cloned().collect();
        let plan = plan(&[], &observed, &next_inventory(&old));
        let order: Vec<String> = plan.steps.iter().map(|s| s.key.to_string()).collect();
        assert_eq!(
            order,
            [
                "route 198.18.1.0/24",
                "neighbour 198.18.1.0 dev flannel.4096",
                "address 198.18.0.0/32 dev flannel.4096",
                "link flannel.4096",
            ]
        );
        assert!(plan.steps.iter().all(|s| s.action == Action::Delete));
    }
}
