//! The Linux drivers.

mod forward;
pub mod host;
pub mod netlink;

use std::fs::File;

use nix::sched::CloneFlags;

use crate::driver::Error;

/// Moves the calling thread (`setns(2)` moves no other) into the network
/// namespace at `path`, such as `/run/netns/NAME`.
fn enter_namespace(path: &str) -> Result<(), Error> {
    let file = File::open(path).map_err(|e| Error(format!("opening {path}: {e}")))?;
    nix::sched::setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| Error(format!("entering {path}: {e}")))
}
