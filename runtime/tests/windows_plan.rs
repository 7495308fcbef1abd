//! The Windows driver (`netc_plan::windows`) on the compiler's real output:
//! every golden Windows host program (`golden/*/nodes/*/program.json` with
//! `os: windows`) planned from an empty host, with its plan (text and JSON),
//! the PowerShell that applies it and the observe script compared with
//! `golden/windows-plan/<example>/<node>/` (`NETC_BLESS=1` rewrites them),
//! and every script parsed with tree-sitter's PowerShell grammar, as
//! compiler/tests/powershell_syntax.rs does for `host.ps1` (a negative
//! control shows the check sees errors).
//!
//! Also: plans after an apply are empty and planning is deterministic; a
//! hand-written drifted host (`golden/windows-plan/drift/`) is planned step
//! by step; only owned objects are pruned; a foreign HNS network in the way
//! is a conflict the script refuses; a foreign or disabled firewall rule is
//! updated in place; stale source VIPs are reserved again, and only once
//! the HNS network has the compiled subnet; the CNI check runs before the
//! first change and the service checks after the last; observed text cannot
//! break out of a comment; the observe script asks for owned keys too;
//! observed JSON reads as PowerShell prints it, and plans round-trip through
//! JSON; `netc plan` of a Windows node prints what the library renders, and
//! `netc apply` refuses it. Nothing here runs PowerShell: there is none.

#![allow(clippy::disallowed_methods)] // tests read fixtures and the environment; the purity rule is for the library

use std::collections::BTreeSet;
use std::path::Path;

use ipnet::IpNet;
use netc_compiler::emit::program::types::{Operation, Program, ProgramOs};
use netc_plan::engine::{Action, Disruption};
use netc_plan::windows::{
    desired, next_inventory, observe_script, plan, powershell, ObservedFirewallRule, ObservedHnsEndpoint,
    ObservedHnsNetwork, ObservedSubnet, WindowsDesired, WindowsInventory, WindowsKey, WindowsObject, WindowsObserved,
    WindowsPlan,
};

use support::powershell::syntax_errors;
use support::{check_golden, files_under, repo_root};
mod common;
use netc_test_support as support;

fn assert_parses(name: &str, script: &str) {
    let errors = syntax_errors(script);
    assert!(
        errors.is_empty(),
        "{name}: PowerShell syntax errors:\n{}",
        errors.join("\n")
    );
}

