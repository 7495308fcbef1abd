//! The node runtime's library: what the `netc` binary and its tests share
//! beyond the command line.
//!
//! `engine` is the pure planning core of the node runtime: from a host
//! program, its peer table and the observed host state it computes the
//! ordered steps that make the host match the program. It does no I/O; the
//! drivers (netlink, sysctl, files, the state directory) live elsewhere.
//!
//! `driver` reads and changes the host: `driver::linux::netlink` observes
//! and applies the link, address, route, neighbour and FDB steps of a plan;
//! `driver::linux::host` the file, sysctl, module and masquerade steps.
//!
//! `git` reads files straight from git objects (`netc diff`, the agent).
//!
//! `files` reads sources and writes files and output trees atomically.
//!
//! `agent` is the git-watched node agent: fetch, judge, apply, correct
//! drift, record status, serve metrics.
//!
//! `cluster` talks to the Kubernetes API (kube): server-side apply and
//! pruning of the manifests (`netc deploy`), the agent's Node annotations
//! and pod CIDR check.
//!
//! `node` is the apply transaction on a Linux node (journal, steps, undo,
//! verify, commit) that `netc apply` and the agent share.
//!
//! `windows_node` runs the Windows driver's scripts through PowerShell on a
//! Windows node, for the agent (not executed here: no Windows).
//!
//! `state` is the state directory: the inventory of what netc created and
//! the last program applied.

pub mod agent;
pub mod cluster;
pub mod driver;
pub mod engine;
pub mod files;
pub mod git;
pub mod node;
pub mod state;
pub mod windows_node;
