//! The host objects netc owns, as plain data, and their identity.
//!
//! An `Object` is one kernel or filesystem object in the exact state netc
//! wants (or, in `Observed`, the state a driver read). Its `ObjectKey` is its
//! identity: two objects with the same key are the same object in two
//! states, so a difference between them is an update, not a new object.
//! Identities follow the kernel's: a route is its destination (main table),
//! a neighbour its device and IP, an FDB entry its device and MAC, a link its
//! name (vxlan and bridge share the name space, so a kind change is a
//! recreate), an address its device and address-with-prefix (an address has
//! no other state, so a different one is another object).
//!
//! Choices:
//! - "link is up" is an `up` flag on the link objects, not an object of its
//!   own: it cannot exist without the link and is lost with it. `up: false`
//!   means "the program does not ask for it", never "bring it down".
//! - Addresses, prefixes and MACs are typed (`IpAddr`, `IpNet`, `Mac`), so
//!   equal objects compare equal however a driver or a program spelled
//!   them; keys hold their canonical text (as `std::net`/`ipnet` print
//!   them, MACs lowercase), which is also what the inventory records.
//! - `underlay: None` on a vxlan link means "the interface carrying `local`,
//!   found at apply time": it is not compared (a driver may resolve it
//!   before planning).
//! - Check-only operations (`cni-plugins`, Windows `service`) own nothing
//!   and are not objects. Windows operations are not objects either: the
//!   Windows driver renders them as PowerShell and nothing here executes
//!   them, so `desired` refuses Windows programs.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A MAC address, printed lowercase with colons (`02:42:c6:12:00:01`), as
/// the kernel's tools print it; in JSON, that text.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for Mac {
    type Err = String;

    /// Six two-digit hex bytes separated by `:`, in either case.
    fn from_str(text: &str) -> Result<Mac, String> {
        let mut bytes = [0u8; 6];
        let mut parts = text.split(':');
        for byte in &mut bytes {
            let part = parts
                .next()
                .filter(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
            *byte = part
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("`{text}` is not a MAC address"))?;
        }
        match parts.next() {
            None => Ok(Mac(bytes)),
            Some(_) => Err(format!("`{text}` is not a MAC address")),
        }
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Mac, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An arbitrary prefix for the fuzz targets (`ipnet` has no `Arbitrary`).
#[cfg(feature = "arbitrary")]
fn arbitrary_net(u: &mut arbitrary::Unstructured<'_>) -> arbitrary::Result<IpNet> {
    let address: IpAddr = u.arbitrary()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let length: u8 = u.int_in_range(0..=max)?;
    IpNet::new(address, length).map_err(|_| arbitrary::Error::IncorrectFormat)
}

/// One host object in a given state.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Object {
    /// A loaded kernel module (its `modules-load.d` file is a `File`).
    Module {
        name: String,
    },
    /// A kernel setting, keyed as for `sysctl -w` (`/` for a `.` inside a
    /// component). `best_effort`: a missing key is not an error at apply
    /// time; it is not part of the compared state.
    Sysctl {
        key: String,
        value: String,
        best_effort: bool,
    },
    /// A file with exactly this content and (octal) mode.
    File {
        path: String,
        content: String,
        mode: Option<String>,
    },
    VxlanLink(VxlanLink),
    Bridge {
        name: String,
        mtu: u32,
        up: bool,
    },
    /// An address with its prefix length (`198.18.0.0/32`) on a device.
    Address {
        device: String,
        #[cfg_attr(feature = "arbitrary", arbitrary(with = arbitrary_net))]
        cidr: IpNet,
    },
    /// A main-table route. `device: None`: the kernel picks the device for
    /// the next hop (not compared).
    Route {
        #[cfg_attr(feature = "arbitrary", arbitrary(with = arbitrary_net))]
        destination: IpNet,
        via: IpAddr,
        device: Option<String>,
        onlink: bool,
    },
    /// A permanent neighbour (ARP/NDP) entry.
    Neighbour {
        device: String,
        ip: IpAddr,
        mac: Mac,
    },
    /// A permanent bridge FDB entry (`self`): frames for `mac` go to `dst`.
    Fdb {
        device: String,
        mac: Mac,
        dst: IpAddr,
    },
    /// An IPv4 iptables `nat` chain masquerading `source` except to `except`
    /// (rewritten as a whole).
    Masquerade {
        chain: String,
        source: String,
        except: Vec<String>,
    },
    /// A `filter` chain jumped to from FORWARD that accepts traffic from
    /// and to each network: iptables for IPv4, ip6tables for IPv6 (each
    /// family's chain rewritten as a whole).
    ForwardAccept {
        chain: String,
        networks: Vec<String>,
    },
}

