//! Applying a Windows host program on the Windows node itself, for the
//! agent's HostProcess DaemonSet: the Windows driver's scripts
//! (`driver::windows`) run through `powershell.exe`.
//!
//! **Not executed in this project's tests**: there is no Windows and no
//! PowerShell here. The scripts are golden-tested and parsed with
//! tree-sitter (runtime/tests/windows_plan.rs); CI compiles netc for
//! Windows (`cargo check --target x86_64-pc-windows-gnu`); the tests check
//! that on a host without PowerShell this is a clean failure that changes
//! nothing.
//!
//! The transaction mirrors `node::Session::apply`: observe (the observe
//! script prints JSON), plan, refuse conflicts, journal the keys to create
//! into `windows-inventory.json`, run the apply script (it stops at its
//! first error), observe again and require an empty plan, then record the
//! exact inventory and the last good program.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use netc_compiler::emit::program::types::Program;

use crate::driver::windows::{self, WindowsDesired, WindowsInventory, WindowsObserved};
use crate::files::write_atomic_with_mode;
use crate::state;

/// The PowerShell the agent runs the scripts with.
pub const POWERSHELL: &str = "powershell.exe";

/// The Windows inventory in a state directory.
pub fn inventory_path(state_dir: &Path) -> PathBuf {
    state_dir.join("windows-inventory.json")
}

pub fn read_inventory(state_dir: &Path) -> Result<WindowsInventory, String> {
    let path = inventory_path(state_dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("cannot read `{}`: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(WindowsInventory::new()),
        Err(e) => Err(format!("cannot read `{}`: {e}", path.display())),
    }
}

fn write_inventory(state_dir: &Path, inventory: &WindowsInventory) -> Result<(), String> {
    std::fs::create_dir_all(state_dir).map_err(|e| format!("cannot create `{}`: {e}", state_dir.display()))?;
    let mut json = serde_json::to_vec_pretty(inventory).map_err(|e| e.to_string())?;
    json.push(b'\n');
    write_atomic_with_mode(&inventory_path(state_dir), &json, None)
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

/// Apply `program` (kept with `peers` as the last good pair); a summary of
/// what changed, `None` when nothing had to. With `record`, the state is
/// written also when nothing changed (a new program the host already
/// matches); without, a no-op writes nothing.
pub fn apply(
    powershell: &Path,
    state_dir: &Path,
    program: &[u8],
    peers: &[u8],
    record: bool,
) -> Result<Option<String>, String> {
    let parsed: Program = serde_json::from_slice(program).map_err(|e| format!("program.json: {e}"))?;
    let desired = windows::desired(&parsed).map_err(|e| e.0)?;
    let owned = read_inventory(state_dir)?;
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
            write_inventory(state_dir, &exact)?;
            state::commit_last_good(state_dir, program, peers)?;
        }
        return Ok(None);
    }
    let mut journal = owned.clone();
    journal.extend(exact.iter().cloned());
    write_inventory(state_dir, &journal)?;
    run(powershell, &windows::powershell(&plan))?;
    let remaining = windows::plan(&desired, &observe(powershell, &desired, &journal)?, &journal);
    if !remaining.is_empty() {
        return Err(format!(
            "the host still differs from the program after the apply script ({} step(s) remain)",
            remaining.steps.len()
        ));
    }
    write_inventory(state_dir, &exact)?;
    state::commit_last_good(state_dir, program, peers)?;
    Ok(Some(format!("{} step(s) applied by PowerShell", plan.steps.len())))
}
