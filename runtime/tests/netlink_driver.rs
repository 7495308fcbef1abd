//! The netlink driver against a real kernel.
//!
//! - `static_vxlan_between_two_namespaces`: two nodes' vxlan objects in two
//!   namespaces joined by a veth pair (the underlay): plan, apply through
//!   the pipelined path, idempotence (the full create plan applied again
//!   changes nothing), the kernel state as iproute2 prints it (protocol 211,
//!   `self permanent` FDB entries, the link's settings), drift repair (a
//!   deleted route, a changed MTU), a foreign route observed but never
//!   pruned while netc's own is, a repeated delete that is harmless, an
//!   in-place learning update, a VNI change that recreates the link, and a
//!   ping over the vxlan.
//! - `a_pipelined_run_answers_for_every_step_it_sent`: 300 route steps sent
//!   in batches into one node namespace (`common::NodeNamespace`), one of
//!   them refused by the kernel: an outcome for every step sent, in order,
//!   exactly the steps reported applied on the host, nothing sent after the
//!   failed step's batch, and a delete of a route already gone counted as
//!   done; a step that cannot be sent at all ends the run there.
//!
//! Needs root; skipped with a printed reason otherwise, unless
//! `NETC_REQUIRE_ROOT_TESTS=1` (then it fails). Network safety: nothing is
//! created in the root namespace (veth pairs are created directly inside
//! the namespaces), only 198.18.0.0/15 and 198.51.100.0/24 are used (and
//! 203.0.113.1 as a gateway that is not on the link, so the kernel refuses
//! that route), the namespaces have unique names and are deleted by a
//! guard, also when the test fails, and every loop is bounded.

use std::collections::BTreeSet;
use std::process::Command;

use netc_node::driver::linux::netlink::{Netlink, NETC_ROUTE_PROTOCOL};
use netc_plan::engine::plan::next_inventory;
use netc_plan::engine::{plan, Action, Disruption, Inventory, Mac, Object, ObjectKey, Plan, Step, VxlanLink};

mod common;
use common::{is_root, run, skip, NodeNamespace};

const VXLAN: &str = "flannel.4096";

/// Two namespaces joined by a veth pair; deleted on drop.
struct Namespaces {
    a: String,
    b: String,
}

