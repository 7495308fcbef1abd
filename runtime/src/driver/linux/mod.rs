//! The Linux drivers.

pub mod host;
pub mod netlink;
