//! The Linux drivers.

pub mod netlink;