/// A vxlan device: `ip link add NAME type vxlan id VNI dstport PORT local
/// LOCAL [dev UNDERLAY] address MAC mtu MTU [no]learning [up]`. Without an
/// underlay the driver picks the interface that carries `local`.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VxlanLink {
    pub name: String,
    pub vni: u32,
    pub port: u32,
    pub local: IpAddr,
    pub underlay: Option<String>,
    pub mac: Mac,
    pub mtu: u32,
    pub learning: bool,
    pub up: bool,
}

impl fmt::Display for VxlanLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let link = self;
        write!(
            f,
            "vxlan {} id {} dstport {} local {}",
            link.name, link.vni, link.port, link.local
        )?;
        if let Some(underlay) = &link.underlay {
            write!(f, " dev {underlay}")?;
        }
        write!(f, " address {} mtu {}", link.mac, link.mtu)?;
        f.write_str(if link.learning { " learning" } else { " nolearning" })?;
        if link.up {
            f.write_str(" up")?;
        }
        Ok(())
    }
}

/// The identity of an `Object`. The variant order is the order keys sort in.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectKey {
    Module(String),
    Sysctl(String),
    File(String),
    /// A vxlan device or a bridge: one name space.
    Link(String),
    Address {
        device: String,
        cidr: String,
    },
    Route(String),
    Neighbour {
        device: String,
        ip: String,
    },
    Fdb {
        device: String,
        mac: String,
    },
    Masquerade(String),
    ForwardAccept(String),
}

impl Object {
    pub fn key(&self) -> ObjectKey {
        match self {
            Object::Module { name } => ObjectKey::Module(name.clone()),
            Object::Sysctl { key, .. } => ObjectKey::Sysctl(key.clone()),
            Object::File { path, .. } => ObjectKey::File(path.clone()),
            Object::VxlanLink(VxlanLink { name, .. }) | Object::Bridge { name, .. } => ObjectKey::Link(name.clone()),
            Object::Address { device, cidr } => ObjectKey::Address {
                device: device.clone(),
                cidr: cidr.to_string(),
            },
            Object::Route { destination, .. } => ObjectKey::Route(destination.to_string()),
            Object::Neighbour { device, ip, .. } => ObjectKey::Neighbour {
                device: device.clone(),
                ip: ip.to_string(),
            },
            Object::Fdb { device, mac, .. } => ObjectKey::Fdb {
                device: device.clone(),
                mac: mac.to_string(),
            },
            Object::Masquerade { chain, .. } => ObjectKey::Masquerade(chain.clone()),
            Object::ForwardAccept { chain, .. } => ObjectKey::ForwardAccept(chain.clone()),
        }
    }

    /// Whether this object lives on the link `name`, so the kernel removes
    /// it when the link is deleted: its addresses, neighbours, FDB entries
    /// and routes through it, and its per-device sysctls
    /// (`net.ipv6.conf.flannel/4096.accept_ra`).
    pub fn depends_on_link(&self, name: &str) -> bool {
        match self {
            Object::Address { device, .. } | Object::Neighbour { device, .. } | Object::Fdb { device, .. } => {
                device == name
            }
            Object::Route { device, .. } => device.as_deref() == Some(name),
            Object::Sysctl { key, .. } => sysctl_names_device(key, name),
            _ => false,
        }
    }
}

/// Whether a sysctl key (`.` separated, `/` for a `.` inside a component)
/// has a component that is exactly the device name.
fn sysctl_names_device(key: &str, device: &str) -> bool {
    key.split('.')
        .any(|component| component.len() == device.len() && component.replace('/', ".") == device)
}

impl ObjectKey {
    /// The delete order: lower first. Dependents go before what they sit
    /// on (routes, then FDB entries, then neighbours, the iptables chains,
    /// addresses, and only then links); files last. Modules and sysctls are
    /// never deleted (see `plan`).
    pub(crate) fn delete_rank(&self) -> u8 {
        match self {
            ObjectKey::Route(_) => 0,
            ObjectKey::Fdb { .. } => 1,
            ObjectKey::Neighbour { .. } => 2,
            ObjectKey::Masquerade(_) | ObjectKey::ForwardAccept(_) => 3,
            ObjectKey::Address { .. } => 4,
            ObjectKey::Link(_) => 5,
            ObjectKey::File(_) => 6,
            ObjectKey::Sysctl(_) => 7,
            ObjectKey::Module(_) => 8,
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectKey::Module(name) => write!(f, "module {name}"),
            ObjectKey::Sysctl(key) => write!(f, "sysctl {key}"),
            ObjectKey::File(path) => write!(f, "file {path}"),
            ObjectKey::Link(name) => write!(f, "link {name}"),
            ObjectKey::Address { device, cidr } => write!(f, "address {cidr} dev {device}"),
            ObjectKey::Route(destination) => write!(f, "route {destination}"),
            ObjectKey::Neighbour { device, ip } => write!(f, "neighbour {ip} dev {device}"),
            ObjectKey::Fdb { device, mac } => write!(f, "fdb {mac} dev {device}"),
            ObjectKey::Masquerade(chain) => write!(f, "masquerade chain {chain}"),
            ObjectKey::ForwardAccept(chain) => write!(f, "forward chain {chain}"),
        }
    }
}

