//! The schemas in `schemas/` and the artifacts they check: every schema is a
//! valid JSON Schema, every artifact of every example (and of variants that
//! reach the other shapes: CNI API v1, DSR, Linux-only backends) passes its
//! schema, every JSON artifact has one, and hand-broken artifacts are
//! rejected (negative controls, so a schema that accepts anything fails).
//! The topology schema, which checks the YAML/JSON form, takes exactly the
//! blocks and settings of the `.netc` grammar.

#![allow(clippy::disallowed_methods)] // tests read fixtures and the environment; the purity rule is for the library

use netc_test_support as common;

use common::*;
use netc_compiler::diagnostic::SourceFile;
use netc_compiler::emit::validate::{entry_for, validate, TABLE};
use netc_compiler::emit::Artifacts;
use netc_compiler::model::Lock;
use serde_json::{json, Value};

/// A `$defs` object of `topology.schema.json` and the grammar blocks whose
/// settings are its properties, besides `labels`: the properties that carry
/// what `.netc` writes as the block's labels (`nodes worker count 3 {` is
/// `name: worker, count: 3`, `backend vxlan {` is `type: vxlan`). vxlan and
/// ipsec share the backend's object, each taking its own settings of it.
struct SchemaObject {
    def: &'static str,
    blocks: &'static [&'static str],
    labels: &'static [&'static str],
}

const SCHEMA_OBJECTS: &[SchemaObject] = &[
    SchemaObject {
        def: "cluster",
        blocks: &["cluster"],
        labels: &["name"],
    },
    SchemaObject {
        def: "backend",
        blocks: &["backend vxlan", "backend ipsec"],
        labels: &["type"],
    },
    SchemaObject {
        def: "windows",
        blocks: &["windows"],
        labels: &[],
    },
    SchemaObject {
        def: "images",
        blocks: &["images"],
        labels: &[],
    },
    SchemaObject {
        def: "segment",
        blocks: &["segment"],
        labels: &["name"],
    },
    SchemaObject {
        def: "node",
        blocks: &["node"],
        labels: &["name"],
    },
    SchemaObject {
        def: "nodeRange",
        blocks: &["nodes"],
        labels: &["name", "count"],
    },
    SchemaObject {
        def: "tor",
        blocks: &["tor"],
        labels: &["name"],
    },
    SchemaObject {
        def: "agent",
        blocks: &["agent"],
        labels: &[],
    },
];

/// Settings the structured form spells otherwise, as (property, key): the
/// repeatable `allowed-signer` is one list, each item becoming one setting
/// (`structured/lower.rs`).
const STRUCTURED_SPELLINGS: &[(&str, &str)] = &[("allowed-signers", "allowed-signer")];

/// Each top-level block with the root property of the structured form that
/// holds it (the repeatable ones as lists).
const TOP_LEVEL_PROPERTIES: &[(&str, &str)] = &[
    ("cluster", "cluster"),
    ("segment", "segments"),
    ("node", "nodes"),
    ("nodes", "node-ranges"),
    ("tor", "tors"),
    ("agent", "agent"),
];

