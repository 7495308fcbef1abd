//! Host programs: per node, `nodes/<node>/program.json` (the typed, ordered,
//! idempotent operations of [`types`]) and the same program rendered as a
//! readable script, `host.sh` (Linux) or `host.ps1` (Windows), from the
//! minijinja templates in `compiler/templates/`. Per-peer state lives in one
//! shared `peers.json` that programs refer to, so the output grows linearly
//! with the node count.
//!
//! Runs after the per-node artifacts are emitted: the programs install
//! `subnet.env`, the CNI configs and `net-conf.json` byte for byte as emitted.

pub mod bundle;
pub mod linux;
pub mod types;
pub mod windows;

use minijinja::{context, Environment, Error, ErrorKind, Value};

use super::facts::node_dir;
use super::Artifacts;
use crate::model::{BackendKind, Os, Topology};
use types::{Peer, PeerTable, Program, ProgramOs, PEERS, VERSION};

const HOST_SH: &str = include_str!("../../../templates/host.sh.j2");
const HOST_PS1: &str = include_str!("../../../templates/host.ps1.j2");

pub fn emit(topology: &Topology, out: &mut Artifacts) {
    out.json(PEERS, &peer_table(topology));
    let env = environment();
    for (node, subnets) in topology.nodes.iter().zip(&topology.subnets) {
        let (os, operations, script, template) = match node.os.value {
            Os::Linux => (
                ProgramOs::Linux,
                linux::operations(topology, node, subnets, out),
                "host.sh",
                "host.sh.j2",
            ),
            Os::Windows => (
                ProgramOs::Windows,
                windows::operations(topology, node, subnets, out),
                "host.ps1",
                "host.ps1.j2",
            ),
        };
        let program = Program {
            version: VERSION,
            node: node.name.value.clone(),
            os,
            operations,
        };
        let dir = node_dir(node);
        let text = render_with(&env, template, &program)
            .unwrap_or_else(|e| panic!("{template} does not render {}'s program: {e}", program.node));
        out.json(bundle::program_path(&program.node), &program);
        out.text(format!("{dir}/{script}"), text);
    }
}

/// The script that carries out `program` by hand: `host.sh` for Linux,
/// `host.ps1` for Windows. An error names an operation the program's OS
/// has no rendering for (a program netc did not write).
pub fn render_script(program: &Program) -> Result<String, String> {
    let template = match program.os {
        ProgramOs::Linux => "host.sh.j2",
        ProgramOs::Windows => "host.ps1.j2",
    };
    render_with(&environment(), template, program)
}

fn render_with(env: &Environment<'_>, template: &str, program: &Program) -> Result<String, String> {
    env.get_template(template)
        .and_then(|t| t.render(context! { program => Value::from(minijinja::value::Serde(program)) }))
        .map_err(|e| format!("{e:#}"))
}

/// Every node once, sorted by name. The VTEP MAC only where netc creates
/// the vxlan device (static dataplane); flanneld chooses its own.
pub fn peer_table(topology: &Topology) -> PeerTable {
    let cluster = &topology.cluster;
    let static_vxlan = cluster.backend.kind.value == BackendKind::Vxlan && !topology.flanneld_runs();
    let mut nodes: Vec<Peer> = topology
        .nodes
        .iter()
        .zip(&topology.subnets)
        .map(|(node, subnets)| Peer {
            name: node.name.value.clone(),
            os: match node.os.value {
                Os::Linux => ProgramOs::Linux,
                Os::Windows => ProgramOs::Windows,
            },
            address: node.address.value.to_string(),
            subnets: subnets.iter().map(|s| s.to_string()).collect(),
            mac: static_vxlan.then(|| linux::vtep_mac(&cluster.name.value, &node.name.value)),
        })
        .collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    PeerTable {
        version: VERSION,
        cluster: cluster.name.value.clone(),
        backend: cluster.backend.kind.value.to_string(),
        nodes,
    }
}

/// The template environment: both scripts, strict about undefined values,
/// with quoting filters for each shell.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("valid syntax config"),
    );
    env.add_filter("sh", |value: Value| sh_quote(&plain(&value)));
    env.add_filter("ps", |value: Value| ps_quote(&plain(&value)));
    env.add_filter("comment", |value: Value| comment_text(&plain(&value)));
    // An IPv6 prefix or address, for rules that differ per family.
    env.add_test("ipv6", |value: String| value.contains(':'));
    env.add_function("unsupported", |op: String| -> Result<String, Error> {
        Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("operation `{op}` has no rendering for this OS"),
        ))
    });
    env.add_template("host.sh.j2", HOST_SH).expect("host.sh.j2 parses");
    env.add_template("host.ps1.j2", HOST_PS1).expect("host.ps1.j2 parses");
    env
}

/// A value as text; `none` (an absent optional field) as the empty string.
fn plain(value: &Value) -> String {
    if value.is_none() {
        String::new()
    } else {
        value.to_string()
    }
}

