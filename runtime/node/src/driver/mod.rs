//! Drivers: the code that reads and changes a Linux host for the engine's
//! plans. `linux::netlink` owns links, addresses, routes, neighbours and
//! FDB entries; `linux::host` the other kinds (files, sysctls, modules, the
//! masquerade chain). Windows hosts are changed by PowerShell scripts that
//! netc-plan renders (`crate::windows` runs them).

use std::fmt;

#[cfg(target_os = "linux")]
pub mod linux;

/// A driver failure, with what was being done. Both Linux drivers use it,
/// so a caller applying a plan handles one error type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<Error> for String {
    fn from(error: Error) -> String {
        error.0
    }
}
