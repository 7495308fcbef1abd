//! The planning engine (`netc_plan::engine`) on the compiler's real output
//! (`golden/`): every golden Linux program expands; a static vxlan node's
//! desired objects; plans from an empty host (parents first), after an
//! apply (empty), after drift (exactly that step), after a node leaves the
//! cluster (only its entries pruned), with a foreign route (never deleted)
//! and after a VNI change (the link and everything on it recreated); the
//! size of a 5,000-peer plan; and that a pull request's preview and the
//! node's plan give a port or an MTU change the same class. The engine's
//! purity is not tested here: `runtime/plan/clippy.toml` bans effects, and
//! clippy enforces it.

use std::path::{Path, PathBuf};

use netc_compiler::emit::program::types::{Operation, Peer, PeerTable, Program, ProgramOs, VERSION};
use netc_plan::engine::plan::next_inventory;
use netc_plan::engine::{
    desired, plan, Action, Disruption, Inventory, Object, ObjectKey, Observed, Plan, Step, VxlanLink,
};

fn golden(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("golden")
        .join(path)
}

fn read<T: serde::de::DeserializeOwned>(path: &str) -> T {
    let path = golden(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn node_1() -> (Program, PeerTable) {
    (
        read("static-vxlan/nodes/node-1/program.json"),
        read("static-vxlan/peers.json"),
    )
}

/// What a host looks like after a successful apply of `objects`.
fn applied(objects: &[Object]) -> (Observed, Inventory) {
    (objects.iter().cloned().collect(), next_inventory(objects))
}

fn count(objects: &[Object], pred: fn(&Object) -> bool) -> usize {
    objects.iter().filter(|o| pred(o)).count()
}

fn lines(plan: &Plan) -> Vec<String> {
    plan.to_string().lines().map(str::to_owned).collect()
}

#[test]
fn static_vxlan_node_wants_two_peers_worth_of_entries() {
    let (program, peers) = node_1();
    let objects = desired(&program, &peers).unwrap();
    assert_eq!(count(&objects, |o| matches!(o, Object::Neighbour { .. })), 2);
    assert_eq!(count(&objects, |o| matches!(o, Object::Fdb { .. })), 2);
    assert_eq!(count(&objects, |o| matches!(o, Object::Route { .. })), 2);
    let peer_entries: Vec<String> = objects
        .iter()
        .filter(|o| matches!(o, Object::Neighbour { .. } | Object::Fdb { .. } | Object::Route { .. }))
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        peer_entries,
        [
            "neighbour 198.18.1.0 dev flannel.4096 lladdr 02:71:9d:78:6e:9d",
            "neighbour 198.18.2.0 dev flannel.4096 lladdr 02:77:63:85:cb:a1",
            "fdb 02:71:9d:78:6e:9d dev flannel.4096 dst 198.51.100.12",
            "fdb 02:77:63:85:cb:a1 dev flannel.4096 dst 198.51.100.13",
            "route 198.18.1.0/24 via 198.18.1.0 dev flannel.4096 onlink",
            "route 198.18.2.0/24 via 198.18.2.0 dev flannel.4096 onlink",
        ]
    );
    // No object for this node itself, none for the check-only cni-plugins.
    assert!(!objects.iter().any(|o| o.to_string().contains("198.18.0.0/24")));
    assert!(!objects
        .iter()
        .any(|o| matches!(o, Object::File { path, .. } if path.starts_with("/opt/cni"))));
}

#[test]
fn every_golden_linux_program_expands() {
    for example in [
        "static-vxlan",
        "tor-routed",
        "dual-stack-linux",
        "host-gw-mixed",
        "vxlan-mixed",
    ] {
        let peers: PeerTable = read(&format!("{example}/peers.json"));
        for node in &peers.nodes {
            let program: Program = read(&format!("{example}/nodes/{}/program.json", node.name));
            let result = desired(&program, &peers);
            match program.os {
                ProgramOs::Linux => {
                    let objects = result.unwrap_or_else(|e| panic!("{example} {}: {e}", node.name));
                    // After an apply, the plan is empty.
                    let (observed, owned) = applied(&objects);
                    assert!(plan(&objects, &observed, &owned).is_empty());
                }
                ProgramOs::Windows => assert!(result.is_err()),
            }
        }
    }
}

#[test]
fn plan_from_empty_creates_everything_parents_first() {
    let (program, peers) = node_1();
    let objects = desired(&program, &peers).unwrap();
    let plan = plan(&objects, &Observed::new(), &Inventory::new());
    assert!(plan.conflicts.is_empty());
    assert_eq!(plan.steps.len(), objects.len());
    assert!(plan
        .steps
        .iter()
        .all(|s| s.action == Action::Create && s.disruption == Disruption::Hitless));
    // Program order, and every object on a link after the link.
    let in_plan: Vec<&Object> = plan.steps.iter().map(|s| &s.object).collect();
    assert_eq!(in_plan, objects.iter().collect::<Vec<_>>());
    let link = plan
        .steps
        .iter()
        .position(|s| s.key == ObjectKey::Link("flannel.4096".into()))
        .unwrap();
    for (at, step) in plan.steps.iter().enumerate() {
        if step.object.depends_on_link("flannel.4096") {
            assert!(at > link, "{} before its link", step.object);
        }
    }
    // Neighbours and FDB entries before the routes that use them.
    let last_fdb = plan
        .steps
        .iter()
        .rposition(|s| matches!(s.key, ObjectKey::Fdb { .. }))
        .unwrap();
    let first_route = plan
        .steps
        .iter()
        .position(|s| matches!(s.key, ObjectKey::Route(_)))
        .unwrap();
    assert!(last_fdb < first_route);
    let text = plan.to_string();
    assert!(text.contains("+ route 198.18.1.0/24 via 198.18.1.0 dev flannel.4096 onlink  [hitless] absent\n"));
}

#[test]
fn plan_after_apply_is_empty() {
    let (program, peers) = node_1();
    let objects = desired(&program, &peers).unwrap();
    let (observed, owned) = applied(&objects);
    let plan = plan(&objects, &observed, &owned);
    assert!(plan.is_empty(), "{plan}");
    // Deterministic: the same input gives the same plan, also from empty.
    let a = netc_plan::engine::plan(&objects, &Observed::new(), &Inventory::new());
    let b = netc_plan::engine::plan(&objects, &Observed::new(), &Inventory::new());
    assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
}

#[test]
fn drift_gives_exactly_that_step() {
    let (program, peers) = node_1();
    let objects = desired(&program, &peers).unwrap();
    let (clean, owned) = applied(&objects);

    // A route deleted by hand.
    let mut observed = clean.clone();
    observed.remove(&ObjectKey::Route("198.18.2.0/24".into())).unwrap();
    let drift = plan(&objects, &observed, &owned);
    assert_eq!(
        lines(&drift),
        ["+ route 198.18.2.0/24 via 198.18.2.0 dev flannel.4096 onlink  [hitless] absent"]
    );

    // The link's MTU changed.
    let mut observed = clean.clone();
    if let Some(Object::VxlanLink(VxlanLink { mtu, .. })) = observed.0.get_mut(&ObjectKey::Link("flannel.4096".into()))
    {
        *mtu = 1500;
    }
    let drift = plan(&objects, &observed, &owned);
    assert_eq!(drift.steps.len(), 1);
    assert_eq!(drift.steps[0].action, Action::Update);
    assert_eq!(drift.steps[0].disruption, Disruption::Flap);
    assert_eq!(drift.steps[0].reason, "mtu 1500 -> 1450");

    // A sysctl flipped.
    let mut observed = clean.clone();
    observed.insert(Object::Sysctl {
        key: "net.ipv4.ip_forward".into(),
        value: "0".into(),
        best_effort: false,
    });
    let drift = plan(&objects, &observed, &owned);
    assert_eq!(
        lines(&drift),
        ["~ sysctl net.ipv4.ip_forward = 1  [hitless] value 0 -> 1"]
    );

    // A file edited.
    let mut observed = clean.clone();
    if let Some(Object::File { content, .. }) = observed.0.get_mut(&ObjectKey::File("/run/flannel/subnet.env".into())) {
        content.push_str("# edited\n");
    }
    let drift = plan(&objects, &observed, &owned);
    assert_eq!(drift.steps.len(), 1);
    assert_eq!(drift.steps[0].action, Action::Update);
    assert_eq!(drift.steps[0].key, ObjectKey::File("/run/flannel/subnet.env".into()));
    assert_eq!(drift.steps[0].disruption, Disruption::Hitless);

    // A neighbour pointing at the wrong MAC.
    let mut observed = clean;
    observed.insert(Object::Neighbour {
        device: "flannel.4096".into(),
        ip: "198.18.1.0".parse().unwrap(),
        mac: "02:00:00:00:00:99".parse().unwrap(),
    });
    let drift = plan(&objects, &observed, &owned);
    assert_eq!(drift.steps.len(), 1);
    assert_eq!(drift.steps[0].action, Action::Update);
    assert_eq!(drift.steps[0].disruption, Disruption::ConnectivityRisk);
}

#[test]
fn a_removed_node_is_pruned_and_nothing_else() {
    let (program, mut peers) = node_1();
    let old = desired(&program, &peers).unwrap();
    let (mut observed, owned) = applied(&old);
    // Something netc never made: a foreign route, and a foreign neighbour on
    // netc's own device.
    let foreign_route = Object::Route {
        destination: "203.0.113.0/24".parse().unwrap(),
        via: "198.51.100.1".parse().unwrap(),
        device: None,
        onlink: false,
    };
    let foreign_neighbour = Object::Neighbour {
        device: "flannel.4096".into(),
        ip: "198.18.9.0".parse().unwrap(),
        mac: "02:00:00:00:00:09".parse().unwrap(),
    };
    observed.insert(foreign_route);
    observed.insert(foreign_neighbour);

    peers.nodes.retain(|node| node.name != "node-3");
    let new = desired(&program, &peers).unwrap();
    let plan = plan(&new, &observed, &owned);
    assert_eq!(
        lines(&plan),
        [
            "- route 198.18.2.0/24 via 198.18.2.0 dev flannel.4096 onlink  [connectivity-risk] no longer in the program",
            "- fdb 02:77:63:85:cb:a1 dev flannel.4096 dst 198.51.100.13  [connectivity-risk] no longer in the program",
            "- neighbour 198.18.2.0 dev flannel.4096 lladdr 02:77:63:85:cb:a1  [connectivity-risk] no longer in the program",
        ]
    );
    // Even with nothing desired, foreign objects stay.
    let everything_gone = netc_plan::engine::plan(&[], &observed, &owned);
    assert!(everything_gone.steps.iter().all(|s| owned.contains(&s.key)));
    for key in [
        ObjectKey::Route("203.0.113.0/24".into()),
        ObjectKey::Neighbour {
            device: "flannel.4096".into(),
            ip: "198.18.9.0".into(),
        },
    ] {
        assert!(!everything_gone.steps.iter().any(|s| s.key == key), "{key} deleted");
    }
}

#[test]
fn a_foreign_route_is_never_deleted() {
    let (program, peers) = node_1();
    let objects = desired(&program, &peers).unwrap();
    let (mut observed, owned) = applied(&objects);
    observed.insert(Object::Route {
        destination: "198.18.200.0/24".parse().unwrap(),
        via: "198.18.200.0".parse().unwrap(),
        device: Some("flannel.4096".into()),
        onlink: true,
    });
    assert!(plan(&objects, &observed, &owned).is_empty());
}

#[test]
fn a_vni_change_recreates_the_link_and_everything_on_it() {
    let (mut program, peers) = node_1();
    let old = desired(&program, &peers).unwrap();
    let (observed, owned) = applied(&old);
    for op in &mut program.operations {
        if let Operation::VxlanLink { vni, .. } = op {
            *vni = 4097;
        }
    }
    let new = desired(&program, &peers).unwrap();
    let plan = plan(&new, &observed, &owned);
    let summary: Vec<(Action, String, Disruption)> = plan
        .steps
        .iter()
        .map(|s| (s.action, s.key.to_string(), s.disruption))
        .collect();
    use Action::*;
    assert_eq!(
        summary,
        [
            (Recreate, "link flannel.4096".into(), Disruption::Recreate),
            (
                Create,
                "sysctl net.ipv6.conf.flannel/4096.accept_ra".into(),
                Disruption::Recreate
            ),
            (
                Create,
                "address 198.18.0.0/32 dev flannel.4096".into(),
                Disruption::Recreate
            ),
            (
                Create,
                "neighbour 198.18.1.0 dev flannel.4096".into(),
                Disruption::Recreate
            ),
            (
                Create,
                "neighbour 198.18.2.0 dev flannel.4096".into(),
                Disruption::Recreate
            ),
            (
                Create,
                "fdb 02:71:9d:78:6e:9d dev flannel.4096".into(),
                Disruption::Recreate
            ),
            (
                Create,
                "fdb 02:77:63:85:cb:a1 dev flannel.4096".into(),
                Disruption::Recreate
            ),
            (Create, "route 198.18.1.0/24".into(), Disruption::Recreate),
            (Create, "route 198.18.2.0/24".into(), Disruption::Recreate),
        ]
    );
    assert_eq!(plan.steps[0].reason, "vni 4096 -> 4097");
    assert!(plan.to_string().starts_with("-/+ vxlan flannel.4096 id 4097"));
}

/// 5,000 peers: one link and 3 entries per peer, planned from empty and
/// after an apply; lookups are by key, so this stays n log n.
#[test]
fn five_thousand_peers() {
    let nodes: Vec<Peer> = (0..=5000u32)
        .map(|i| Peer {
            name: format!("node-{i:05}"),
            os: ProgramOs::Linux,
            address: format!("198.51.{}.{}", 100 + i / 250, 1 + i % 250),
            subnets: vec![format!("198.18.{}.{}/29", i / 32, (i % 32) * 8)],
            mac: Some(format!("02:00:00:00:{:02x}:{:02x}", i / 256, i % 256)),
        })
        .collect();
    let peers = PeerTable {
        version: VERSION,
        cluster: "big".into(),
        backend: "vxlan".into(),
        nodes,
    };
    let program = Program {
        version: VERSION,
        node: "node-00000".into(),
        os: ProgramOs::Linux,
        operations: vec![
            Operation::VxlanLink {
                name: "flannel.4096".into(),
                vni: 4096,
                port: 4789,
                local: "198.51.100.1".into(),
                underlay: None,
                mac: "02:00:00:00:00:00".into(),
                mtu: 1450,
                learning: false,
            },
            Operation::LinkUp {
                name: "flannel.4096".into(),
            },
            Operation::VxlanPeers {
                device: "flannel.4096".into(),
                table: "peers.json".into(),
            },
        ],
    };
    let objects = desired(&program, &peers).unwrap();
    assert_eq!(objects.len(), 1 + 3 * 5000);
    let from_empty = plan(&objects, &Observed::new(), &Inventory::new());
    assert_eq!(from_empty.steps.len(), 1 + 3 * 5000);
    let (observed, owned) = applied(&objects);
    assert!(plan(&objects, &observed, &owned).is_empty());
    // Removing one peer prunes exactly its three entries.
    let mut fewer = peers.clone();
    fewer.nodes.pop();
    let objects = desired(&program, &fewer).unwrap();
    let prune = plan(&objects, &observed, &owned);
    assert_eq!(prune.steps.len(), 3);
    assert!(prune.steps.iter().all(|s| s.action == Action::Delete));
}

/// The example `static-vxlan.netc` with `from` replaced by `to`, compiled
/// (without a lock: subnets are allocated afresh, the same on both sides).
fn compiled_example(from: &str, to: &str) -> netc_compiler::Compilation {
    let path = golden("../examples/static-vxlan.netc");
    let text = std::fs::read_to_string(&path).unwrap().replacen(from, to, 1);
    let source = netc_compiler::diagnostic::SourceFile::new("static-vxlan.netc", text);
    let compilation = netc_compiler::compile(&source, &Default::default());
    assert!(compilation.artifacts.is_some(), "{:?}", compilation.diagnostics);
    compilation
}

/// For a topology change: the class the pull-request preview gives it, and
/// the class of node-1's step on its vxlan link when the node applies it.
fn preview_and_plan(from: &str, to: &str) -> (Disruption, Step) {
    use netc_compiler::emit::program::bundle::CompiledNode;
    use netc_compiler::preview::{preview, Side};
    let (base, head) = (compiled_example("", ""), compiled_example(from, to));
    fn side(c: &netc_compiler::Compilation) -> Side<'_> {
        Side {
            topology: c.topology.as_ref(),
            files: c.artifacts.as_ref().map(|a| &a.files),
        }
    }
    let shown = preview(side(&base), side(&head));
    let [disruption] = shown.disruptions.as_slice() else {
        panic!("one disruption expected: {:?}", shown.disruptions);
    };
    let node = |c: &netc_compiler::Compilation| {
        let node = CompiledNode::from_files(&c.artifacts.as_ref().unwrap().files, "node-1");
        let node = node.unwrap().unwrap();
        desired(&node.program, &node.peers).unwrap()
    };
    let (observed, owned) = applied(&node(&base));
    let plan = plan(&node(&head), &observed, &owned);
    let link = plan
        .steps
        .into_iter()
        .find(|s| matches!(s.object, Object::VxlanLink(_)));
    (disruption.class, link.expect("a step on the link"))
}

/// The preview of a pull request and the plan a node then carries out
/// read one table (`netc_compiler::preview::Setting`), so they call the
/// same change by the same class: a new UDP port recreates the link, a
/// larger MTU changes it in place. (A new VNI also renames the device,
/// `flannel.<VNI>`, so a node deletes one link and creates another; the
/// preview's class for it comes from the same table entry as the port's.)
#[test]
fn the_preview_and_the_plan_give_a_change_the_same_class() {
    let (class, step) = preview_and_plan("port 4789", "port 8472");
    assert_eq!((step.action, step.disruption), (Action::Recreate, class));
    assert_eq!(class, Disruption::Recreate);

    let (class, step) = preview_and_plan("underlay-mtu     1500", "underlay-mtu     9000");
    assert_eq!((step.action, step.disruption), (Action::Update, class));
    assert_eq!(class, Disruption::Flap);
}