/// iproute2-like, one line.
impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Module { name } => write!(f, "module {name}"),
            Object::Sysctl { key, value, .. } => write!(f, "sysctl {key} = {value}"),
            Object::File { path, content, mode } => {
                write!(f, "file {path}")?;
                if let Some(mode) = mode {
                    write!(f, " mode {mode}")?;
                }
                write!(f, " ({} bytes)", content.len())
            }
            Object::VxlanLink(link) => link.fmt(f),
            Object::Bridge { name, mtu, up } => {
                write!(f, "bridge {name} mtu {mtu}")?;
                if *up {
                    f.write_str(" up")?;
                }
                Ok(())
            }
            Object::Address { device, cidr } => write!(f, "address {cidr} dev {device}"),
            Object::Route {
                destination,
                via,
                device,
                onlink,
            } => {
                write!(f, "route {destination} via {via}")?;
                if let Some(device) = device {
                    write!(f, " dev {device}")?;
                }
                if *onlink {
                    f.write_str(" onlink")?;
                }
                Ok(())
            }
            Object::Neighbour { device, ip, mac } => {
                write!(f, "neighbour {ip} dev {device} lladdr {mac}")
            }
            Object::Fdb { device, mac, dst } => write!(f, "fdb {mac} dev {device} dst {dst}"),
            Object::Masquerade { chain, source, except } => {
                write!(f, "masquerade chain {chain} source {source}")?;
                if !except.is_empty() {
                    write!(f, " except {}", except.join(","))?;
                }
                Ok(())
            }
            Object::ForwardAccept { chain, networks } => {
                write!(f, "forward chain {chain} accept {}", networks.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_device_sysctls_depend_on_their_link() {
        let sysctl = |key: &str| Object::Sysctl {
            key: key.into(),
            value: "0".into(),
            best_effort: true,
        };
        assert!(sysctl("net.ipv6.conf.flannel/4096.accept_ra").depends_on_link("flannel.4096"));
        assert!(!sysctl("net.ipv6.conf.flannel/4097.accept_ra").depends_on_link("flannel.4096"));
        assert!(!sysctl("net.ipv4.ip_forward").depends_on_link("flannel.4096"));
        assert!(sysctl("net.ipv4.conf.cni0.forwarding").depends_on_link("cni0"));
    }

    #[test]
    fn keys_and_rendering() {
        let route = Object::Route {
            destination: "198.18.1.0/24".parse().unwrap(),
            via: "198.18.1.0".parse().unwrap(),
            device: Some("flannel.4096".into()),
            onlink: true,
        };
        assert_eq!(route.key(), ObjectKey::Route("198.18.1.0/24".into()));
        assert_eq!(
            route.to_string(),
            "route 198.18.1.0/24 via 198.18.1.0 dev flannel.4096 onlink"
        );
        assert!(route.depends_on_link("flannel.4096"));
        let bridge = Object::Bridge {
            name: "flannel.4096".into(),
            mtu: 1500,
            up: true,
        };
        assert_eq!(bridge.key(), ObjectKey::Link("flannel.4096".into()));
        let json = serde_json::to_string(&route).unwrap();
        assert_eq!(serde_json::from_str::<Object>(&json).unwrap(), route);
    }

    /// A vxlan link is one struct inside `Object`, with the same JSON as
    /// every other kind: the `kind` tag beside its fields (plans and the
    /// fuzz corpus are written in it), unknown fields refused.
    #[test]
    fn a_vxlan_link_reads_and_writes_the_flat_json_form() {
        let json = r#"{"kind":"vxlan-link","name":"flannel.4096","vni":4096,"port":4789,"local":"198.51.100.11","underlay":null,"mac":"02:aa:00:00:00:01","mtu":1450,"learning":false,"up":true}"#;
        let link: Object = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&link).unwrap(), json);
        assert_eq!(
            link.to_string(),
            "vxlan flannel.4096 id 4096 dstport 4789 local 198.51.100.11 address 02:aa:00:00:00:01 mtu 1450 nolearning up"
        );
        assert_eq!(link.key(), ObjectKey::Link("flannel.4096".into()));
        assert!(serde_json::from_str::<Object>(&json.replace(r#""up":true"#, r#""up":true,"x":1"#)).is_err());
    }
}
