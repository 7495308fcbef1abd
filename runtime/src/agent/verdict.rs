//! The verdict on a commit, as a reconciler returns an action: compile the
//! topology it holds, find this node's program, and hold a change that
//! needs cluster downtime unless it is allowed. Pure: snapshots in (read
//! from git by `source`), a `Verdict` out; the agent carries it out. The
//! checks that read the repository (anti-rollback, signatures) come first,
//! in the agent.

use std::sync::Arc;

use netc_compiler::emit::program::bundle::CompiledNode;
use netc_compiler::preview::{self, Class, Side};

use super::source::Snapshot;
use crate::git::NotCompiled;

/// The commit trailer that allows a downtime-class change.
pub const ALLOW_DISRUPTION_TRAILER: &str = "Netc-Allow-Disruption";

/// What to do with a commit.
#[derive(Debug)]
pub enum Verdict {
    /// Apply this program.
    Apply(Arc<CompiledNode>),
    /// Never to be applied: no topology at the path, it does not compile,
    /// or it does not name this node. Why, in one line.
    Invalid(String),
    /// Not without permission: a downtime-class change against the last
    /// applied revision. Why, in one line.
    Held(String),
}

/// The verdict on `head` for node `node`, the topology at `path`; `base` is
/// the last applied revision's snapshot, if any (the downtime check compares
/// against it); `allow_disruption` is `--allow-disruption`.
pub fn judge(head: &Snapshot, base: Option<&Snapshot>, path: &str, node: &str, allow_disruption: bool) -> Verdict {
    let compiled = match compile(head, path) {
        Ok(compiled) => compiled,
        Err(why) => return Verdict::Invalid(why.to_string()),
    };
    let Some(artifacts) = compiled.artifacts.as_ref() else {
        return Verdict::Invalid("does not compile".into());
    };
    let bundle = match CompiledNode::from_files(&artifacts.files, node) {
        Ok(Some(bundle)) => bundle,
        Ok(None) => return Verdict::Invalid(format!("the topology has no node `{node}`")),
        Err(why) => return Verdict::Invalid(why.to_string()),
    };
    if !(allow_disruption || allows_disruption(&head.message)) {
        if let Some(reason) = base.and_then(|base| downtime(base, &compiled, path)) {
            return Verdict::Held(reason);
        }
    }
    Verdict::Apply(Arc::new(bundle))
}

/// Why going from `base` to `head` needs cluster downtime, if it does (a
/// base that no longer compiles gives no reason to hold).
fn downtime(base: &Snapshot, head: &netc_compiler::Compilation, path: &str) -> Option<String> {
    let base = compile(base, path).ok()?;
    let preview = preview::preview(
        Side {
            topology: base.topology.as_ref(),
            files: base.artifacts.as_ref().map(|a| &a.files),
        },
        Side {
            topology: head.topology.as_ref(),
            files: head.artifacts.as_ref().map(|a| &a.files),
        },
    );
    let downtime: Vec<String> = preview
        .disruptions
        .iter()
        .filter(|d| d.class == Class::Downtime)
        .map(|d| d.change.clone())
        .collect();
    (!downtime.is_empty()).then(|| {
        format!(
            "needs cluster downtime ({}); held until allowed with --allow-disruption or a `{ALLOW_DISRUPTION_TRAILER}: yes` commit trailer",
            downtime.join("; ")
        )
    })
}

/// Whether a commit message carries `Netc-Allow-Disruption: yes`.
pub fn allows_disruption(message: &str) -> bool {
    message.lines().any(|line| {
        line.split_once(':').is_some_and(|(key, value)| {
            key.trim().eq_ignore_ascii_case(ALLOW_DISRUPTION_TRAILER) && value.trim().eq_ignore_ascii_case("yes")
        })
    })
}

