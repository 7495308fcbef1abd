//! The rule registry. Every rule has a file here; `RULES` lists them in the
//! order they run (and `netc rules` prints them). Codes are never reused.

use super::Rule;

mod windows_vxlan_vni;
// modules N0302-N0312 (group A)
// modules N0313-N0323 (group B)
// modules N0401-N0414 (group C)

/// Every rule, in code order.
pub static RULES: &[&Rule] = &[
    &windows_vxlan_vni::RULE,
    // rules N0302-N0312 (group A)
    // rules N0313-N0323 (group B)
    // rules N0401-N0414 (group C)
];
