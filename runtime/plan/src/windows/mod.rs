//! The Windows driver: a Windows host program planned like a Linux one, and
//! the plan rendered as the PowerShell (HNS, firewall, files) that applies
//! it. netc does not execute any of it: there is no Windows here, so the
//! scripts are golden-tested and parsed with tree-sitter's PowerShell
//! grammar (runtime/tests/windows_plan.rs), and a Windows host runs them.
//!
//! - `objects`: `desired(&Program)`: the owned objects (firewall rule,
//!   file, HNS network, source VIP) and their keys, and the check-only
//!   items (CNI plugins, services);
//! - `observed`: `WindowsObserved`, the JSON the observe script prints, and
//!   `WindowsInventory`, the keys netc owns;
//! - `plan`: `plan(desired, observed, inventory) -> WindowsPlan` with the
//!   engine's `Action` and `Disruption` and its rules (prune only owned
//!   keys, adopt in place, conflicts instead of removing foreign objects);
//! - `powershell`: `observe_script` and `powershell(&WindowsPlan)`.
//!
//! The flow on a Windows node: `desired` → run `observe_script` → parse
//! its output as `WindowsObserved` → `plan` → run `powershell(&plan)` →
//! observe again and require an empty plan → store `next_inventory`.
//!
//! Invariant: pure like the engine: no filesystem, processes, clock or
//! environment; `BTreeMap`/`BTreeSet` only; the same input gives the same
//! bytes.

pub mod objects;
pub mod observed;
pub mod plan;
pub mod powershell;

pub use objects::{desired, HnsNetwork, WindowsCheck, WindowsDesired, WindowsKey, WindowsObject};
pub use observed::{
    ObservedFirewallRule, ObservedHnsEndpoint, ObservedHnsNetwork, ObservedSubnet, WindowsInventory, WindowsObserved,
};
pub use plan::{next_inventory, plan, present, undo, Undo, WindowsConflict, WindowsPlan, WindowsStep};
pub use powershell::{observe_script, powershell};