/// Compile a snapshot; why not, in one line per error (at most five).
fn compile(snapshot: &Snapshot, path: &str) -> Result<netc_compiler::Compilation, String> {
    let (source, compilation) = match snapshot.committed.compile(path, "") {
        None => return Err(format!("no `{path}` at this revision")),
        Some(Err(NotCompiled::NotText)) => return Err(format!("`{path}` is not UTF-8 text")),
        Some(Err(NotCompiled::BadLock { problems, .. })) => {
            return Err(format!(
                "`{path}.lock` is not a valid lock file: {}",
                problems[0].message
            ))
        }
        Some(Ok(compiled)) => compiled,
    };
    let errors: Vec<String> = compilation
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let at = source.line_col(d.primary.span.start);
            format!("{path}:{}:{}: {} {}", at.line, at.column, d.code, d.message)
        })
        .collect();
    if errors.is_empty() {
        Ok(compilation)
    } else {
        let more = errors.len().saturating_sub(5);
        let mut shown = errors.into_iter().take(5).collect::<Vec<_>>().join("; ");
        if more > 0 {
            shown.push_str(&format!("; and {more} more"));
        }
        Err(format!("does not compile: {shown}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::Committed;

    const TOPOLOGY: &str = include_str!("../../../examples/static-vxlan.netc");
    const LOCK: &str = include_str!("../../../examples/static-vxlan.netc.lock");

    fn snapshot(topology: &str, message: &str) -> Snapshot {
        Snapshot {
            commit: "c".repeat(40),
            message: message.into(),
            committed: Committed {
                topology: Some(topology.as_bytes().to_vec()),
                lock: Some(LOCK.as_bytes().to_vec()),
            },
        }
    }

    #[test]
    fn the_trailer_is_recognised_case_insensitively_and_only_with_yes() {
        assert!(allows_disruption("Move pods\n\nNetc-Allow-Disruption: yes\n"));
        assert!(allows_disruption("x\n\nnetc-allow-disruption:YES"));
        assert!(!allows_disruption("x\n\nNetc-Allow-Disruption: no"));
        assert!(!allows_disruption("Netc-Allow-Disruption is needed"));
    }

    /// Each verdict from snapshots alone: a program to apply, invalid for a
    /// missing file, a compile error or an unknown node, held for a new pod
    /// network against the base unless allowed by flag or trailer.
    #[test]
    fn a_commit_is_judged_from_its_snapshot_and_the_base() {
        let head = snapshot(TOPOLOGY, "more nodes");
        match judge(&head, None, "c.netc", "node-1", false) {
            Verdict::Apply(bundle) => assert_eq!(bundle.program.node, "node-1"),
            other => panic!("{other:?}"),
        }
        let verdict = |head: &Snapshot, base: Option<&Snapshot>, allow: bool| match judge(
            head, base, "c.netc", "node-1", allow,
        ) {
            Verdict::Apply(_) => "apply".to_owned(),
            Verdict::Invalid(why) => format!("invalid: {why}"),
            Verdict::Held(why) => format!("held: {why}"),
        };
        let mut missing = head.clone();
        missing.committed.topology = None;
        assert_eq!(verdict(&missing, None, false), "invalid: no `c.netc` at this revision");
        let broken = snapshot(&TOPOLOGY.replace("vni  4096", "vni  banana"), "x");
        assert!(
            verdict(&broken, None, false).starts_with("invalid: does not compile: c.netc:"),
            "{}",
            verdict(&broken, None, false)
        );
        assert_eq!(
            match judge(&head, None, "c.netc", "node-9", false) {
                Verdict::Invalid(why) => why,
                other => panic!("{other:?}"),
            },
            "the topology has no node `node-9`"
        );

        let moved = snapshot(
            &TOPOLOGY.replace("pod-network      198.18.0.0/16", "pod-network      198.18.0.0/17"),
            "new pod network",
        );
        assert!(
            verdict(&moved, Some(&head), false).starts_with("held: needs cluster downtime ("),
            "{}",
            verdict(&moved, Some(&head), false)
        );
        assert_eq!(verdict(&moved, Some(&head), true), "apply");
        let trailer = snapshot(
            &TOPOLOGY.replace("pod-network      198.18.0.0/16", "pod-network      198.18.0.0/17"),
            "x\n\nNetc-Allow-Disruption: yes",
        );
        assert_eq!(verdict(&trailer, Some(&head), false), "apply");
        assert_eq!(
            verdict(&moved, None, false),
            "apply",
            "nothing applied yet: nothing to disrupt"
        );
    }
}
