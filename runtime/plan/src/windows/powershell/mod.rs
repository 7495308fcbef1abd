//! The Windows driver's PowerShell: the script that observes a node
//! (`observe_script`, printing `WindowsObserved` as JSON) and the script
//! that applies a plan (`powershell`). Both are plain text, rendered
//! deterministically from data; netc never runs them itself.
//!
//! The commands are the ones `host.ps1` uses (compiler/templates/
//! host.ps1.j2), and the helper functions `Set-NetcFile`,
//! `Test-NetcCniPlugins`, `Test-NetcInSubnet`, `Get-NetcRecordedAddress` and
//! `Test-NetcProcess` are copies of its own, so both scripts agree on what
//! "the file holds exactly this", "the plugin is installed" and "the file
//! records an address in the subnet" mean:
//! - firewall rules: `Get-NetFirewallRule`, `Get-NetFirewallPortFilter`,
//!   `New-NetFirewallRule`, `Set-NetFirewallRule`, `Remove-NetFirewallRule`;
//! - HNS networks: `Get-HnsNetwork`, `New-HnsNetwork`, `Remove-HnsNetwork`
//!   from Microsoft's hns.psm1 (microsoft/SDN), imported from
//!   `C:\k\hns.psm1` when no such command is loaded;
//! - HNS host endpoints: hns.psm1's `Get-HnsEndpoint`, `New-HnsEndpoint`,
//!   `Attach-HnsHostEndpoint` (compartment 1, the host's) and
//!   `Remove-HnsEndpoint`, then `Set-NetIPInterface -Forwarding Enabled` on
//!   its `vEthernet (<name>)` interface, as flanneld's host-gw backend and
//!   Microsoft's SDN scripts do;
//! - files: written aside and renamed with `Move-Item -Force`;
//! - the source VIP: host-local run by hand with the request file, as
//!   Microsoft's `GetSourceVip` does.
//!
//! The apply script sets `$ErrorActionPreference = 'Stop'` (the first
//! failure ends it), refuses a plan with conflicts before anything else,
//! checks the CNI plugins before the first change (a missing plugin that
//! no DaemonSet installs stops it there), runs one block per step under a
//! `# <action> <object>: <reason> [<disruption>]` comment, and checks the
//! DaemonSets' processes after the last step (warnings only: they need the
//! source VIP the steps may have just reserved). Each block is guarded, so
//! running it twice is harmless.
//!
//! Files: `observe` and `apply` render the two scripts, `functions` holds
//! the PowerShell functions they define; the quoting and the lines both
//! share are here.

mod apply;
mod functions;
mod observe;

use netc_compiler::emit::program::ps_quote;

pub use self::apply::powershell;
pub use self::observe::observe_script;
use super::plan::one_line;

/// Run as Administrator, stop at the first error, no undefined variables.
const PREAMBLE: &str =
    "#Requires -RunAsAdministrator\nSet-StrictMode -Version Latest\n$ErrorActionPreference = 'Stop'\n";

/// Loads hns.psm1 unless `command`, one of its functions, is already
/// there, as `host.ps1` does; one line without its end.
fn import_hns(command: &str) -> String {
    format!("if (-not (Get-Command {command} -ErrorAction SilentlyContinue)) {{ Import-Module C:\\k\\hns.psm1 }}")
}

/// `@('a', 'b')`: a PowerShell array of string literals.
fn ps_array<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| ps_quote(item.as_ref())).collect();
    format!("@({})", quoted.join(", "))
}

/// A `#` comment: one line whatever the text holds.
fn comment(text: &str) -> String {
    format!("# {}\n", one_line(text))
}