fn topology_schema() -> Value {
    let path = repo_root().join("schemas/topology.schema.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The properties of an object schema, or of the object among its `oneOf`
/// (`backend` is a bare type or an object).
fn properties_of(schema: &Value) -> Option<&serde_json::Map<String, Value>> {
    schema["properties"].as_object().or_else(|| {
        schema["oneOf"]
            .as_array()?
            .iter()
            .find_map(|branch| branch["properties"].as_object())
    })
}

/// The keys of each block of the grammar (the tables its block files parse
/// settings with) are the properties of the block's object in
/// `topology.schema.json`, in both directions, so a setting added to one is
/// not forgotten in the other.
#[test]
fn the_topology_schema_takes_exactly_the_settings_of_each_block() {
    use netc_compiler::syntax::grammar::ALL_BLOCKS;
    use std::collections::BTreeSet;

    let schema = topology_schema();
    let mut failures = Vec::new();
    for (block, _) in ALL_BLOCKS {
        if !SCHEMA_OBJECTS.iter().any(|object| object.blocks.contains(block)) {
            failures.push(format!(
                "block `{block}`: no schema object names it in SCHEMA_OBJECTS (tests/schemas.rs)"
            ));
        }
    }
    for object in SCHEMA_OBJECTS {
        let pointer = format!("/$defs/{}", object.def);
        let Some(properties) = schema.pointer(&pointer).and_then(properties_of) else {
            failures.push(format!(
                "{pointer}: no such object with properties in topology.schema.json"
            ));
            continue;
        };
        for label in object.labels {
            if !properties.contains_key(*label) {
                failures.push(format!("{pointer}: lacks `{label}`, the block's label"));
            }
        }
        let in_schema: BTreeSet<&str> = properties
            .keys()
            .map(|property| {
                STRUCTURED_SPELLINGS
                    .iter()
                    .find(|(spelling, _)| spelling == property)
                    .map_or(property.as_str(), |(_, key)| key)
            })
            .filter(|key| !object.labels.contains(key))
            .collect();
        let mut in_grammar = BTreeSet::new();
        for block in object.blocks {
            let Some((_, keys)) = ALL_BLOCKS.iter().find(|(name, _)| name == block) else {
                failures.push(format!("block `{block}`: not a block of the grammar (ALL_BLOCKS)"));
                continue;
            };
            for key in *keys {
                in_grammar.insert(*key);
                if !in_schema.contains(key) {
                    failures.push(format!("block `{block}`: takes `{key}`, which {pointer} lacks"));
                }
            }
        }
        for key in in_schema.difference(&in_grammar) {
            failures.push(format!(
                "block `{}`: {pointer} has `{key}`, which the grammar does not take",
                object.blocks.join("` or `")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "topology.schema.json and the grammar's settings disagree:\n{}",
        failures.join("\n")
    );
}

/// The structured form's root properties are the top-level blocks.
#[test]
fn the_topology_schema_takes_exactly_the_top_level_blocks() {
    use netc_compiler::syntax::grammar::TOP_LEVEL;
    use std::collections::BTreeSet;

    let schema = topology_schema();
    let in_schema: BTreeSet<&str> = schema["properties"]
        .as_object()
        .expect("the schema's root properties")
        .keys()
        .map(String::as_str)
        .collect();
    let in_grammar: BTreeSet<&str> = TOP_LEVEL
        .iter()
        .map(|block| {
            TOP_LEVEL_PROPERTIES.iter().find(|(name, _)| name == block).map_or_else(
                || panic!("no root property for block `{block}` in TOP_LEVEL_PROPERTIES"),
                |(_, property)| *property,
            )
        })
        .collect();
    assert_eq!(
        in_schema, in_grammar,
        "the schema's root properties, then the top-level blocks'"
    );
}

fn schema_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(repo_root().join("schemas"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".schema.json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_schema_is_a_valid_draft_2020_12_schema() {
    let files = schema_files();
    assert!(files.len() >= 6, "{files:?}");
    for path in files {
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema",
            "{}",
            path.display()
        );
        if let Err(e) = jsonschema::meta::validate(&schema) {
            panic!("{} is not a valid JSON Schema: {e}", path.display());
        }
        jsonschema::options()
            .build(&schema)
            .unwrap_or_else(|e| panic!("{} does not compile: {e}", path.display()));
    }
}

/// Every schema file is used, each artifact schema by an entry of `TABLE`
/// and `topology.schema.json` by the structured form, and every entry's
/// file is one of them: a schema added without wiring it, or an entry left
/// behind by a removed file, fails here.
#[test]
fn every_schema_file_is_used_and_every_entry_names_one() {
    let on_disk: std::collections::BTreeSet<String> = schema_files()
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let used: std::collections::BTreeSet<String> = TABLE
        .iter()
        .map(|entry| entry.file.to_string())
        .chain(["topology.schema.json".to_string()])
        .collect();
    assert_eq!(on_disk, used);
}

/// Compile a topology; panics with its diagnostics if it does not compile
/// (which includes an artifact failing its schema: N0501).
fn artifacts(name: &str, text: &str) -> Artifacts {
    let compilation = netc_compiler::compile(&SourceFile::new(name, text.to_string()), &Lock::default());
    compilation
        .artifacts
        .unwrap_or_else(|| panic!("{name} does not compile: {:#?}", compilation.diagnostics))
}

/// Variants that reach the shapes no example has.
fn variants() -> Vec<(String, String)> {
    let read = |name: &str| std::fs::read_to_string(repo_root().join("examples").join(name)).unwrap();
    let vxlan = read("vxlan-mixed.netc");
    let host_gw = read("host-gw-mixed.netc");
    let v1 = |text: &str| {
        text.replacen("kubernetes       1.30", "kubernetes       1.23", 1)
            .replacen(
                "cluster demo {",
                "cluster demo {\n  windows {\n    cni-api-version 1\n  }",
                1,
            )
    };
    let linux_only = |backend: &str| {
        format!(
            "cluster c {{\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n  backend {backend}\n}}\n\
             segment s {{\n  prefix 10.1.0.0/24\n}}\nnodes n count 2 {{\n  os linux\n  address-start 10.1.0.10\n}}\n"
        )
    };
    // ipsec needs a key of at least 96 characters (N0324); a test key only.
    let psk = "0123456789abcdef".repeat(6);
    let mut variants = vec![
        ("vxlan-v1.netc".to_string(), v1(&vxlan)),
        ("host-gw-v1.netc".to_string(), v1(&host_gw)),
        (
            "vxlan-dsr.netc".to_string(),
            vxlan.replacen("cluster demo {", "cluster demo {\n  windows {\n    dsr on\n  }", 1),
        ),
    ];
    for backend in ["wireguard", "udp", "host-gw", "vxlan"] {
        variants.push((format!("linux-{backend}.netc"), linux_only(backend)));
    }
    variants.push((
        "linux-ipsec.netc".to_string(),
        linux_only(&format!("ipsec {{\n    psk \"{psk}\"\n  }}")),
    ));
    variants.push((
        "linux-ipsec-udp-encap.netc".to_string(),
        linux_only(&format!(
            "ipsec {{\n    psk \"{psk}\"\n    udp-encap on\n    esp-proposal \"aes256gcm16-sha384-prfsha384-ecp384\"\n  }}"
        )),
    ));
    variants
}

fn examples_and_variants() -> Vec<(String, String)> {
    let mut topologies: Vec<(String, String)> = netc_files(&repo_root().join("examples"))
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    topologies.extend(variants());
    topologies
}

#[test]
fn every_artifact_of_every_example_and_variant_passes_its_schema() {
    let mut checked = std::collections::BTreeSet::new();
    for (name, text) in &examples_and_variants() {
        let artifacts = artifacts(name, text);
        assert_eq!(validate(&artifacts), Vec::<String>::new(), "{name}");
        for (path, bytes) in &artifacts.files {
            let entry = serde_json::from_slice::<Value>(bytes)
                .ok()
                .and_then(|c| entry_for(path, &c));
            if let Some(entry) = entry {
                checked.insert(TABLE[entry].file);
            }
        }
    }
    for file in [
        "index.schema.json",
        "net-conf.schema.json",
        "conflist.schema.json",
        "cni-windows-v1.schema.json",
        "cni-windows-v2.schema.json",
    ] {
        assert!(
            checked.contains(file),
            "no artifact was checked against {file}: {checked:?}"
        );
    }
}

#[test]
fn every_json_artifact_has_a_schema() {
    // "Every artifact is validated against its schema before it is written":
    // a JSON artifact no table entry matches would go unchecked.
    let mut missing = std::collections::BTreeSet::new();
    for (name, text) in &examples_and_variants() {
        for (path, bytes) in &artifacts(name, text).files {
            if let Ok(content) = serde_json::from_slice::<Value>(bytes) {
                if entry_for(path, &content).is_none() {
                    missing.insert(path.split('/').next_back().unwrap_or(path).to_string());
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "JSON artifacts without a schema in emit::validate::TABLE: {missing:?}"
    );
}

/// One artifact in an otherwise empty set, validated.
fn problems(path: &str, content: &Value) -> Vec<String> {
    let mut artifacts = Artifacts::default();
    artifacts.json(path, content);
    validate(&artifacts)
}

/// The first artifact at `path` of a compiled example, as JSON.
fn example_artifact(example: &str, path: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join("examples").join(example)).unwrap();
    let artifacts = artifacts(example, &text);
    let (_, bytes) = artifacts
        .files
        .iter()
        .find(|(p, _)| validate_path_matches(path, p))
        .unwrap_or_else(|| panic!("{example} has no {path}"));
    serde_json::from_slice(bytes).unwrap()
}

fn validate_path_matches(pattern: &str, path: &str) -> bool {
    netc_compiler::emit::validate::matches(pattern, path)
}

fn assert_rejected(path: &str, content: &Value, expected: &str) {
    let problems = problems(path, content);
    assert!(
        problems.iter().any(|p| p.contains(expected)),
        "{path}: expected a problem mentioning {expected:?}, got {problems:#?}"
    );
    assert!(
        problems.iter().all(|p| p.starts_with(&format!("{path}: /"))),
        "{problems:#?}"
    );
}

#[test]
fn a_net_conf_without_backend_type_is_rejected() {
    let mut conf = example_artifact("vxlan-mixed.netc", "net-conf.json");
    assert!(problems("net-conf.json", &conf).is_empty());
    conf["Backend"].as_object_mut().unwrap().remove("Type");
    assert_rejected("net-conf.json", &conf, "\"Type\"");
    assert_rejected("net-conf.json", &json!({"Network": "10.244.0.0/16"}), "\"Backend\"");
    assert_rejected(
        "net-conf.json",
        &json!({"Network": "10.244.0.0/33", "Backend": {"Type": "vxlan", "VNI": 4096, "Port": 4789}}),
        "/Network",
    );
    assert_rejected(
        "net-conf.json",
        &json!({"Network": "10.244.0.0/16", "Backend": {"Type": "host-gw", "VNI": 4096}}),
        "VNI",
    );
}

#[test]
fn an_ipsec_net_conf_without_a_long_enough_psk_is_rejected() {
    let (name, text) = variants()
        .into_iter()
        .find(|(n, _)| n == "linux-ipsec-udp-encap.netc")
        .unwrap();
    let conf: Value = serde_json::from_slice(&artifacts(&name, &text).files["net-conf.json"]).unwrap();
    assert!(problems("net-conf.json", &conf).is_empty());
    assert_eq!(conf["Backend"]["UDPEncap"], json!(true));
    assert_eq!(
        conf["Backend"]["ESPProposal"],
        json!("aes256gcm16-sha384-prfsha384-ecp384")
    );
    let mut without = conf.clone();
    without["Backend"].as_object_mut().unwrap().remove("PSK");
    assert_rejected("net-conf.json", &without, "\"PSK\"");
    let mut short = conf.clone();
    short["Backend"]["PSK"] = json!("k".repeat(95));
    assert_rejected("net-conf.json", &short, "/Backend/PSK");
    assert_rejected(
        "net-conf.json",
        &json!({"Network": "10.244.0.0/16", "Backend": {"Type": "ipsec"}}),
        "\"PSK\"",
    );
    assert_rejected(
        "net-conf.json",
        &json!({"Network": "10.244.0.0/16", "Backend": {"Type": "udp", "PSK": "k".repeat(96)}}),
        "PSK",
    );
}

#[test]
fn a_windows_delegate_with_name_or_ipam_is_rejected() {
    // v2 (the example's form) and v1 (a variant's), each broken both ways.
    let v2 = example_artifact("vxlan-mixed.netc", "nodes/*/cni.conf");
    let (_, v1_text) = variants().into_iter().find(|(n, _)| n == "vxlan-v1.netc").unwrap();
    let v1_artifacts = artifacts("vxlan-v1.netc", &v1_text);
    let v1: Value = serde_json::from_slice(&v1_artifacts.files["nodes/win-1/cni.conf"]).unwrap();
    for (form, conf) in [("v2", v2), ("v1", v1)] {
        assert!(problems("nodes/w/cni.conf", &conf).is_empty(), "{form}");
        let mut named = conf.clone();
        named["delegate"]["name"] = json!("flannel.4096");
        assert_rejected("nodes/w/cni.conf", &named, "/delegate");
        let mut with_ipam = conf.clone();
        with_ipam["delegate"]["ipam"] = json!({"type": "host-local", "subnet": "10.244.1.0/24"});
        assert_rejected("nodes/w/cni.conf", &with_ipam, "/delegate");
    }
}

#[test]
fn windows_policies_must_be_in_the_form_of_their_api_version() {
    let mut v2 = example_artifact("vxlan-mixed.netc", "nodes/*/cni.conf");
    // A v1 policy inside a v2 conf.
    v2["delegate"]["policies"][0] =
        json!({"Name": "EndpointPolicy", "Value": {"Type": "OutBoundNAT", "ExceptionList": ["10.244.0.0/16"]}});
    assert_rejected("nodes/w/cni.conf", &v2, "/delegate/policies/0");
    let mut v2 = example_artifact("vxlan-mixed.netc", "nodes/*/cni.conf");
    v2["delegate"]["policies"][1]["value"]["Settings"]["DestinationPrefix"] = json!("10.96.0.0");
    assert_rejected(
        "nodes/w/cni.conf",
        &v2,
        "/delegate/policies/1/value/Settings/DestinationPrefix",
    );
}

#[test]
fn a_broken_conflist_is_rejected() {
    let conflist = example_artifact("vxlan-mixed.netc", "nodes/*/10-flannel.conflist");
    assert!(problems("nodes/n/10-flannel.conflist", &conflist).is_empty());
    let mut named = conflist.clone();
    named["plugins"][0]["delegate"]["name"] = json!("cbr0");
    assert_rejected("nodes/n/10-flannel.conflist", &named, "/plugins/0");
    let mut untyped = conflist.clone();
    untyped["plugins"][1].as_object_mut().unwrap().remove("type");
    assert_rejected("nodes/n/10-flannel.conflist", &untyped, "\"type\"");

    let bridge = example_artifact("tor-routed.netc", "nodes/*/10-flannel.conflist");
    assert!(problems("nodes/n/10-flannel.conflist", &bridge).is_empty());
    let mut bad_subnet = bridge.clone();
    bad_subnet["plugins"][0]["ipam"]["ranges"][0][0]["subnet"] = json!("10.244.0.0");
    assert_rejected("nodes/n/10-flannel.conflist", &bad_subnet, "/plugins/0/ipam/ranges/0/0");
}

#[test]
fn a_broken_index_is_rejected() {
    let index = example_artifact("vxlan-mixed.netc", "index.json");
    assert!(problems("index.json", &index).is_empty());
    let mut short_hash = index.clone();
    short_hash["artifacts"][0]["sha256"] = json!("abc");
    assert_rejected("index.json", &short_hash, "/artifacts/0/sha256");
    let mut escaping = index.clone();
    escaping["artifacts"][0]["path"] = json!("../etc/passwd");
    assert_rejected("index.json", &escaping, "/artifacts/0/path");
}

#[test]
fn an_artifact_that_is_not_json_is_reported() {
    let mut artifacts = Artifacts::default();
    artifacts.text("net-conf.json", "{not json");
    let problems = validate(&artifacts);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("net-conf.json: /: not JSON"), "{problems:?}");
}
