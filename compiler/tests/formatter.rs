//! `netc fmt` on every example and golden input: formatting is idempotent,
//! keeps every comment, and yields the same topology. A file with syntax
//! errors is refused (its errors returned, nothing formatted), and an
//! untidy `images` block and a patch release format to the canonical
//! layout with the same meaning.

#![allow(clippy::disallowed_methods)] // tests read fixtures and the environment; the purity rule is for the library

use netc_test_support as common;

use common::*;
use netc_compiler::diagnostic::SourceFile;

fn all_inputs() -> Vec<std::path::PathBuf> {
    let root = repo_root();
    let mut files = netc_files(&root.join("examples"));
    for entry in std::fs::read_dir(root.join("golden/diagnostics")).unwrap() {
        files.extend(netc_files(&entry.unwrap().path()));
    }
    files
}

#[test]
fn formatting_is_idempotent_keeps_comments_and_meaning() {
    let mut checked = 0;
    for path in all_inputs() {
        let original = source(&path);
        let Ok(formatted) = netc_compiler::format(&original) else {
            continue; // inputs with syntax errors are refused, by design
        };
        let again = netc_compiler::format(&SourceFile::new("again", formatted.clone())).unwrap();
        assert_eq!(again, formatted, "{}: formatting is not idempotent", original.name());

        let comments = |text: &str| text.lines().filter(|l| l.contains('#')).count();
        assert_eq!(
            comments(original.text()),
            comments(&formatted),
            "{}: comments lost",
            original.name()
        );

        let reformatted = SourceFile::new(original.name(), formatted);
        assert_eq!(
            model_dump(&original),
            model_dump(&reformatted),
            "{}: meaning changed",
            original.name()
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} inputs were formatted");
}

#[test]
fn files_with_syntax_errors_are_refused() {
    let path = repo_root().join("examples/invalid/syntax-errors.netc");
    let errors = netc_compiler::format(&source(&path)).unwrap_err();
    assert_eq!(errors.len(), 3);
}

/// An `images` block and a patch release, written untidily, format to the
/// canonical layout and read back as the same images and release.
#[test]
fn images_and_a_patch_release_survive_formatting() {
    let untidy = "cluster demo {\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n  kubernetes v1.33.13\n  \
                  images { flannel \"registry.example/flannel:v0.28.9\"; flannel-windows \"registry.example/flannel:v0.28.9-hostprocess\"\n  \
                  kube-proxy-windows   registry.example/kube-proxy:v1.33.13  # a bare word\n  }\n}\n\
                  segment s {\n  prefix 10.1.0.0/24\n}\nnode a {\n  os linux\n  address 10.1.0.10\n}\n";
    let formatted = netc_compiler::format(&SourceFile::new("t.netc", untidy)).unwrap();
    assert!(
        formatted.contains(
            "  images {\n    flannel            \"registry.example/flannel:v0.28.9\"\n    \
             flannel-windows    \"registry.example/flannel:v0.28.9-hostprocess\"\n    \
             kube-proxy-windows registry.example/kube-proxy:v1.33.13  # a bare word\n  }\n"
        ),
        "{formatted}"
    );
    assert!(formatted.contains("  kubernetes      v1.33.13\n"), "{formatted}");
    let read = |text: &str| {
        let topology = netc_compiler::analyze(&SourceFile::new("t.netc", text))
            .topology
            .unwrap();
        let images = topology.cluster.images;
        (
            topology.cluster.kubernetes.value.to_string(),
            images.flannel.value,
            images.flannel_cni_plugin.value,
            images.flannel_windows.value,
            images.kube_proxy_windows.value,
        )
    };
    let expected = (
        "1.33.13".to_string(),
        "registry.example/flannel:v0.28.9".to_string(),
        "ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3".to_string(),
        "registry.example/flannel:v0.28.9-hostprocess".to_string(),
        "registry.example/kube-proxy:v1.33.13".to_string(),
    );
    assert_eq!(read(untidy), expected);
    assert_eq!(read(&formatted), expected);
    assert_eq!(
        model_dump(&SourceFile::new("t.netc", untidy)),
        model_dump(&SourceFile::new("t.netc", formatted))
    );
}
