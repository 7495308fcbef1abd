//! Host programs: per node, `nodes/<node>/program.json` (the typed, ordered,
//! idempotent operations of [`types`]) and the same program rendered as a
//! readable script, `host.sh` (Linux) or `host.ps1` (Windows), from the
//! minijinja templates in `compiler/templates/`. Per-peer state lives in one
//! shared `peers.json` that programs refer to, so the output grows linearly
//! with the node count.
//!
//! Runs after the per-node artifacts are emitted: the programs install
//! `subnet.env`, the CNI configs and `net-conf.json` byte for byte as emitted.

pub mod linux;
pub mod types;
pub mod windows;

use minijinja::{context, Environment, Error, ErrorKind, Value};

use super::facts::{flanneld_runs, node_dir};
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
        let text = env
            .get_template(template)
            .and_then(|t| t.render(context! { program => Value::from(minijinja::value::Serde(&program)) }))
            .unwrap_or_else(|e| panic!("{template} does not render {}'s program: {e:#}", program.node));
        out.json(format!("{dir}/program.json"), &program);
        out.text(format!("{dir}/{script}"), text);
    }
}

/// Every node once, sorted by name. The VTEP MAC only where netc creates
/// the vxlan device (static dataplane); flanneld chooses its own.
pub fn peer_table(topology: &Topology) -> PeerTable {
    let cluster = &topology.cluster;
    let static_vxlan = cluster.backend.kind.value == BackendKind::Vxlan && !flanneld_runs(topology);
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
