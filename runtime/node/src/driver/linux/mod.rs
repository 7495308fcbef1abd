//! The Linux drivers.

mod forward;
pub mod host;
pub mod netlink;
