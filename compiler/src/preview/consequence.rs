//! What changing one setting of a device on a running node does: changed
//! in place, or only by deleting the device and creating it again, and the
//! disruption class of either. One table for both readers: a pull
//! request's preview (`disruption`, per topology change) and a node's plan
//! (netc-plan's `engine::plan` and `windows::plan`, per host object), so a
//! topology change and the host steps it leads to are called the same.
//!
//! Where the facts come from:
//! - Linux vxlan devices: the kernel's `vxlan_changelink` (drivers/net/
//!   vxlan/vxlan_core.c, Linux 6.1) refuses a new VNI, destination port,
//!   local address or underlay device on an existing device, so `ip link
//!   set` cannot change them; the MAC, MTU and learning flag change in
//!   place, and a device whose MTU changes drops its queue (a flap).
//! - Windows HNS networks: `Get-HnsNetwork`'s type, subnets, gateway and
//!   adapter are fixed at `New-HnsNetwork` (hns.psm1, microsoft/SDN); a new
//!   value means a new network, and every endpoint on the old one goes with
//!   it. HNS endpoints likewise keep their network and address.

use super::Class;

/// A setting of a device that a host program makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Setting {
    /// Linux: a vxlan device's VNI.
    VxlanVni,
    /// Linux: a vxlan device's UDP destination port.
    VxlanPort,
    /// Linux: a vxlan device's local (source) address.
    VxlanLocal,
    /// Linux: a vxlan device's underlay device.
    VxlanUnderlay,
    /// Linux: the kind of a link (a bridge where a vxlan device should be).
    LinkKind,
    /// Linux: a link's MAC address.
    LinkMac,
    /// Linux: a link's MTU.
    LinkMtu,
    /// Linux: a vxlan device's learning flag.
    VxlanLearning,
    /// Windows: an HNS network's type, subnet, gateway or adapter.
    HnsNetwork,
    /// Windows: an HNS endpoint's network or address.
    HnsEndpoint,
}

/// What a change of a setting does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Consequence {
    /// Whether the device is deleted and created again.
    pub recreates: bool,
    pub class: Class,
}

impl Setting {
    /// The one answer both the preview and the plans use.
    pub const fn consequence(self) -> Consequence {
        let (recreates, class) = match self {
            // Cross-node pod traffic stops until the device is back, on
            // every node at once when the setting is cluster-wide.
            Setting::VxlanVni
            | Setting::VxlanPort
            | Setting::VxlanLocal
            | Setting::VxlanUnderlay
            | Setting::LinkKind => (true, Class::Recreate),
            Setting::LinkMac | Setting::LinkMtu | Setting::VxlanLearning => (false, Class::Flap),
            // The pods' endpoints (or their gateway) go with the old one:
            // they lose traffic until recreated.
            Setting::HnsNetwork | Setting::HnsEndpoint => (true, Class::ConnectivityRisk),
        };
        Consequence { recreates, class }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recreating never counts as less than a flap, and changing in place
    /// never as more than a flap: a plan that recreates must say so in its
    /// class too.
    #[test]
    fn recreating_is_at_least_as_severe_as_any_in_place_change() {
        let all = [
            Setting::VxlanVni,
            Setting::VxlanPort,
            Setting::VxlanLocal,
            Setting::VxlanUnderlay,
            Setting::LinkKind,
            Setting::LinkMac,
            Setting::LinkMtu,
            Setting::VxlanLearning,
            Setting::HnsNetwork,
            Setting::HnsEndpoint,
        ];
        for setting in all {
            let consequence = setting.consequence();
            if consequence.recreates {
                assert!(consequence.class <= Class::Recreate, "{setting:?}");
            } else {
                assert!(consequence.class >= Class::Flap, "{setting:?}");
            }
        }
    }
}