/// One bash word: single quotes, with each `'` written as `'\''`.
pub fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Text for the rest of a `#` comment line, in bash and PowerShell alike:
/// every character that could end the line (control characters, and the
/// Unicode line and paragraph separators) becomes `?`. The checks reject
/// such names already; this keeps a comment a comment whatever the program
/// holds.
pub fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// One PowerShell string literal: single quotes, with every character
/// PowerShell reads as a single quote (including the typographic ones)
/// doubled.
pub fn ps_quote(text: &str) -> String {
    let mut out = String::from("'");
    for c in text.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::types::{Operation, Program};
    use super::{linux, windows};
    use crate::diagnostic::SourceFile;
    use crate::emit::cni::plugin_types;
    use crate::emit::Artifacts;
    use crate::model::{Lock, Os};

    fn compile(text: &str) -> Artifacts {
        let compilation = crate::compile(&SourceFile::new("t.netc", text.to_string()), &Lock::default());
        compilation
            .artifacts
            .unwrap_or_else(|| panic!("{:?}", compilation.diagnostics))
    }

    /// A Linux control plane, and (flannel dataplane only: N0319) a Windows node.
    fn topology(dataplane: &str, backend: &str) -> String {
        let windows = dataplane == "flannel";
        format!(
            "cluster c {{\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n  dataplane {dataplane}\n  backend {backend}\n}}\n\
             segment s {{\n  prefix 10.1.0.0/24\n  gateway 10.1.0.1\n}}\n\
             node master {{\n  os linux\n  address 10.1.0.10\n  role control-plane\n}}\n{}{}",
            if windows { "node win {\n  os windows\n  build 20348\n  address 10.1.0.21\n}\n" } else { "" },
            if backend == "tor" { "tor t {\n  segment s\n  routes auto\n}\n" } else { "" }
        )
    }

    /// The node's one `cni-plugins` operation and the CNI config the program
    /// installs right after it (none where flannel's DaemonSet installs it).
    fn check_op(program: &Program) -> (&Operation, Option<&str>) {
        let at: Vec<usize> = (0..program.operations.len())
            .filter(|&i| matches!(program.operations[i], Operation::CniPlugins { .. }))
            .collect();
        assert_eq!(at.len(), 1, "{}: {:?}", program.node, program.operations);
        let conf = match program.operations.get(at[0] + 1) {
            Some(Operation::File { path, content, .. }) if path == linux::CNI_CONF || path == windows::CNI_CONF => {
                Some(content.as_str())
            }
            _ => None,
        };
        (&program.operations[at[0]], conf)
    }

    #[test]
    fn every_node_checks_the_cni_plugins_its_config_calls() {
        let flannel_linux = ["flannel", "bridge", "host-local", "portmap"];
        let standard_linux = ["bridge", "host-local", "portmap"];
        let vxlan = "vxlan { vni 4096; port 4789 }";
        // Dataplane, backend; the Linux node's plugins and those flannel's
        // DaemonSet installs; the Windows node's plugins.
        type Case<'a> = (&'a str, &'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);
        let cases: [Case; 5] = [
            (
                "flannel",
                vxlan,
                &flannel_linux,
                &["flannel"],
                &["flannel.exe", "win-overlay.exe", "host-local.exe"],
            ),
            (
                "flannel",
                "host-gw",
                &flannel_linux,
                &["flannel"],
                &["flannel.exe", "win-bridge.exe", "host-local.exe"],
            ),
            (
                "flannel",
                "tor",
                &standard_linux,
                &[],
                &["win-bridge.exe", "host-local.exe"],
            ),
            ("static", vxlan, &standard_linux, &[], &[]),
            ("static", "host-gw", &standard_linux, &[], &[]),
        ];
        for (dataplane, backend, linux_plugins, later, windows_plugins) in cases {
            let case = format!("{dataplane} {backend}");
            let artifacts = compile(&topology(dataplane, backend));
            let mut nodes = 0;
            for (path, bytes) in artifacts.files.iter().filter(|(p, _)| p.ends_with("/program.json")) {
                nodes += 1;
                let program: Program = serde_json::from_slice(bytes).unwrap();
                let (op, installed) = check_op(&program);
                let Operation::CniPlugins {
                    dir,
                    plugins,
                    installed_by_daemon_set,
                } = op
                else {
                    unreachable!()
                };
                let (os, expected, expected_later, expected_dir, conf_path) = if program.node == "win" {
                    (Os::Windows, windows_plugins, &[][..], windows::CNI_BIN, "cni.conf")
                } else {
                    (Os::Linux, linux_plugins, later, linux::CNI_BIN, "10-flannel.conflist")
                };
                assert_eq!(dir, expected_dir, "{case}: {path}");
                assert_eq!(plugins, expected, "{case}: {path}");
                assert_eq!(installed_by_daemon_set, expected_later, "{case}: {path}");
                // The list is read from the config the node gets, whoever installs it.
                let conf_file = format!("nodes/{}/{conf_path}", program.node);
                let emitted = std::str::from_utf8(&artifacts.files[&conf_file]).unwrap();
                if let Some(installed) = installed {
                    assert_eq!(installed, emitted, "{case}: {path}");
                } else {
                    assert!(
                        later.contains(&"flannel"),
                        "{case}: {path}: no CNI config after the check"
                    );
                }
                let types = plugin_types(&serde_json::from_str(emitted).unwrap(), os);
                let suffix = if os == Os::Windows { ".exe" } else { "" };
                let named: Vec<String> = types.iter().map(|t| format!("{t}{suffix}")).collect();
                assert_eq!(&named, plugins, "{case}: {path}");
            }
            assert_eq!(nodes, if dataplane == "flannel" { 2 } else { 1 }, "{case}");
        }
    }

    #[test]
    fn the_plugin_paths_agree_with_the_manifests_and_the_source_vip() {
        assert_eq!(windows::HOST_LOCAL, format!(r"{}\host-local.exe", windows::CNI_BIN));
        // flannel's DaemonSet copies the plugin the program lets it install.
        let artifacts = compile(&topology("flannel", "vxlan { vni 4096; port 4789 }"));
        let manifest = std::str::from_utf8(&artifacts.files["manifests/kube-flannel.yaml"]).unwrap();
        let target = format!("{}/{}", linux::CNI_BIN, linux::FLANNEL_PLUGIN);
        assert!(manifest.contains(&format!("- {target}\n")), "{manifest}");
    }
}
