//! The YAML and JSON form of a topology: every `examples/structured/NAME.*`
//! compiles to exactly the bytes (and lock file) of `examples/NAME.netc`,
//! errors point at the right line of the YAML or JSON, and no input makes
//! the reader panic or point outside the text.

#![allow(clippy::disallowed_methods)] // tests read fixtures and the environment; the purity rule is for the library

use netc_test_support as common;

use common::*;
use netc_compiler::diagnostic::{Diagnostic, SourceFile};
use netc_compiler::model::Lock;
use proptest::prelude::*;

fn structured_examples() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(repo_root().join("examples/structured"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_structured_example_compiles_to_the_bytes_of_its_netc_original() {
    let files = structured_examples();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into())
        .collect();
    assert!(
        names.contains(&"vxlan-mixed.yaml".to_string()) && names.contains(&"vxlan-mixed.json".to_string()),
        "{names:?}"
    );
    for path in files {
        let structured = netc_compiler::compile(&source(&path), &Lock::default());
        assert!(
            structured.diagnostics.is_empty(),
            "{}: {:#?}",
            path.display(),
            structured.diagnostics
        );
        let original_path = repo_root()
            .join("examples")
            .join(format!("{}.netc", path.file_stem().unwrap().to_string_lossy()));
        let original = netc_compiler::compile(&source(&original_path), &Lock::default());
        let (ours, theirs) = (structured.artifacts.unwrap(), original.artifacts.unwrap());
        assert_eq!(
            ours.files.keys().collect::<Vec<_>>(),
            theirs.files.keys().collect::<Vec<_>>(),
            "{}",
            path.display()
        );
        for (file, bytes) in &ours.files {
            assert!(bytes == &theirs.files[file], "{}: {file} differs", path.display());
        }
        assert_eq!(structured.lock, original.lock, "{}", path.display());
    }
}

/// Analyze `text` as the file `name`; the diagnostics with their 1-based
/// line and the text they underline.
fn diagnostics(name: &str, text: &str) -> Vec<(&'static str, usize, String)> {
    let source = SourceFile::new(name, text);
    let analysis = netc_compiler::analyze_source(&source, &Lock::default());
    analysis
        .diagnostics
        .iter()
        .map(|d: &Diagnostic| {
            let span = d.primary.span;
            let line = source.line_col(span.start).line;
            (d.code, line, text[span.start as usize..span.end as usize].to_string())
        })
        .collect()
}

const GOOD: &str = "\
cluster:
  name: demo
  pod-network: 10.244.0.0/16
  service-network: 10.96.0.0/12
segments:
  - name: mgmt
    prefix: 10.127.130.0/24
nodes:
  - name: master
    os: linux
    address: 10.127.130.10
";

#[test]
fn a_clean_yaml_topology_has_no_diagnostics() {
    assert_eq!(diagnostics("t.yaml", GOOD), vec![]);
}

#[test]
fn a_yaml_syntax_error_points_at_its_line() {
    let text = GOOD.replace("    os: linux\n", "    os: linux\n   address: [\n");
    let found = diagnostics("t.yaml", &text);
    assert_eq!(found.len(), 1, "{found:?}");
    let (code, line, _) = &found[0];
    assert_eq!((*code, *line), ("N0109", 11), "{found:?}");
}

#[test]
fn schema_errors_point_at_the_key_or_value() {
    let text = GOOD
        .replace("  name: demo\n", "  name: demo\n  kubernetes: 1.30\n")
        .replace("    os: linux\n", "    os: linux\n    rolle: worker\n")
        .replace("    prefix: 10.127.130.0/24\n", "");
    let found = diagnostics("t.yaml", &text);
    assert_eq!(
        found,
        vec![
            ("N0109", 3, "1.30".to_string()),
            ("N0109", 7, "- name: mgmt".to_string()),
            ("N0109", 11, "rolle".to_string()),
        ]
    );
}

#[test]
fn later_errors_point_at_the_yaml_value_they_are_about() {
    // A value the grammar refuses, and an interop rule, both at their line.
    let text = GOOD
        .replace("pod-network: 10.244.0.0/16", "pod-network: [10.244.0.1/16]")
        .replace(
            "    address: 10.127.130.10\n",
            "    address: 10.127.130.10\n  - {name: w, os: windows, build: 17763, address: 10.127.130.11}\n",
        )
        .replace(
            "  service-network: 10.96.0.0/12\n",
            "  service-network: 10.96.0.0/12\n  backend: {type: vxlan, vni: 1}\n",
        );
    let found = diagnostics("t.yaml", &text);
    assert_eq!(found, vec![("N0105", 3, "10.244.0.1/16".to_string())]);
    let text = text.replace("10.244.0.1/16", "10.244.0.0/16");
    let found = diagnostics("t.yaml", &text);
    assert!(found.contains(&("N0301", 5, "1".to_string())), "{found:?}");
}

#[test]
fn agent_errors_point_at_the_agent_mapping_or_its_value() {
    // GOOD is 11 lines; the agent mapping starts on line 12.
    let agent = "agent:\n  repo: /srv/net.git\n  path: cluster.netc\n";
    let found = diagnostics("t.yaml", &format!("{GOOD}{agent}"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0, found[0].1), ("N0109", 12), "{found:?}"); // no `image`
    let found = diagnostics("t.yaml", &format!("{GOOD}{agent}  image: netc:1\n"));
    assert_eq!(found, vec![("N0325", 13, "/srv/net.git".to_string())]);
    let found = diagnostics("t.yaml", &format!("{GOOD}{agent}  image: netc:1\n  interval: 0\n"));
    assert_eq!(
        found.iter().map(|(c, l, _)| (*c, *l)).collect::<Vec<_>>(),
        vec![("N0109", 16)]
    );
}

/// A real ed25519 public key (`ssh-keygen -t ed25519`), without comment.
const SIGNER_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOit/aR37pqqB3Wwes/Tzc+uvAMNAPaESiQFO0IQb3XO";

#[test]
fn allowed_signers_are_a_list_each_checked_at_its_own_line() {
    let agent = format!(
        "agent:\n  repo: https://git.example/net.git\n  path: cluster.netc\n  image: netc:1\n  allowed-signers:\n    - \"a@example.com {SIGNER_KEY}\"\n    - {SIGNER_KEY}\n"
    );
    // GOOD is 11 lines; the agent's second signer is on line 18.
    let found = diagnostics("t.yaml", &format!("{GOOD}{agent}"));
    assert_eq!(found, vec![("N0326", 18, SIGNER_KEY.to_string())]);
    // Only YAML or JSON can write a line break into a signer.
    let two_lines = format!("{GOOD}agent:\n  repo: https://git.example/net.git\n  path: c.netc\n  image: netc:1\n  allowed-signers: [\"a@b {SIGNER_KEY}\\nc@d {SIGNER_KEY}\"]\n");
    let found = diagnostics("t.yaml", &two_lines);
    assert_eq!(
        found.iter().map(|(c, l, _)| (*c, *l)).collect::<Vec<_>>(),
        vec![("N0326", 16)]
    );
    // Not a list of strings: the schema says what it takes.
    let found = diagnostics(
        "t.yaml",
        &format!("{GOOD}agent:\n  repo: https://git.example/net.git\n  path: c.netc\n  image: netc:1\n  allowed-signers: a@b\n"),
    );
    assert_eq!(
        found.iter().map(|(c, l, _)| (*c, *l)).collect::<Vec<_>>(),
        vec![("N0109", 16)]
    );
}

#[test]
fn yaml_allowed_signers_compile_to_the_bytes_of_netc_allowed_signer_lines() {
    let first = format!("network-team@example.com {SIGNER_KEY}");
    let second = format!("*@example.com cert-authority {SIGNER_KEY} the CA");
    let yaml = format!(
        "{GOOD}agent:\n  repo: https://git.example/net.git\n  path: cluster.netc\n  image: netc:1\n  allowed-signers:\n    - \"{first}\"\n    - \"{second}\"\n"
    );
    let netc = format!(
        "cluster demo {{\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n}}\n\
         segment mgmt {{\n  prefix 10.127.130.0/24\n}}\nnode master {{\n  os linux\n  address 10.127.130.10\n}}\n\
         agent {{\n  repo \"https://git.example/net.git\"\n  path \"cluster.netc\"\n  image \"netc:1\"\n\
         allowed-signer \"{first}\"\n  allowed-signer \"{second}\"\n}}\n"
    );
    let compile = |name: &str, text: &str| {
        let compilation = netc_compiler::compile(&SourceFile::new(name, text), &Lock::default());
        assert!(
            compilation.diagnostics.is_empty(),
            "{name}: {:#?}",
            compilation.diagnostics
        );
        compilation.artifacts.unwrap().files
    };
    let (ours, theirs) = (compile("t.yaml", &yaml), compile("t.netc", &netc));
    assert_eq!(ours, theirs);
    let manifest = String::from_utf8(ours["manifests/netc-agent.yaml"].clone()).unwrap();
    assert!(manifest.contains("allowed_signers"), "{manifest}");
    // In the order written.
    assert!(
        manifest.find(&first).unwrap() < manifest.find(&second).unwrap(),
        "{manifest}"
    );
}

#[test]
fn json_errors_point_at_their_line() {
    let text = "{\n  \"cluster\": {\n    \"name\": \"d\",\n    \"pod-network\": \"10.244.0.0/16\",\n    \"service-network\": 5\n  }\n}\n";
    assert_eq!(diagnostics("t.json", text), vec![("N0109", 5, "5".to_string())]);
    let found = diagnostics("t.json", "{\n  \"cluster\": {\n    \"name\" \"d\"\n  }\n}\n");
    assert_eq!(
        found.iter().map(|(c, l, _)| (*c, *l)).collect::<Vec<_>>(),
        vec![("N0109", 3)]
    );
}

#[test]
fn the_netc_form_is_unchanged_for_other_names() {
    let netc = std::fs::read_to_string(repo_root().join("examples/vxlan-mixed.netc")).unwrap();
    for name in ["t.netc", "topology", "t.yaml.netc"] {
        assert_eq!(diagnostics(name, &netc), vec![], "{name}");
    }
}

proptest! {
    /// Mutated YAML and JSON (bytes deleted, inserted or replaced) never
    /// panic, and every span stays inside the text on a char boundary.
    #[test]
    fn mutated_structured_input_never_panics(
        json in any::<bool>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(vec![":", "-", " ", "\n", "[", "{", "\"", "#", "a", "1", ","])), 1..6),
    ) {
        let base = if json {
            std::fs::read_to_string(repo_root().join("examples/structured/vxlan-mixed.json")).unwrap()
        } else {
            std::fs::read_to_string(repo_root().join("examples/structured/vxlan-mixed.yaml")).unwrap()
        };
        let mut text = base;
        for (at, op, insert) in edits {
            let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
            let i = boundaries[at.index(boundaries.len())];
            let next = text[i..].chars().next().map_or(i, |c| i + c.len_utf8());
            match op {
                0 => text.replace_range(i..next, ""),
                1 => text.insert_str(i, insert),
                _ => text.replace_range(i..next, insert),
            }
        }
        let name = if json { "t.json" } else { "t.yaml" };
        let source = SourceFile::new(name, text.clone());
        let analysis = netc_compiler::analyze_source(&source, &Lock::default());
        for d in &analysis.diagnostics {
            for span in std::iter::once(d.primary.span).chain(d.secondary.iter().map(|l| l.span)) {
                prop_assert!(span.start <= span.end && span.end as usize <= text.len(), "{span:?} in {} bytes", text.len());
                prop_assert!(text.is_char_boundary(span.start as usize) && text.is_char_boundary(span.end as usize));
            }
            let _ = netc_compiler::diagnostic::render::render(&source, d);
        }
    }
}