impl Namespaces {
    fn new() -> Namespaces {
        let pid = std::process::id();
        let names = Namespaces {
            a: format!("netc-nl-{pid}-a"),
            b: format!("netc-nl-{pid}-b"),
        };
        // The guard exists before anything is created, so a failure below
        // still cleans up.
        run(&["ip", "netns", "add", &names.a]);
        run(&["ip", "netns", "add", &names.b]);
        run(&[
            "ip", "link", "add", "veth-a", "netns", &names.a, "type", "veth", "peer", "name", "veth-b", "netns",
            &names.b,
        ]);
        for (ns, dev, ip) in [
            (&names.a, "veth-a", "198.51.100.11/24"),
            (&names.b, "veth-b", "198.51.100.12/24"),
        ] {
            run(&["ip", "-n", ns, "addr", "add", ip, "dev", dev]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            run(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        names
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// The objects of a small static-vxlan program for node `n` (1 or 2) with
/// one peer, as `engine::desired` prints them.
fn node(n: u8, underlay: Option<&str>) -> Vec<Object> {
    let peer = 3 - n;
    let mac = |n: u8| -> Mac { format!("02:00:c6:12:0{n}:00").parse().unwrap() };
    vec![
        Object::VxlanLink(VxlanLink {
            name: VXLAN.into(),
            vni: 4096,
            port: 4789,
            local: format!("198.51.100.1{n}").parse().unwrap(),
            underlay: underlay.map(str::to_owned),
            mac: mac(n),
            mtu: 1450,
            learning: false,
            up: true,
        }),
        Object::Address {
            device: VXLAN.into(),
            cidr: format!("198.18.{n}.0/32").parse().unwrap(),
        },
        Object::Bridge {
            name: "cni0".into(),
            mtu: 1450,
            up: true,
        },
        Object::Address {
            device: "cni0".into(),
            cidr: format!("198.18.{n}.1/24").parse().unwrap(),
        },
        Object::Neighbour {
            device: VXLAN.into(),
            ip: format!("198.18.{peer}.0").parse().unwrap(),
            mac: mac(peer),
        },
        Object::Fdb {
            device: VXLAN.into(),
            mac: mac(peer),
            dst: format!("198.51.100.1{peer}").parse().unwrap(),
        },
        Object::Route {
            destination: format!("198.18.{peer}.0/24").parse().unwrap(),
            via: format!("198.18.{peer}.0").parse().unwrap(),
            device: Some(VXLAN.into()),
            onlink: true,
        },
    ]
}

fn keys(desired: &[Object], inventory: &Inventory) -> BTreeSet<ObjectKey> {
    desired
        .iter()
        .map(Object::key)
        .chain(inventory.iter().cloned())
        .collect()
}

fn plan_for(netlink: &Netlink, desired: &[Object], inventory: &Inventory) -> Plan {
    let observed = netlink.observe(&keys(desired, inventory)).unwrap();
    let plan = plan(desired, &observed, inventory);
    assert!(plan.conflicts.is_empty(), "{plan}");
    plan
}

/// The whole plan through the pipelined path, which must apply every step.
fn apply_all(netlink: &Netlink, plan: &Plan) {
    let outcomes = netlink.apply_all(&plan.steps);
    assert_eq!(outcomes.len(), plan.steps.len(), "not every step was sent:\n{plan}");
    for outcome in outcomes {
        outcome.unwrap_or_else(|e| panic!("{e}\nplan:\n{plan}"));
    }
}

/// Plan, apply, and check the result plans empty; returns the inventory.
fn converge(netlink: &Netlink, desired: &[Object]) -> Inventory {
    let inventory = Inventory::new();
    let first = plan_for(netlink, desired, &inventory);
    assert_eq!(first.steps.len(), desired.len(), "{first}");
    apply_all(netlink, &first);
    let inventory = next_inventory(desired);
    let again = plan_for(netlink, desired, &inventory);
    assert!(again.is_empty(), "not idempotent:\n{again}");
    inventory
}

#[test]
fn static_vxlan_between_two_namespaces() {
    if !is_root() && skip("not root (network namespaces need CAP_NET_ADMIN)") {
        return;
    }
    if Command::new("ip").arg("-V").output().is_err() && skip("no `ip` command") {
        return;
    }
    let ns = Namespaces::new();
    let a = Netlink::in_namespace(Some(&ns.a)).unwrap();
    let b = Netlink::in_namespace(Some(&ns.b)).unwrap();

    // Node 1 finds its underlay by its local address, node 2 names it.
    let desired_a = node(1, None);
    let desired_b = node(2, Some("veth-b"));
    let inventory = converge(&a, &desired_a);
    converge(&b, &desired_b);

    // The kernel state reads back as iproute2 prints it.
    let routes = run(&["ip", "-n", &ns.a, "route", "show", "198.18.2.0/24"]);
    assert!(
        routes.contains(&format!(
            "via 198.18.2.0 dev {VXLAN} proto {NETC_ROUTE_PROTOCOL} onlink"
        )),
        "{routes}"
    );
    let fdb = run(&["bridge", "-n", &ns.a, "fdb", "show", "dev", VXLAN]);
    assert!(
        fdb.contains("02:00:c6:12:02:00 dst 198.51.100.12 self permanent"),
        "{fdb}"
    );
    let link = run(&["ip", "-n", &ns.a, "-d", "link", "show", VXLAN]);
    for part in [
        "mtu 1450",
        "02:00:c6:12:01:00",
        "id 4096",
        "local 198.51.100.11",
        "dev veth-a",
        "dstport 4789",
        "nolearning",
    ] {
        assert!(link.contains(part), "{part} missing in {link}");
    }

    // A second apply round of the full create plan changes nothing.
    let before = a.observe(&keys(&desired_a, &inventory)).unwrap();
    apply_all(
        &a,
        &plan(&desired_a, &netc_plan::engine::Observed::new(), &Inventory::new()),
    );
    assert_eq!(a.observe(&keys(&desired_a, &inventory)).unwrap(), before);

    // Drift: a deleted route and a changed MTU, and nothing else.
    run(&["ip", "-n", &ns.a, "route", "del", "198.18.2.0/24"]);
    run(&["ip", "-n", &ns.a, "link", "set", VXLAN, "mtu", "1400"]);
    let drift = plan_for(&a, &desired_a, &inventory);
    let steps: Vec<(Action, ObjectKey)> = drift.steps.iter().map(|s| (s.action, s.key.clone())).collect();
    assert_eq!(
        steps,
        [
            (Action::Update, ObjectKey::Link(VXLAN.into())),
            (Action::Create, ObjectKey::Route("198.18.2.0/24".into())),
        ],
        "{drift}"
    );
    apply_all(&a, &drift);
    let restored = plan_for(&a, &desired_a, &inventory);
    assert!(restored.is_empty(), "drift not repaired:\n{restored}");

    // A foreign route (proto boot) is observed but never pruned; netc's
    // own route, dropped from the program, is.
    run(&[
        "ip",
        "-n",
        &ns.a,
        "route",
        "add",
        "198.19.7.0/24",
        "via",
        "198.51.100.12",
        "dev",
        "veth-a",
    ]);
    let foreign = ObjectKey::Route("198.19.7.0/24".into());
    let observed = a.observe(&keys(&desired_a, &inventory)).unwrap();
    assert!(observed.get(&foreign).is_some(), "foreign route not observed");
    assert!(!inventory.contains(&foreign));
    let fewer: Vec<Object> = desired_a
        .iter()
        .filter(|o| !matches!(o, Object::Route { .. }))
        .cloned()
        .collect();
    let prune = plan(&fewer, &observed, &inventory);
    let deletes: Vec<&ObjectKey> = prune
        .steps
        .iter()
        .filter(|s| s.action == Action::Delete)
        .map(|s| &s.key)
        .collect();
    assert_eq!(deletes, [&ObjectKey::Route("198.18.2.0/24".into())], "{prune}");
    apply_all(&a, &prune);
    let routes = run(&["ip", "-n", &ns.a, "route", "show"]);
    assert!(
        routes.contains("198.19.7.0/24 via 198.51.100.12 dev veth-a"),
        "{routes}"
    );
    assert!(!routes.contains("198.18.2.0/24"), "{routes}");
    // Deleting again (a retried apply) is harmless.
    apply_all(&a, &prune);
    let fewer_inventory = next_inventory(&fewer);
    assert!(plan_for(&a, &fewer, &fewer_inventory).is_empty());
    // And the route comes back.
    apply_all(&a, &plan_for(&a, &desired_a, &fewer_inventory));
    assert!(plan_for(&a, &desired_a, &inventory).is_empty());

    // In-place update (learning) and recreate (another VNI): the plan says
    // which, the apply does it, and the result plans empty.
    let mut learning = desired_a.clone();
    if let Object::VxlanLink(VxlanLink { learning, .. }) = &mut learning[0] {
        *learning = true;
    }
    let update = plan_for(&a, &learning, &inventory);
    assert_eq!(update.steps.len(), 1, "{update}");
    assert_eq!(update.steps[0].action, Action::Update, "{update}");
    apply_all(&a, &update);
    assert!(plan_for(&a, &learning, &inventory).is_empty());
    let mut other_vni = desired_a.clone();
    if let Object::VxlanLink(VxlanLink { vni, .. }) = &mut other_vni[0] {
        *vni = 4097;
    }
    let recreate = plan_for(&a, &other_vni, &inventory);
    assert_eq!(recreate.steps[0].action, Action::Recreate, "{recreate}");
    apply_all(&a, &recreate);
    assert!(plan_for(&a, &other_vni, &inventory).is_empty());
    assert!(run(&["ip", "-n", &ns.a, "-d", "link", "show", VXLAN]).contains("id 4097"));
    apply_all(&a, &plan_for(&a, &desired_a, &inventory));
    assert!(plan_for(&a, &desired_a, &inventory).is_empty());

    // Traffic: a pod-side address of node 1 reaches node 2's gateway over
    // the vxlan (bounded retries for the first packet).
    let reached = (0..3).any(|_| {
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.a,
                "ping",
                "-c",
                "1",
                "-W",
                "1",
                "-I",
                "198.18.1.1",
                "198.18.2.1",
            ])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    assert!(reached, "no ping from 198.18.1.1 to 198.18.2.1 over the vxlan");
}

/// A step of a route through `under0` of a `NodeNamespace`.
fn route_step(action: Action, destination: &str, via: &str) -> Step {
    let object = Object::Route {
        destination: destination.parse().unwrap(),
        via: via.parse().unwrap(),
        device: Some("under0".into()),
        onlink: false,
    };
    Step {
        action,
        key: object.key(),
        object,
        reason: "test".into(),
        disruption: Disruption::Hitless,
    }
}

/// Pipelining keeps the outcome of every step: a run of 300 route steps,
/// sent in batches, whose 200th the kernel refuses (its gateway is not on
/// the link: `ENETUNREACH`) answers for every step it sent, in order. Each
/// one reported applied is on the host, the refused one is not, the run
/// stops after the failed step's batch (nothing later is on the host), and
/// a delete of a route that is already gone counts as done. A step that
/// cannot even be sent (its device does not exist) ends the run there,
/// after the steps before it.
#[test]
fn a_pipelined_run_answers_for_every_step_it_sent() {
    if !is_root() && skip("the netlink driver needs root (network namespaces)") {
        return;
    }
    let ns = NodeNamespace::new("nl-pipe");
    let netlink = Netlink::in_namespace(Some(&ns.0)).unwrap();
    let destination = |i: usize| format!("198.18.{}.{}/32", i / 256, i % 256);
    let mut steps: Vec<Step> = (0..300)
        .map(|i| route_step(Action::Create, &destination(i), "198.51.100.1"))
        .collect();
    steps[50] = route_step(Action::Delete, "198.19.0.0/32", "198.51.100.1");
    steps[199] = route_step(Action::Create, &destination(199), "203.0.113.1");

    let outcomes = netlink.apply_all(&steps);
    assert!(
        outcomes.len() > 200 && outcomes.len() < 300,
        "{} outcomes: the run goes on to the end of the failed step's batch and stops there",
        outcomes.len()
    );
    let on_host: BTreeSet<String> = ns.routes().into_iter().collect();
    for (i, outcome) in outcomes.iter().enumerate() {
        match i {
            50 => assert!(outcome.is_ok(), "deleting a route that is gone: {outcome:?}"),
            199 => {
                let e = outcome.as_ref().unwrap_err();
                assert!(
                    e.0.starts_with("Create route 198.18.0.199/32 via 203.0.113.1 dev under0: adding"),
                    "{e}"
                );
                assert!(!on_host.contains("198.18.0.199"));
            }
            _ => {
                assert!(outcome.is_ok(), "step {i}: {outcome:?}");
                let ip = destination(i).trim_end_matches("/32").to_owned();
                assert!(
                    on_host.contains(&ip),
                    "step {i} reported applied, {ip} is not on the host"
                );
            }
        }
    }
    assert_eq!(
        on_host.len(),
        outcomes.len() - 2,
        "exactly the applied routes are on the host: {on_host:?}"
    );
    assert_eq!(netlink.writes(), outcomes.len());

    // A step that cannot be sent: the run ends with it.
    let mut blocked = vec![
        route_step(Action::Create, "198.19.1.0/32", "198.51.100.1"),
        route_step(Action::Create, "198.19.1.1/32", "198.51.100.1"),
        route_step(Action::Create, "198.19.1.2/32", "198.51.100.1"),
    ];
    if let Object::Route { device, .. } = &mut blocked[1].object {
        *device = Some("nope0".into());
    }
    let outcomes = netlink.apply_all(&blocked);
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(outcomes[0].is_ok());
    assert!(
        outcomes[1]
            .as_ref()
            .unwrap_err()
            .0
            .ends_with("link nope0 does not exist"),
        "{outcomes:?}"
    );
    let on_host = ns.routes();
    assert!(
        on_host.contains(&"198.19.1.0".to_owned()) && !on_host.contains(&"198.19.1.2".to_owned()),
        "{on_host:?}"
    );
}