fn read_program(path: &Path) -> Program {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `(example, node, program)` for every golden Windows program, sorted.
fn windows_programs() -> Vec<(String, String, Program)> {
    let golden = repo_root().join("golden");
    let mut found = Vec::new();
    for example in std::fs::read_dir(&golden).unwrap() {
        let nodes = example.unwrap().path().join("nodes");
        let Ok(entries) = std::fs::read_dir(&nodes) else {
            continue;
        };
        for node in entries {
            let path = node.unwrap().path().join("program.json");
            if !path.exists() {
                continue;
            }
            let program = read_program(&path);
            if program.os == ProgramOs::Windows {
                let example = nodes
                    .parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                found.push((example, program.node.clone(), program));
            }
        }
    }
    found.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    found
}

fn windows_program(example: &str, node: &str) -> Program {
    read_program(&repo_root().join(format!("golden/{example}/nodes/{node}/program.json")))
}

fn plan_json(plan: &WindowsPlan) -> String {
    serde_json::to_string_pretty(plan).unwrap() + "\n"
}

/// What the observe script prints on a host where `desired` was applied:
/// every object as asked, the adapter (when the program leaves it to the
/// address) `Ethernet`, the source VIP the subnet's second host address.
fn applied(desired: &WindowsDesired) -> WindowsObserved {
    let mut observed = WindowsObserved::default();
    for object in &desired.objects {
        match object {
            WindowsObject::FirewallRule {
                name,
                protocol,
                port,
                direction,
            } => observed.firewall_rules.push(ObservedFirewallRule {
                name: name.clone(),
                direction: direction.clone(),
                protocol: protocol.clone(),
                local_port: port.to_string(),
                action: "Allow".into(),
                enabled: true,
            }),
            WindowsObject::File { path, content } => {
                observed.files.insert(path.clone(), content.clone());
            }
            WindowsObject::HnsNetwork(network) => observed.hns_networks.push(ObservedHnsNetwork {
                name: network.name.clone(),
                kind: network.kind.clone(),
                subnets: vec![ObservedSubnet {
                    address_prefix: network.subnet.clone(),
                    gateway: Some(network.gateway.clone()),
                }],
                adapter: Some(network.adapter.clone().unwrap_or_else(|| "Ethernet".into())),
            }),
            WindowsObject::HnsEndpoint { name, network, address } => observed.hns_endpoints.push(ObservedHnsEndpoint {
                name: name.clone(),
                network: Some(network.clone()),
                address: Some(address.clone()),
                forwarding: true,
            }),
            WindowsObject::SourceVip {
                path,
                subnet,
                stale_files,
                ..
            } => {
                let net: IpNet = subnet.parse().unwrap();
                let vip = net.hosts().nth(1).unwrap();
                for file in stale_files {
                    // The request records the subnet itself.
                    observed.source_vip_files.insert(file.clone(), Some(subnet.clone()));
                }
                observed
                    .source_vip_files
                    .insert(path.clone(), Some(format!("{vip}/{}", net.prefix_len())));
            }
        }
    }
    observed
}

#[test]
fn every_windows_program_plans_from_empty_to_its_golden() {
    let programs = windows_programs();
    let names: Vec<String> = programs.iter().map(|(e, n, _)| format!("{e}/{n}")).collect();
    // vxlan-mixed (win-1, win-2), host-gw-mixed, gitops-mixed, tor-routed.
    assert!(programs.len() >= 5, "only {names:?}");
    let root = repo_root().join("golden/windows-plan");
    let mut failures = Vec::new();
    let mut expected_files = BTreeSet::new();
    for (example, node, program) in &programs {
        let desired = desired(program).unwrap_or_else(|e| panic!("{example}/{node}: {e}"));
        let plan = plan(&desired, &WindowsObserved::default(), &WindowsInventory::new());

        // From empty: one create per object, in program order, no conflicts.
        assert!(plan.conflicts.is_empty(), "{example}/{node}: {plan}");
        let created: Vec<&WindowsObject> = plan.steps.iter().filter_map(|s| s.object.as_ref()).collect();
        assert_eq!(created, desired.objects.iter().collect::<Vec<_>>(), "{example}/{node}");
        assert!(
            plan.steps.iter().all(|s| s.action == Action::Create),
            "{example}/{node}"
        );
        for step in &plan.steps {
            let expected = match step.key {
                WindowsKey::HnsNetwork(_) => Disruption::Flap,
                _ => Disruption::Hitless,
            };
            assert_eq!(step.disruption, expected, "{example}/{node}: {}", step.key);
        }
        assert_eq!(plan.checks, desired.checks);

        let apply = powershell(&plan);
        let observe = observe_script(&desired, &WindowsInventory::new());
        assert_parses(&format!("{example}/{node}/apply.ps1"), &apply);
        assert_parses(&format!("{example}/{node}/observe.ps1"), &observe);
        let outputs = [
            ("plan.txt", plan.to_string()),
            ("plan.json", plan_json(&plan)),
            ("apply.ps1", apply),
            ("observe.ps1", observe),
        ];
        for (file, text) in outputs {
            expected_files.insert(format!("{example}/{node}/{file}"));
            failures.extend(check_golden(&root.join(example).join(node).join(file), &text));
        }
    }
    for file in ["drift/plan.txt", "drift/apply.ps1"] {
        expected_files.insert(file.to_string());
    }
    for extra in files_under(&root).difference(&expected_files) {
        failures.push(format!("golden/windows-plan/{extra} is no longer produced (remove it)"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn plan_after_apply_is_empty_and_planning_is_deterministic() {
    for (example, node, program) in windows_programs() {
        let desired = desired(&program).unwrap();
        let observed = applied(&desired);
        let owned = next_inventory(&desired);
        let after = plan(&desired, &observed, &owned);
        assert!(after.is_empty(), "{example}/{node}:\n{after}");
        assert!(after.steps.is_empty() && after.conflicts.is_empty());
        // Equal objects netc did not create are adopted without a step.
        assert!(plan(&desired, &observed, &WindowsInventory::new()).is_empty());
        // The checks still run on an empty plan.
        let script = powershell(&after);
        assert_eq!(script.contains("Test-NetcCniPlugins '"), !desired.checks.is_empty());
        assert!(
            !script.contains("Set-NetcFile '"),
            "{example}/{node}: an empty plan writes a file"
        );
        assert_parses(&format!("{example}/{node} empty plan"), &script);

        let empty = WindowsObserved::default();
        let a = plan(&desired, &empty, &WindowsInventory::new());
        let b = plan(&desired, &empty, &WindowsInventory::new());
        assert_eq!(plan_json(&a), plan_json(&b));
        assert_eq!(powershell(&a), powershell(&b));
    }
}

#[test]
fn the_cni_check_runs_before_the_first_change_and_services_after_the_last() {
    for (example, node, program) in windows_programs() {
        let desired = desired(&program).unwrap();
        let script = powershell(&plan(&desired, &WindowsObserved::default(), &WindowsInventory::new()));
        let check = script
            .find("\nTest-NetcCniPlugins '")
            .unwrap_or_else(|| panic!("{example}/{node}: no CNI check"));
        let first_step = script.find("\n# create ").unwrap();
        let last_step = script.rfind("\n# create ").unwrap();
        let service = script
            .find("\nTest-NetcProcess '")
            .unwrap_or_else(|| panic!("{example}/{node}: no service check"));
        assert!(check < first_step, "{example}/{node}: a change before the CNI check");
        assert!(
            service > last_step,
            "{example}/{node}: a service check before the last step"
        );
        assert!(script.contains("$ErrorActionPreference = 'Stop'\n"));
        // Every file is written aside and renamed.
        assert!(script.contains("Move-Item -Force -LiteralPath \"$Path.netc-tmp\""));
        // One comment per step, in the documented form.
        let comments = script.lines().filter(|l| l.starts_with("# create ")).count();
        assert_eq!(comments, desired.objects.len(), "{example}/{node}");
        assert!(script
            .lines()
            .any(|l| l.starts_with("# create file ") && l.ends_with(": absent [hitless]")));
    }
}

/// tor-routed's win-1 (the node where netc owns the HNS network), with the
/// firewall rule of vxlan-mixed's win-1 in front, so that one program has
/// every kind of owned object.
fn drift_program() -> Program {
    let mut program = windows_program("tor-routed", "win-1");
    let vxlan = windows_program("vxlan-mixed", "win-1");
    let rule = vxlan
        .operations
        .iter()
        .find(|op| matches!(op, Operation::FirewallRule { .. }))
        .unwrap()
        .clone();
    program.operations.insert(0, rule);
    program
}

/// The drifted host, as the observe script would print it: the firewall
/// rule deleted by hand, the CNI config edited, the HNS network from an
/// earlier pod subnet with its host endpoint (detached), and flannel's net-conf.json (from when the node ran
/// flannel, which netc installed then) still there.
const DRIFT_OBSERVED: &str = r#"{"firewall_rules":[],"files":{"C:\\etc\\cni\\net.d\\10-flannel.conf":"{\"cniVersion\":\"0.3.0\",\"name\":\"cbr0\",\"type\":\"win-bridge\"}\n","C:\\etc\\kube-flannel\\net-conf.json":"{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"host-gw\"}}\n"},"hns_networks":[{"name":"cbr0","type":"L2Bridge","subnets":[{"address_prefix":"10.244.9.0/24","gateway":"10.244.9.1"}],"adapter":"Ethernet"}],"hns_endpoints":[{"name":"cbr0_ep","network":"cbr0","address":"10.244.9.2","forwarding":false}],"source_vip_files":{}}"#;

#[test]
fn drift_is_planned_step_by_step() {
    let desired = desired(&drift_program()).unwrap();
    let observed: WindowsObserved = serde_json::from_str(DRIFT_OBSERVED).unwrap();
    let mut owned = next_inventory(&desired);
    owned.insert(WindowsKey::File(r"C:\etc\kube-flannel\net-conf.json".into()));
    let plan = plan(&desired, &observed, &owned);
    assert!(plan.conflicts.is_empty(), "{plan}");

    let summary: Vec<(Action, String, Disruption)> = plan
        .steps
        .iter()
        .map(|s| (s.action, s.key.to_string(), s.disruption))
        .collect();
    assert_eq!(
        summary,
        [
            (
                Action::Delete,
                r"file C:\etc\kube-flannel\net-conf.json".to_string(),
                Disruption::Hitless
            ),
            (
                Action::Create,
                "firewall-rule OverlayTraffic4789UDP".to_string(),
                Disruption::Hitless
            ),
            (
                Action::Update,
                r"file C:\etc\cni\net.d\10-flannel.conf".to_string(),
                Disruption::Hitless
            ),
            (
                Action::Recreate,
                "hns-network cbr0".to_string(),
                Disruption::ConnectivityRisk
            ),
            (
                Action::Recreate,
                "hns-endpoint cbr0_ep".to_string(),
                Disruption::ConnectivityRisk
            ),
        ]
    );
    assert!(
        plan.steps[4].reason.starts_with("address 10.244.9.2 -> 10.244.21.2"),
        "{}",
        plan.steps[4].reason
    );
    assert_eq!(plan.steps[2].reason, "content differs");
    let recreate = &plan.steps[3].reason;
    assert!(
        recreate.starts_with("subnet 10.244.9.0/24 -> 10.244.21.0/24, gateway 10.244.9.1 -> 10.244.21.1"),
        "{recreate}"
    );
    assert!(recreate.contains("every pod endpoint on it goes"), "{recreate}");
    assert!(recreate.contains("loses connectivity for seconds"), "{recreate}");

    let apply = powershell(&plan);
    assert_parses("drift/apply.ps1", &apply);
    // The old network's physical adapter is found before it is removed.
    let adapter = apply.find("$adapter = Get-NetcHnsAdapter 'cbr0'").unwrap();
    let remove = apply
        .find("Get-HnsNetwork | Where-Object Name -eq 'cbr0' | Remove-HnsNetwork")
        .unwrap();
    assert!(adapter < remove);
    assert!(apply.contains(
        "if (Test-Path -LiteralPath 'C:\\etc\\kube-flannel\\net-conf.json' -PathType Leaf) { Remove-Item -Force -LiteralPath 'C:\\etc\\kube-flannel\\net-conf.json' }"
    ));
    assert!(apply.contains("# recreate hns-network cbr0: subnet 10.244.9.0/24 -> 10.244.21.0/24"));

    let root = repo_root().join("golden/windows-plan/drift");
    let failures: Vec<String> = [("plan.txt", plan.to_string()), ("apply.ps1", apply)]
        .into_iter()
        .filter_map(|(file, text)| check_golden(&root.join(file), &text))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // Once applied, nothing is left to do, and the pruned file leaves the
    // inventory.
    let after = applied(&desired);
    assert!(netc_plan::windows::plan(&desired, &after, &next_inventory(&desired)).is_empty());
    assert!(!next_inventory(&desired).contains(&WindowsKey::File(r"C:\etc\kube-flannel\net-conf.json".into())));
}

#[test]
fn only_owned_objects_are_pruned() {
    let desired = desired(&windows_program("tor-routed", "win-1")).unwrap();
    let mut observed = applied(&desired);
    // A rule and a file netc never created, observed all the same.
    observed.firewall_rules.push(ObservedFirewallRule {
        name: "SomeoneElsesRule".into(),
        direction: "Inbound".into(),
        protocol: "TCP".into(),
        local_port: "22".into(),
        action: "Allow".into(),
        enabled: true,
    });
    observed.files.insert(r"C:\k\someone-else.json".into(), "{}".into());
    assert!(plan(&desired, &observed, &next_inventory(&desired)).is_empty());

    // Owned and gone from the program, each kind is removed, dependents first.
    let mut owned = next_inventory(&desired);
    owned.extend([
        WindowsKey::FirewallRule("SomeoneElsesRule".into()),
        WindowsKey::File(r"C:\k\someone-else.json".into()),
        WindowsKey::HnsNetwork("cbr0".into()),
        WindowsKey::HnsEndpoint("cbr0_ep".into()),
    ]);
    let nothing = WindowsDesired {
        node: desired.node.clone(),
        checks: Vec::new(),
        objects: Vec::new(),
    };
    let prune = plan(&nothing, &observed, &owned);
    let order: Vec<String> = prune.steps.iter().map(|s| s.key.to_string()).collect();
    assert_eq!(
        order,
        [
            "hns-endpoint cbr0_ep",
            "hns-network cbr0",
            "firewall-rule SomeoneElsesRule",
            r"file C:\etc\cni\net.d\10-flannel.conf",
            r"file C:\k\someone-else.json",
        ]
    );
    assert!(prune
        .steps
        .iter()
        .all(|s| s.action == Action::Delete && s.object.is_none()));
    assert_eq!(prune.steps[0].disruption, Disruption::ConnectivityRisk);
    assert_eq!(prune.steps[1].disruption, Disruption::ConnectivityRisk);
    assert_eq!(prune.steps[3].disruption, Disruption::Hitless);
    let script = powershell(&prune);
    assert_parses("prune", &script);
    assert!(script.contains("Remove-NetFirewallRule -Name 'SomeoneElsesRule'"));
    // Owned but already gone: nothing to delete.
    assert!(plan(&nothing, &WindowsObserved::default(), &owned).is_empty());
}

#[test]
fn a_foreign_hns_network_in_the_way_is_a_conflict_and_the_script_refuses_it() {
    let desired = desired(&windows_program("tor-routed", "win-1")).unwrap();
    let mut observed = applied(&desired);
    observed.hns_networks[0].kind = "NAT".into();
    let plan = plan(&desired, &observed, &WindowsInventory::new());
    assert!(plan.steps.is_empty(), "{plan}");
    assert_eq!(plan.conflicts.len(), 1);
    assert!(plan.to_string().contains("! hns-network cbr0: type NAT -> L2Bridge"));
    let script = powershell(&plan);
    assert_parses("conflict", &script);
    let refusal = script
        .find("\nthrow 'netc: the plan has conflicts (hns-network cbr0)")
        .unwrap();
    assert!(refusal < script.find("\nTest-NetcCniPlugins").unwrap());
}

#[test]
fn a_foreign_or_disabled_firewall_rule_is_updated_in_place() {
    let desired = desired(&windows_program("vxlan-mixed", "win-1")).unwrap();
    let mut observed = applied(&desired);
    observed.firewall_rules[0].enabled = false;
    observed.firewall_rules[0].local_port = "8472".into();
    observed.firewall_rules[0].protocol = "udp".into();
    let plan = plan(&desired, &observed, &WindowsInventory::new());
    assert_eq!(plan.steps.len(), 1, "{plan}");
    let step = &plan.steps[0];
    assert_eq!((step.action, step.disruption), (Action::Update, Disruption::Hitless));
    assert_eq!(
        step.reason,
        "port 8472 -> 4789, disabled -> enabled (adopting an object netc did not create)"
    );
    let script = powershell(&plan);
    assert_parses("firewall update", &script);
    assert!(script.contains(
        "Set-NetFirewallRule -Name 'OverlayTraffic4789UDP' -Direction 'Inbound' -Protocol 'UDP' -LocalPort 4789 -Action Allow -Enabled True"
    ));
}

#[test]
fn stale_source_vips_are_reserved_again() {
    let desired = desired(&windows_program("vxlan-mixed", "win-1")).unwrap();
    let owned = next_inventory(&desired);
    let fresh = applied(&desired);
    let vip = r"C:\k\sourcevip.json".to_string();
    let request = r"C:\k\SourceVipRequest.json".to_string();
    let only = |observed: &WindowsObserved| {
        let plan = plan(&desired, observed, &owned);
        assert_eq!(plan.steps.len(), 1, "{plan}");
        assert_parses("source vip", &powershell(&plan));
        plan.steps[0].clone()
    };

    // The reservation records an address of the node's old pod subnet.
    let mut observed = fresh.clone();
    observed
        .source_vip_files
        .insert(vip.clone(), Some("10.244.9.3/24".into()));
    let step = only(&observed);
    assert_eq!((step.action, step.disruption), (Action::Recreate, Disruption::Recreate));
    assert!(step
        .reason
        .starts_with(r"C:\k\sourcevip.json records 10.244.9.3/24, outside 10.244.2.0/24"));
    assert!(
        step.reason.contains("kube-proxy uses once it restarts"),
        "{}",
        step.reason
    );

    // Unreadable: as stale.
    observed.source_vip_files.insert(vip.clone(), None);
    let step = only(&observed);
    assert_eq!(step.action, Action::Recreate);
    assert!(step.reason.starts_with(r"C:\k\sourcevip.json records no address"));

    // Only the request is stale: removed, the reservation kept.
    let mut observed = fresh.clone();
    observed
        .source_vip_files
        .insert(request.clone(), Some("10.244.9.0/24".into()));
    let step = only(&observed);
    assert_eq!((step.action, step.disruption), (Action::Update, Disruption::Hitless));
    assert_eq!(
        step.reason,
        r"C:\k\SourceVipRequest.json records 10.244.9.0/24, outside 10.244.2.0/24: removed"
    );

    // No reservation yet, a stale request: created, the request removed first.
    observed.source_vip_files.remove(&vip);
    let step = only(&observed);
    assert_eq!((step.action, step.disruption), (Action::Create, Disruption::Hitless));
    assert_eq!(
        step.reason,
        r"absent; C:\k\SourceVipRequest.json records 10.244.9.0/24, outside 10.244.2.0/24: removed first"
    );
}

#[test]
fn observed_text_cannot_break_out_of_a_comment() {
    let desired = desired(&windows_program("tor-routed", "win-1")).unwrap();
    let mut observed = applied(&desired);
    observed.hns_networks[0].kind = "L2Bridge\nRemove-Item -Recurse C:\\".into();
    let plan = plan(&desired, &observed, &next_inventory(&desired));
    assert_eq!(plan.steps.len(), 1);
    let script = powershell(&plan);
    assert!(
        !script.lines().any(|l| l.starts_with("Remove-Item -Recurse")),
        "{script}"
    );
    assert!(script.contains("# recreate hns-network cbr0: type L2Bridge Remove-Item -Recurse C:\\ -> L2Bridge"));
    assert_eq!(plan.to_string().lines().count(), 1 + plan.checks.len());
}

#[test]
fn the_observe_script_asks_for_owned_keys_too() {
    let desired = desired(&windows_program("vxlan-mixed", "win-1")).unwrap();
    let mut owned = next_inventory(&desired);
    owned.insert(WindowsKey::HnsNetwork("cbr0".into()));
    let script = observe_script(&desired, &owned);
    assert_parses("observe with inventory", &script);
    assert!(script.contains("$hnsNames = @('cbr0')"));
    assert!(script.contains("foreach ($name in @('OverlayTraffic4789UDP'))"));
    assert!(script.contains("foreach ($path in @('C:\\k\\SourceVipRequest.json', 'C:\\k\\sourcevip.json'))"));
    assert!(script.trim_end().ends_with("| ConvertTo-Json -Depth 6 -Compress"));
}

#[test]
fn observed_json_reads_as_powershell_prints_it() {
    // ConvertTo-Json escapes ' < > & as \u00XX, writes $null as null.
    let printed = r#"{"firewall_rules":[{"name":"OverlayTraffic4789UDP","direction":"Inbound","protocol":"UDP","local_port":"4789","action":"Allow","enabled":true}],"files":{"C:\\k\\a.json":"it\u0027s \u003cok\u003e"},"hns_networks":[{"name":"cbr0","type":"L2Bridge","subnets":[{"address_prefix":"10.244.21.0/24","gateway":null}],"adapter":null}],"source_vip_files":{"C:\\k\\sourcevip.json":null}}"#;
    let observed: WindowsObserved = serde_json::from_str(printed).unwrap();
    assert_eq!(observed.files[r"C:\k\a.json"], "it's <ok>");
    assert_eq!(observed.hns_networks[0].subnets[0].gateway, None);
    assert_eq!(observed.source_vip_files[r"C:\k\sourcevip.json"], None);
    // Empty sections may be left out; unknown fields are refused.
    assert_eq!(
        serde_json::from_str::<WindowsObserved>("{}").unwrap(),
        WindowsObserved::default()
    );
    assert!(serde_json::from_str::<WindowsObserved>(r#"{"firewall_rule":[]}"#).is_err());
}

#[test]
fn plans_round_trip_through_json() {
    let desired = desired(&drift_program()).unwrap();
    let observed: WindowsObserved = serde_json::from_str(DRIFT_OBSERVED).unwrap();
    let plan = plan(&desired, &observed, &next_inventory(&desired));
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["steps"][0]["action"], "create");
    assert_eq!(json["steps"][0]["key"]["firewall-rule"], "OverlayTraffic4789UDP");
    assert_eq!(json["steps"][0]["object"]["kind"], "firewall-rule");
    assert_eq!(json["checks"][0]["kind"], "cni-plugins");
    let back: WindowsPlan = serde_json::from_value(json).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn the_syntax_check_sees_errors() {
    assert!(syntax_errors("if ($true) {\n    Write-Output 'open'\n")
        .iter()
        .any(|e| e.contains("MISSING `}`")));
    assert!(!syntax_errors("$x = 1\nif ($x -eq 1 { Write-Output 'one' }\n").is_empty());
}

/// The command line gives the same plan and scripts as the library: `netc
/// plan` of a Windows node from the golden output directory, in every
/// Windows format, against an empty host and against an observed one; and
/// `netc apply` refuses a Windows node without touching anything.
#[test]
fn netc_plan_renders_the_windows_driver() {
    let netc = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_netc"))
            .args(args)
            .output()
            .unwrap()
    };
    let state = tempfile::tempdir().unwrap();
    let from = repo_root().join("golden/vxlan-mixed");
    let golden = repo_root().join("golden/windows-plan/vxlan-mixed/win-1");
    let base = [
        "plan",
        "--node",
        "win-1",
        "--from",
        from.to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
    ];
    let with = |extra: &[&str]| netc(&base.iter().chain(extra).copied().collect::<Vec<_>>());
    let read = |name: &str| std::fs::read_to_string(golden.join(name)).unwrap();

    let human = with(&[]);
    assert_eq!(human.status.code(), Some(0));
    let stdout = String::from_utf8(human.stdout).unwrap();
    assert_eq!(
        stdout,
        format!(
            "{}Plan: 4 steps, 0 conflicts (not executed here: run `--format powershell` on the node).\n",
            read("plan.txt")
        )
    );
    assert!(String::from_utf8_lossy(&human.stderr).contains("against an empty host"));
    for (format, file) in [("powershell", "apply.ps1"), ("observe-script", "observe.ps1")] {
        let output = with(&["--format", format]);
        assert_eq!(output.status.code(), Some(0));
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            read(file),
            "--format {format}"
        );
    }
    let json = with(&["--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["steps"].as_array().unwrap().len(), 4);

    // A host that already matches: what the observe script would print.
    let program = windows_program("vxlan-mixed", "win-1");
    let observed = state.path().join("observed.json");
    std::fs::write(
        &observed,
        serde_json::to_vec(&applied(&desired(&program).unwrap())).unwrap(),
    )
    .unwrap();
    let clean = with(&["--observed", observed.to_str().unwrap()]);
    let stdout = String::from_utf8(clean.stdout).unwrap();
    assert!(stdout.contains("Plan: 0 steps, 0 conflicts"), "{stdout}");
    std::fs::write(&observed, "{\"nonsense\": 1}").unwrap();
    let bad = with(&["--observed", observed.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not what the observe script prints"));

    let apply: Vec<&str> = ["apply"].iter().chain(&base[1..]).copied().collect();
    let refused = netc(&apply);
    assert_eq!(refused.status.code(), Some(2));
    // Without root, `apply` stops at its privilege check before reading
    // anything; as root (CI), or on Windows, which has no such check, it
    // reads the program and refuses Windows.
    let why = if common::is_root() || cfg!(windows) {
        "does not execute the Windows driver"
    } else {
        "must run as root"
    };
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(why),
        "{}",
        common::text(&refused)
    );
    assert_eq!(
        std::fs::read_dir(state.path()).unwrap().count(),
        1,
        "only the test's own observed.json"
    );
}

/// Before it reserves a source VIP, the apply script reads the pod subnet
/// of the HNS network flanneld made (from the Node's `spec.podCIDR`) and
/// stops when it is not the compiled one, as `host.ps1` does: a VIP outside
/// the HNS network breaks Services. Text and order only (no PowerShell
/// here; the syntax is checked with the goldens).
#[test]
fn the_source_vip_waits_for_the_compiled_hns_subnet() {
    let mut checked = 0;
    for (example, node, program) in windows_programs() {
        let desired = desired(&program).unwrap();
        let Some(WindowsObject::SourceVip { network, subnet, .. }) = desired
            .objects
            .iter()
            .find(|o| matches!(o, WindowsObject::SourceVip { .. }))
        else {
            continue;
        };
        let apply = powershell(&plan(&desired, &WindowsObserved::default(), &WindowsInventory::new()));
        support::powershell::assert_source_vip_guard(&format!("{example}/{node}"), &apply, network, subnet);
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} Windows programs reserve a source VIP");
}
