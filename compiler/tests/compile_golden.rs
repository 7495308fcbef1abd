//! Every valid example compiles to exactly the tree in `golden/<example>/`
//! (`NETC_BLESS=1` rewrites it), compiling is deterministic, and a topology
//! with errors produces neither artifacts nor a lock. Pod subnet allocation
//! is sticky through the lock file: adding a node anywhere moves no other
//! node, and a `pod-subnet` pin wins over a free subnet but is N0208 on a
//! subnet locked to another node.

#![allow(clippy::disallowed_methods)] // tests read fixtures and the environment; the purity rule is for the library

use netc_test_support as common;

use std::collections::BTreeSet;

use common::*;
use netc_compiler::diagnostic::SourceFile;
use netc_compiler::model::Lock;

#[test]
fn every_example_compiles_to_its_golden_tree() {
    let root = repo_root();
    let mut failures = Vec::new();
    for path in netc_files(&root.join("examples")) {
        let source = source(&path);
        let compilation = netc_compiler::compile(&source, &Lock::default());
        let artifacts = compilation
            .artifacts
            .unwrap_or_else(|| panic!("{} does not compile", source.name()));
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let golden = root.join("golden").join(&name);
        if blessing() {
            let _ = std::fs::remove_dir_all(&golden);
        }
        for (file, bytes) in &artifacts.files {
            let text = String::from_utf8(bytes.clone()).expect("artifacts are text");
            failures.extend(check_golden(&golden.join(file), &text));
        }
        let expected: BTreeSet<String> = artifacts.files.keys().cloned().collect();
        for extra in files_under(&golden).difference(&expected) {
            failures.push(format!(
                "golden/{name}/{extra} is no longer produced (run NETC_BLESS=1 cargo test)"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn compiling_twice_gives_the_same_bytes() {
    for path in netc_files(&repo_root().join("examples")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let first = netc_compiler::compile(&SourceFile::new("a.netc", text.clone()), &Lock::default());
        let second = netc_compiler::compile(&SourceFile::new("b/c.netc", text), &Lock::default());
        assert_eq!(first.artifacts, second.artifacts, "{}", path.display());
        assert_eq!(first.lock, second.lock);
    }
}

#[test]
fn a_topology_with_errors_produces_nothing() {
    let source = source(&repo_root().join("examples/invalid/windows-vni-1.netc"));
    let compilation = netc_compiler::compile(&source, &Lock::default());
    assert!(compilation.artifacts.is_none() && compilation.lock.is_none());
    assert!(compilation.diagnostics.iter().any(|d| d.code == "N0301"));
}

const CLUSTER: &str = "cluster c {\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n}\nsegment s {\n  prefix 10.1.0.0/24\n}\n";

fn node(name: &str, host: u8) -> String {
    format!("node {name} {{\n  os linux\n  address 10.1.0.{host}\n}}\n")
}

fn compile(text: &str, lock: &Lock) -> Lock {
    let compilation = netc_compiler::compile(&SourceFile::new("t.netc", text.to_string()), lock);
    assert!(compilation.diagnostics.is_empty(), "{:?}", compilation.diagnostics);
    compilation.lock.unwrap()
}

#[test]
fn adding_a_node_anywhere_moves_no_other_node() {
    let first = compile(
        &format!("{CLUSTER}{}{}", node("a", 10), node("b", 11)),
        &Lock::default(),
    );
    // The new node is declared first: without the lock it would take a's subnet.
    let second = compile(
        &format!("{CLUSTER}{}{}{}", node("new", 12), node("a", 10), node("b", 11)),
        &first,
    );
    for (name, subnets) in &first.nodes {
        assert_eq!(second.nodes.get(name), Some(subnets), "node {name} moved");
    }
    assert_eq!(second.nodes["new"], vec!["10.244.2.0/24".parse().unwrap()]);
    // Removing a node frees its subnet only in the lock; the others stay.
    let third = compile(&format!("{CLUSTER}{}{}", node("new", 12), node("b", 11)), &second);
    assert_eq!(third.nodes.get("b"), second.nodes.get("b"));
    assert!(!third.nodes.contains_key("a"));
}

#[test]
fn a_pin_wins_over_a_free_subnet_and_conflicts_with_a_locked_one() {
    let lock = compile(
        &format!("{CLUSTER}{}{}", node("a", 10), node("b", 11)),
        &Lock::default(),
    );
    let pinned = format!(
        "{CLUSTER}{}node b {{\n  os linux\n  address 10.1.0.11\n  pod-subnet 10.244.7.0/24\n}}\n",
        node("a", 10)
    );
    let moved = compile(&pinned, &lock);
    assert_eq!(moved.nodes["b"], vec!["10.244.7.0/24".parse().unwrap()]);
    assert_eq!(moved.nodes["a"], lock.nodes["a"]);

    let stealing = format!(
        "{CLUSTER}{}node b {{\n  os linux\n  address 10.1.0.11\n  pod-subnet 10.244.0.0/24\n}}\n",
        node("a", 10)
    );
    let compilation = netc_compiler::compile(&SourceFile::new("t.netc", stealing), &lock);
    assert!(compilation.artifacts.is_none());
    let conflict = compilation
        .diagnostics
        .iter()
        .find(|d| d.code == "N0208")
        .expect("a lock conflict");
    assert!(conflict.message.contains("locked to node `a`"), "{}", conflict.message);
}
