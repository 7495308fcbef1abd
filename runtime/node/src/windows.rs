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
//! The transaction is the one Linux uses (`transaction::transact`), with
//! `windows-inventory.json` as its inventory: observe (the observe script
//! prints JSON), plan, refuse conflicts, journal the keys to create, run
//! the apply script (it stops at its first error); on a failure observe
//! again and run the way back (`netc_plan::windows::undo`) and keep in the
//! inventory what could not be removed; else observe again, require an
//! empty plan and record the exact inventory and the last good program.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use netc_compiler::emit::program::bundle::CompiledNode;

use crate::driver;
use crate::state;
use crate::transaction::{transact, Driver, Failure, Ledger, SessionError};
use netc_plan::engine::Action;
use netc_plan::windows::{self, WindowsDesired, WindowsInventory, WindowsKey, WindowsObserved, WindowsPlan};

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

/// The Windows host as the shared transaction drives it: its scripts run
/// through `powershell`.
struct WindowsHost<'a> {
    powershell: &'a Path,
    desired: WindowsDesired,
}

impl Driver for WindowsHost<'_> {
    type Key = WindowsKey;
    type Observed = WindowsObserved;
    type Plan = WindowsPlan;
    /// The script does not say how far it got: the undo observes.
    type Progress = ();

    fn observe(&self, owned: &WindowsInventory) -> Result<WindowsObserved, driver::Error> {
        let output = run(self.powershell, &windows::observe_script(&self.desired, owned)).map_err(driver::Error)?;
        let line = output.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
        serde_json::from_str(line).map_err(|e| driver::Error(format!("the observe script printed no state: {e}")))
    }

    fn plan(&self, observed: &WindowsObserved, owned: &WindowsInventory) -> WindowsPlan {
        windows::plan(&self.desired, observed, owned)
    }

    fn creates(&self, plan: &WindowsPlan) -> WindowsInventory {
        plan.steps
            .iter()
            .filter(|step| step.action == Action::Create)
            .map(|step| step.key.clone())
            .collect()
    }

    fn exact(&self) -> WindowsInventory {
        windows::next_inventory(&self.desired)
    }

    fn apply(&self, plan: &WindowsPlan) -> Result<usize, (String, ())> {
        run(self.powershell, &windows::powershell(plan)).map_err(|message| (message, ()))?;
        Ok(plan.steps.len())
    }

    /// The way back from the host now to the host `before` the run
    /// (`windows::undo`), run as a script of its own.
    fn undo(&self, plan: &WindowsPlan, _: (), before: &WindowsObserved, owned: &WindowsInventory) -> Vec<String> {
        let after = match self.observe(owned) {
            Ok(after) => after,
            Err(message) => return vec![format!("cannot undo: observing the host failed: {message}")],
        };
        let back = windows::undo(plan, before, &after);
        let mut notes: Vec<String> = back.not_undone.iter().map(|key| format!("not undone: {key}")).collect();
        if back.plan.steps.is_empty() {
            return notes;
        }
        let keys = back.plan.steps.iter().map(|step| step.key.to_string());
        match run(self.powershell, &windows::powershell(&back.plan)) {
            Ok(_) => notes.extend(keys.map(|key| format!("undone: {key}"))),
            Err(message) => notes.push(format!(
                "cannot undo ({}): {message}",
                keys.collect::<Vec<_>>().join(", ")
            )),
        }
        notes
    }

    fn present(&self, observed: &WindowsObserved, keys: &WindowsInventory) -> WindowsInventory {
        windows::present(observed, keys)
    }
}

/// Apply `node`'s program (kept with its peer table as the last good pair)
/// with the shared transaction (`transaction::transact`): a summary of what
/// changed, `None` when nothing had to. With `record`, the state is written
/// also when nothing changed (a new program the host already matches);
/// without, a no-op writes nothing.
pub fn apply(
    powershell: &Path,
    state_dir: &Path,
    node: &CompiledNode,
    record: bool,
) -> Result<Option<String>, WindowsError> {
    let host = WindowsHost {
        powershell,
        desired: windows::desired(&node.program).map_err(SessionError::Program)?,
    };
    // As on Linux: an unreadable inventory owns nothing (nothing is pruned)
    // and is written whole again, its bytes kept beside it.
    let inventory = inventory_path(state_dir);
    let (owned, problem) = state::read_owned_leniently::<WindowsInventory>(&inventory).map_err(SessionError::State)?;
    if let Some(problem) = &problem {
        tracing::warn!(%problem, "Windows inventory unreadable: applying without pruning");
    }
    let observed = host.observe(&owned).map_err(SessionError::Driver)?;
    let plan = host.plan(&observed, &owned);
    let ledger = Ledger {
        state_dir,
        inventory,
        owned: &owned,
        unreadable: problem.is_some(),
        node,
    };
    let done = transact(&host, &ledger, &observed, &plan, record)?;
    Ok((!done.plan.steps.is_empty()).then(|| format!("{} step(s) applied by PowerShell", done.plan.steps.len())))
}