/// `images` and a patch release in YAML mean what they mean in `.netc`:
/// the same bytes, and the manifests run the written images.
#[test]
fn yaml_images_and_patch_release_compile_to_the_bytes_of_the_netc_form() {
    let windows_node = "  - name: win-1\n    os: windows\n    build: 20348\n    address: 10.127.130.21\n";
    let yaml = format!(
        "{}{windows_node}",
        GOOD.replace(
            "  service-network: 10.96.0.0/12\n",
            "  service-network: 10.96.0.0/12\n  kubernetes: \"1.33.13\"\n  images:\n    flannel: registry.example/flannel:v0.28.9\n    \
             flannel-cni-plugin: registry.example/flannel-cni-plugin:v1.9.1-flannel3\n    \
             flannel-windows: registry.example/flannel:v0.28.9-hostprocess\n",
        )
    );
    let netc = "cluster demo {\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n  kubernetes 1.33.13\n  \
                images {\n    flannel \"registry.example/flannel:v0.28.9\"\n    \
                flannel-cni-plugin \"registry.example/flannel-cni-plugin:v1.9.1-flannel3\"\n    \
                flannel-windows \"registry.example/flannel:v0.28.9-hostprocess\"\n  }\n}\n\
                segment mgmt {\n  prefix 10.127.130.0/24\n}\nnode master {\n  os linux\n  address 10.127.130.10\n}\n\
                node win-1 {\n  os windows\n  build 20348\n  address 10.127.130.21\n}\n";
    let compile = |name: &str, text: &str| {
        let compilation = netc_compiler::compile(&SourceFile::new(name, text), &Lock::default());
        assert!(
            compilation.diagnostics.is_empty(),
            "{name}: {:#?}",
            compilation.diagnostics
        );
        compilation.artifacts.unwrap().files
    };
    let (ours, theirs) = (compile("t.yaml", &yaml), compile("t.netc", netc));
    assert_eq!(ours, theirs);
    let manifest = |name: &str| String::from_utf8(ours[&format!("manifests/{name}")].clone()).unwrap();
    let linux = manifest("kube-flannel.yaml");
    assert!(linux.contains("image: registry.example/flannel:v0.28.9\n"), "{linux}");
    assert!(
        linux.contains("image: registry.example/flannel-cni-plugin:v1.9.1-flannel3\n"),
        "{linux}"
    );
    let windows = manifest("kube-flannel-windows.yaml");
    assert!(
        windows.contains("image: registry.example/flannel:v0.28.9-hostprocess\n"),
        "{windows}"
    );
    // Not written: the default of the written patch release.
    let proxy = manifest("kube-proxy-windows.yaml");
    assert!(
        proxy.contains("image: sigwindowstools/kube-proxy:v1.33.13-calico-hostprocess\n"),
        "{proxy}"
    );
    // A value that is no image reference is refused by the schema.
    let spaced = yaml.replace("flannel: registry.example/flannel:v0.28.9", "flannel: \"a b\"");
    assert_eq!(diagnostics("t.yaml", &spaced)[0].0, "N0109");
}

/// A YAML string can hold what a `.netc` word cannot (a line break, `$(`):
/// such an interface name never reaches a script, it is an N0330 at its line.
#[test]
fn an_interface_name_with_a_line_break_is_refused_at_its_line() {
    let text = std::fs::read_to_string(repo_root().join("examples/structured/dual-stack-linux.yaml"))
        .unwrap()
        .replace(
            "    address: 192.168.70.21\n",
            "    address: 192.168.70.21\n    interface: \"eth\\n$(touch /tmp/netc-canary)\"\n",
        );
    assert!(text.contains("netc-canary"));
    let found = diagnostics("t.yaml", &text);
    assert_eq!(found.len(), 1, "{found:?}");
    let (code, line, underlined) = &found[0];
    assert_eq!((*code, *line), ("N0330", 29), "{underlined}");
    assert!(underlined.contains("netc-canary"), "{underlined}");
}
