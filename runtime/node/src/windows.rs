//! Applying a Windows host program on the Windows node itself, for the
//! agent's HostProcess DaemonSet: the Windows driver's scripts
//! (`netc_plan::windows`) run through `powershell.exe`.
//!
//! **Not executed in this project's tests**: there is no Windows and no
//! PowerShell here. The scripts are golden-tested and parsed with
//! tree-sitter (runtime/tests/windows_plan.rs); CI compiles netc for
//! Windows (clippy and a build for `x86_64-pc-windows-gnu`); the tests check
//! that on a host without PowerShell this is a clean failure that changes
//! nothing.
//!
//! The transaction mirrors `transaction::Session::apply`: observe (the observe
//! script prints JSON), plan, refuse conflicts, journal the keys to create
//! into `windows-inventory.json`, run the apply script (it stops at its
//! first error), observe again and require an empty plan, then record the
//! exact inventory and the last good program.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use netc_compiler::emit::program::bundle::CompiledNode;

use crate::state;
use netc_plan::windows::{self, WindowsDesired, WindowsInventory, WindowsObserved};

/// The PowerShell the agent runs the scripts with.
pub const POWERSHELL: &str = "powershell.exe";

/// The Windows inventory in a state directory.
pub fn inventory_path(state_dir: &Path) -> PathBuf {
    state_dir.join("windows-inventory.json")
}

pub fn read_inventory(state_dir: &Path) -> Result<WindowsInventory, state::StateError> {
    state::read_owned(&inventory_path(state_dir))
}

/// Run `script` with PowerShell; its standard output, or why it failed.
fn run(powershell: &Path, script: &str) -> Result<String, String> {
    let mut child = Command::new(powershell)
        .args([
            "-NoLogo",
            "-NoProfile",
            "-NonInteractive",
            "-ExecutionPolicy",
            "Bypass",
            "-Command",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", powershell.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| format!("{}: {e}", powershell.display()))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{}: {e}", powershell.display()))?;
    if !output.status.success() {
        return Err(format!(
            "the script failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn observe(powershell: &Path, desired: &WindowsDesired, owned: &WindowsInventory) -> Result<WindowsObserved, String> {
    let output = run(powershell, &windows::observe_script(desired, owned))?;
    let line = output.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("the observe script printed no state: {e}"))
}

/// Apply `node`'s program (kept with its peer table as the last good pair);
/// a summary of what changed, `None` when nothing had to. With `record`,
/// the state is written also when nothing changed (a new program the host
/// already matches); without, a no-op writes nothing.
pub fn apply(powershell: &Path, state_dir: &Path, node: &CompiledNode, record: bool) -> Result<Option<String>, String> {
    let desired = windows::desired(&node.program).map_err(|e| e.0)?;
    // As on Linux: an unreadable inventory owns nothing (nothing is pruned)
    // and is written whole again, its bytes kept beside it.
    let inventory = inventory_path(state_dir);
    let (owned, problem) = state::read_owned_leniently::<WindowsInventory>(&inventory)?;
    if let Some(problem) = &problem {
        tracing::warn!(%problem, "Windows inventory unreadable: applying without pruning");
        state::keep_unreadable(&inventory);
    }
    let record = record || problem.is_some();
    let observed = observe(powershell, &desired, &owned)?;
    let plan = windows::plan(&desired, &observed, &owned);
    if !plan.conflicts.is_empty() {
        return Err(format!(
            "the plan has {} conflict(s); nothing was changed",
            plan.conflicts.len()
        ));
    }
    let exact = windows::next_inventory(&desired);
    if plan.is_empty() {
        if record {
            state::write_owned(&inventory, &exact)?;
            state::commit_last_good(state_dir, node)?;
        }
        return Ok(None);
    }
    let journal = state::journal_owned(&inventory, &owned, exact.iter().cloned())?;
    run(powershell, &windows::powershell(&plan))?;
    let remaining = windows::plan(&desired, &observe(powershell, &desired, &journal)?, &journal);
    if !remaining.is_empty() {
        return Err(format!(
            "the host still differs from the program after the apply script ({} step(s) remain)",
            remaining.steps.len()
        ));
    }
    state::write_owned(&inventory, &exact)?;
    state::commit_last_good(state_dir, node)?;
    Ok(Some(format!("{} step(s) applied by PowerShell", plan.steps.len())))
}

#[cfg(all(test, unix))] // the stand-in for PowerShell is a shell script
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A "PowerShell" that reads its script and reports a host with one
    /// firewall rule, `netc-old`, which the program below does not want.
    fn powershell(dir: &Path) -> PathBuf {
        let path = dir.join("powershell");
        let observed = r#"{"firewall_rules":[{"name":"netc-old","direction":"Inbound","protocol":"UDP","local_port":"4789","action":"Allow","enabled":true}]}"#;
        std::fs::write(&path, format!("#!/bin/sh\ncat >/dev/null\necho '{observed}'\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn node() -> CompiledNode {
        CompiledNode::from_json(
            "win-1",
            br#"{"version":1,"node":"win-1","os":"windows","operations":[]}"#,
            br#"{"version":1,"cluster":"c","backend":"vxlan","nodes":[]}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_readable_inventory_prunes_what_it_owns() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(inventory_path(&state), r#"[{"firewall-rule":"netc-old"}]"#).unwrap();
        // The stand-in keeps reporting the rule, so the delete never lands:
        // the point is that it was planned.
        let error = apply(&powershell(dir.path()), &state, &node(), false).unwrap_err();
        assert!(error.contains("still differs"), "{error}");
    }

    #[test]
    fn a_garbled_inventory_prunes_nothing_and_is_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(inventory_path(&state), "[{\"firewall-rule\":\"netc-o").unwrap();
        let done = apply(&powershell(dir.path()), &state, &node(), false).unwrap();
        assert_eq!(done, None, "nothing to change: the foreign-looking rule is not owned");
        assert_eq!(read_inventory(&state).unwrap(), WindowsInventory::new());
        let kept = std::fs::read_to_string(state::unreadable_copy(&inventory_path(&state))).unwrap();
        assert_eq!(kept, "[{\"firewall-rule\":\"netc-o");
        assert!(state::read_last_good(&state).unwrap().is_some());
    }
}
