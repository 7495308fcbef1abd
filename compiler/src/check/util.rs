//! Small helpers shared by several rules.

use crate::model::{Node, Topology};

/// The Windows nodes whose `build` is known and below `minimum`.
pub fn windows_builds_below(topology: &Topology, minimum: u32) -> impl Iterator<Item = (&Node, u32)> {
    topology
        .windows_nodes()
        .filter_map(move |n| n.build.as_ref().map(|b| (n, b.value)).filter(|(_, b)| *b < minimum))
}

/// A human name for a Windows Server build, for messages.
pub fn windows_release(build: u32) -> &'static str {
    match build {
        b if b >= 26100 => "Windows Server 2025",
        b if b >= 20348 => "Windows Server 2022",
        b if b >= 18362 => "Windows Server, version 1903 or later",
        b if b >= 17763 => "Windows Server 2019",
        _ => "a Windows release older than Windows Server 2019",
    }
}
