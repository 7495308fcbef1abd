//! One module per subcommand.

pub mod adopt;
pub mod agent;
pub mod apply;
pub mod check;
pub mod compile;
pub mod deploy;
pub mod diff;
pub mod explain;
pub mod fmt;
pub mod graph;
pub mod windows;
