//! netc's effects on a node: everything that reads or changes a host on
//! behalf of the pure plans of netc-plan.
//!
//! - `driver::linux`: `netlink` observes and applies links, addresses,
//!   routes, neighbours and FDB entries; `host` files, sysctls, modules and
//!   the masquerade chain.
//! - `transaction`: the apply transaction (journal, apply, undo, verify,
//!   commit), written once over a `Driver`; `transaction::Session` is the
//!   Linux driver that `netc apply` and the agent use.
//! - `windows`: the Windows driver, through `powershell.exe` (not executed
//!   against Windows here: there is none).
//! - `state`: the state directory: the inventory of what netc created and
//!   the last program applied.
//! - `files`: reading sources with a size limit and errors that name the
//!   path; writing files and output trees atomically.

pub mod driver;
pub mod files;
pub mod state;
pub mod transaction;
pub mod windows;
