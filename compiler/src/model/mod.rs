//! Stage 2: the typed syntax tree becomes a [`Topology`]: ranges expanded,
//! names resolved, defaults made explicit, pod subnets allocated.
//!
//! Invariant: every node in the topology has an OS and an address; a node
//! missing either is reported (`N0203`) and left out, so the checks never see
//! half a node. Without a usable `cluster` block there is no topology.

mod alloc;
mod build;
mod defaults;
mod lock;
mod types;

pub use alloc::{allocate, family_len, nth_address, offset_address, LockConflict};
pub use build::build;
pub use defaults::*;
pub use lock::{lock_of, Lock};
pub use types::*;
