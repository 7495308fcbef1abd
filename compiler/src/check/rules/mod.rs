//! The rule registry. Every rule has a file here; `RULES` lists them in the
//! order they run (and `netc rules` prints them). Codes are never reused.

use super::Rule;

mod windows_vxlan_vni;

/// Every rule, in code order.
pub static RULES: &[&Rule] = &[&windows_vxlan_vni::RULE];
