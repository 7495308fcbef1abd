//! netc's pure node planning: what a host program wants, what to do about
//! what a host has, and (for Windows) the PowerShell that does it. Data in,
//! data out: no filesystem, netlink, processes, clock or environment
//! (`clippy.toml` bans them; netc-node holds the effects).
//!
//! - `engine`: a Linux host program and its peer table expanded into host
//!   objects (`desired`), and desired vs observed vs owned planned into
//!   ordered, classified steps (`plan`).
//! - `windows`: the same for a Windows host program, the way back after a
//!   failed apply (`undo`), and plans rendered as PowerShell
//!   (`powershell`), which a Windows node runs.
//! - `reconcile`: the rules both plans share.
//!
//! Invariants: deterministic (`BTreeMap`/`BTreeSet` only, ordered output;
//! the same input gives the same bytes); never plans the deletion of an
//! object netc does not own; planning is O(n log n) in the number of
//! objects.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod engine;
pub mod reconcile;
pub mod windows;