/// Why a Windows apply did not begin, or did not finish.
#[derive(Debug)]
pub enum WindowsError {
    /// Nothing was changed: the program, the inventory or the first
    /// observation failed.
    Session(SessionError),
    /// The transaction refused or failed (a failed step with its notes).
    Apply(Failure<WindowsPlan>),
}

impl fmt::Display for WindowsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowsError::Session(error) => error.fmt(f),
            WindowsError::Apply(failure @ Failure::Step { notes, .. }) => write!(f, "{failure} ({})", notes.join("; ")),
            WindowsError::Apply(failure) => failure.fmt(f),
        }
    }
}

impl std::error::Error for WindowsError {}

impl From<SessionError> for WindowsError {
    fn from(error: SessionError) -> Self {
        WindowsError::Session(error)
    }
}

impl From<Failure<WindowsPlan>> for WindowsError {
    fn from(failure: Failure<WindowsPlan>) -> Self {
        WindowsError::Apply(failure)
    }
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

    /// A "PowerShell" that plays a host call by call: call N saves its
    /// script as `N.ps1`, prints `N.out` if there is one, and fails with
    /// `N.err` if there is one.
    fn scripted_powershell(dir: &Path) -> PathBuf {
        let path = dir.join("powershell");
        let script = "#!/bin/sh\nd=$(dirname \"$0\")\nn=$(( $(cat \"$d/count\" 2>/dev/null || echo 0) + 1 ))\necho $n > \"$d/count\"\ncat > \"$d/$n.ps1\"\n[ -f \"$d/$n.out\" ] && cat \"$d/$n.out\"\nif [ -f \"$d/$n.err\" ]; then cat \"$d/$n.err\" >&2; exit 1; fi\nexit 0\n";
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// The apply script fails after it opened the port and rewrote the
    /// file: the transaction observes, runs the way back (the rule
    /// removed, the old content written again), and the inventory is as
    /// before (the journal had widened it by the rule); nothing is recorded
    /// as last good. If the host still shows the rule afterwards, the
    /// inventory keeps it, so the next apply prunes it.
    #[test]
    fn a_failed_apply_is_undone_and_the_inventory_keeps_only_what_stayed() {
        let before = r#"{"files":{"C:\\k\\a.conf":"old"}}"#;
        let after = r#"{"files":{"C:\\k\\a.conf":"new"},"firewall_rules":[{"name":"netc-udp","direction":"Inbound","protocol":"UDP","local_port":"4789","action":"Allow","enabled":true}]}"#;
        let node = CompiledNode::from_json(
            "win-1",
            br#"{"version":1,"node":"win-1","os":"windows","operations":[
                {"op":"firewall-rule","name":"netc-udp","direction":"Inbound","protocol":"UDP","port":4789},
                {"op":"file","path":"C:\\k\\a.conf","content":"new"}]}"#,
            br#"{"version":1,"cluster":"c","backend":"vxlan","nodes":[]}"#,
        )
        .unwrap();
        for (settled, left) in [(before, None), (after, Some("firewall-rule"))] {
            let dir = tempfile::tempdir().unwrap();
            let state = dir.path().join("state");
            let host = dir.path();
            // 1 observe, 2 apply (fails), 3 observe for the undo, 4 the
            // undo script, 5 observe to settle the inventory.
            std::fs::write(host.join("1.out"), before).unwrap();
            std::fs::write(host.join("2.err"), "New-NetFirewallRule: access denied").unwrap();
            std::fs::write(host.join("3.out"), after).unwrap();
            std::fs::write(host.join("5.out"), settled).unwrap();
            let error = apply(&scripted_powershell(host), &state, &node, false).unwrap_err();
            assert!(matches!(&error, WindowsError::Apply(Failure::Step { .. })), "{error}");
            let error = error.to_string();
            assert!(error.contains("access denied"), "{error}");
            let undo = std::fs::read_to_string(host.join("4.ps1")).unwrap();
            assert!(undo.contains("Remove-NetFirewallRule -Name 'netc-udp'"), "{undo}");
            assert!(undo.contains("Set-NetcFile 'C:\\k\\a.conf' 'old'"), "{undo}");
            assert!(error.contains("undone: firewall-rule netc-udp"), "{error}");
            let inventory = read_inventory(&state).unwrap();
            let kept: Vec<String> = inventory.iter().map(|key| key.to_string()).collect();
            match left {
                None => {
                    assert!(inventory.is_empty(), "{kept:?}");
                    assert!(error.contains("the host is as before this run"), "{error}");
                }
                Some(kind) => {
                    assert_eq!(kept, ["firewall-rule netc-udp"], "{kind}");
                    assert!(error.contains("could not be removed"), "{error}");
                }
            }
            assert!(state::read_last_good(&state).unwrap().is_none());
            assert!(!host.join("6.ps1").exists(), "nothing runs after the settle");
        }
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
        assert!(matches!(error, WindowsError::Apply(Failure::Drift(_))), "{error}");
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
