//! The `netc` binary's library: what the command line and its tests share
//! beyond argument parsing. The node's pure planning is `netc_plan`, its
//! effects (drivers, the apply transaction, the state directory, atomic
//! files) `netc_node`; this crate holds what talks to the world beyond the
//! node.
//!
//! - `agent`: the git-watched node agent: fetch, judge, apply, correct
//!   drift, record status, serve metrics.
//! - `cluster`: the Kubernetes API (kube): server-side apply and pruning of
//!   the manifests (`netc deploy`), the agent's Node annotations and pod
//!   CIDR check.
//! - `git`: files read straight from git objects (`netc diff`, the agent).

pub mod agent;
pub mod cluster;
pub mod git;
