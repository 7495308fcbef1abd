//! The objects a Windows host program owns, their identity, and the checks
//! it makes, expanded from a Windows `Program` (pure, like
//! `engine::desired` for Linux).
//!
//! Operations (see the `//!` header of
//! `netc_compiler::emit::program::types`) map to objects and checks:
//! - `firewall-rule` is a `FirewallRule`, keyed by the rule's name (the
//!   `-Name` of `New-NetFirewallRule`, its unique ID on the host).
//! - `file` is a `File`, keyed by its path (Windows has no mode).
//! - `hns-network` is an `HnsNetwork`, keyed by its name (what
//!   `Get-HnsNetwork` filters on and what kube-proxy's `--network-name`
//!   and the CNI config's `name` refer to).
//! - `hns-endpoint` is an `HnsEndpoint`, keyed by its name (the host
//!   endpoint `<network>_ep`, whose `vEthernet (<name>)` interface carries
//!   the pods' gateway).
//! - `source-vip-reserve` is a `SourceVip`, keyed by the reservation file's
//!   path. The `source-vip-cleanup` of the same subnet that precedes it (the
//!   compiler always writes the pair) is folded into it as `stale_files`:
//!   both say one thing, "the reservation in `path` is an address of
//!   `subnet`", and only together can a plan tell a fresh reservation from a
//!   stale one. A cleanup without its reservation is an `Error`.
//! - `cni-plugins` and `service` own nothing: they become `WindowsCheck`s,
//!   which the rendered script runs but which are never steps.
//!
//! Objects keep program order (the compiler writes dependencies first); an
//! object named twice identically is kept once, named twice differently it
//! is an error.

use std::collections::BTreeMap;
use std::fmt;

use ipnet::IpNet;
use netc_compiler::emit::program::types::{Operation, Program, ProgramOs, VERSION};
use serde::{Deserialize, Serialize};

use crate::engine::Error;

/// An HNS network. `adapter: None` means "the adapter carrying `address`,
/// found at apply time"; it is then not compared, because once the network
/// exists that address sits on the vSwitch's `vEthernet (...)` adapter, not
/// on the network's physical one.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HnsNetwork {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub subnet: String,
    pub gateway: String,
    pub adapter: Option<String>,
    pub address: String,
}

impl fmt::Display for HnsNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let network = self;
        write!(
            f,
            "hns-network {} type {} subnet {} gateway {}",
            network.name, network.kind, network.subnet, network.gateway
        )?;
        match &network.adapter {
            Some(adapter) => write!(f, " adapter {adapter}"),
            None => write!(f, " on the adapter of {}", network.address),
        }
    }
}

/// One object of a Windows host in the state the program wants.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum WindowsObject {
    /// An enabled allow rule for one local port.
    FirewallRule {
        name: String,
        protocol: String,
        port: u32,
        direction: String,
    },
    /// A file with exactly this content (UTF-8 without BOM, as
    /// `[IO.File]::WriteAllText` writes it).
    File {
        path: String,
        content: String,
    },
    HnsNetwork(HnsNetwork),
    /// A host endpoint at `address` on HNS network `network`, attached to
    /// the host compartment, with IPv4 forwarding on its
    /// `vEthernet (name)` interface.
    HnsEndpoint {
        name: String,
        network: String,
        address: String,
    },
    /// The source VIP: `path` holds a host-local reservation in `subnet`
    /// made under CNI network `network` through the request file `request`;
    /// each of `stale_files` that records an address outside `subnet` (or
    /// cannot be read) is removed first.
    SourceVip {
        path: String,
        network: String,
        subnet: String,
        plugin: String,
        request: String,
        stale_files: Vec<String>,
    },
}

/// The identity of a `WindowsObject`; also what the Windows inventory
/// lists. The variant order is the order keys sort in.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WindowsKey {
    FirewallRule(String),
    File(String),
    HnsNetwork(String),
    HnsEndpoint(String),
    SourceVip(String),
}

/// What the program checks but never changes.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum WindowsCheck {
    /// Every one of `plugins` is in `dir`; a missing one that is not in
    /// `installed_by_daemon_set` stops the apply before any change.
    CniPlugins {
        dir: String,
        plugins: Vec<String>,
        installed_by_daemon_set: Vec<String>,
    },
    /// A process a DaemonSet runs: warned about when absent or missing an
    /// argument. `source_vip` is the reservation file whose address stands
    /// for `$(SOURCE_VIP)` in `args` (the program's `source-vip-reserve`).
    Service {
        name: String,
        binary: String,
        args: Vec<String>,
        source_vip: Option<String>,
    },
}

/// A Windows program expanded: its checks and its objects, both in program
/// order.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowsDesired {
    pub node: String,
    pub checks: Vec<WindowsCheck>,
    pub objects: Vec<WindowsObject>,
}

impl WindowsObject {
    pub fn key(&self) -> WindowsKey {
        match self {
            WindowsObject::FirewallRule { name, .. } => WindowsKey::FirewallRule(name.clone()),
            WindowsObject::File { path, .. } => WindowsKey::File(path.clone()),
            WindowsObject::HnsNetwork(network) => WindowsKey::HnsNetwork(network.name.clone()),
            WindowsObject::HnsEndpoint { name, .. } => WindowsKey::HnsEndpoint(name.clone()),
            WindowsObject::SourceVip { path, .. } => WindowsKey::SourceVip(path.clone()),
        }
    }
}

impl WindowsKey {
    /// The delete order, lower first: what sits on something goes before
    /// it (the source VIP is an address of the pod subnet, a host endpoint
    /// sits on the HNS network, which carries that subnet), the firewall
    /// opening last among the network objects, files at the end.
    pub(crate) fn delete_rank(&self) -> u8 {
        match self {
            WindowsKey::SourceVip(_) => 0,
            WindowsKey::HnsEndpoint(_) => 1,
            WindowsKey::HnsNetwork(_) => 2,
            WindowsKey::FirewallRule(_) => 3,
            WindowsKey::File(_) => 4,
        }
    }
}

impl fmt::Display for WindowsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowsKey::FirewallRule(name) => write!(f, "firewall-rule {name}"),
            WindowsKey::File(path) => write!(f, "file {path}"),
            WindowsKey::HnsNetwork(name) => write!(f, "hns-network {name}"),
            WindowsKey::HnsEndpoint(name) => write!(f, "hns-endpoint {name}"),
            WindowsKey::SourceVip(path) => write!(f, "source-vip {path}"),
        }
    }
}

/// One line, naming the object and the state the program wants.
impl fmt::Display for WindowsObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowsObject::FirewallRule {
                name,
                protocol,
                port,
                direction,
            } => write!(f, "firewall-rule {name} allow {direction} {protocol} {port}"),
            WindowsObject::File { path, content } => write!(f, "file {path} ({} bytes)", content.len()),
            WindowsObject::HnsNetwork(network) => network.fmt(f),
            WindowsObject::HnsEndpoint { name, network, address } => {
                write!(f, "hns-endpoint {name} {address} on {network}, attached, forwarding")
            }
            WindowsObject::SourceVip {
                path, network, subnet, ..
            } => write!(f, "source-vip {path} in {subnet} under network {network}"),
        }
    }
}

impl fmt::Display for WindowsCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowsCheck::CniPlugins {
                dir,
                plugins,
                installed_by_daemon_set,
            } => {
                write!(f, "cni-plugins {} in {dir}", plugins.join(", "))?;
                if !installed_by_daemon_set.is_empty() {
                    write!(f, " (a DaemonSet installs {})", installed_by_daemon_set.join(", "))?;
                }
                Ok(())
            }
            WindowsCheck::Service { name, binary, args, .. } => {
                write!(f, "service {name} ({binary}")?;
                for arg in args {
                    write!(f, " {arg}")?;
                }
                f.write_str(")")
            }
        }
    }
}

macro_rules! bail {
    ($($arg:tt)*) => { return Err(Error(format!($($arg)*))) };
}

/// The checks and objects `program` wants on its Windows node.
pub fn desired(program: &Program) -> Result<WindowsDesired, Error> {
    if program.version != VERSION {
        bail!(
            "program.json of node {} has format version {}; this netc reads version {VERSION}",
            program.node,
            program.version
        );
    }
    if program.os != ProgramOs::Windows {
        bail!(
            "node {} runs Linux: its program is planned by the Linux engine, not the Windows driver",
            program.node
        );
    }
    // The reservation file of the program's source VIP, for `$(SOURCE_VIP)`.
    let source_vip = program.operations.iter().find_map(|op| match op {
        Operation::SourceVipReserve { path, .. } => Some(path.clone()),
        _ => None,
    });
    let mut checks = Vec::new();
    let mut objects: Vec<WindowsObject> = Vec::new();
    let mut seen: BTreeMap<WindowsKey, usize> = BTreeMap::new();
    // A cleanup waiting for the reservation of its subnet: (subnet, files).
    let mut cleanup: Option<(String, Vec<String>)> = None;
    for op in &program.operations {
        let object = match op {
            Operation::FirewallRule {
                name,
                protocol,
                port,
                direction,
            } => WindowsObject::FirewallRule {
                name: name.clone(),
                protocol: protocol.clone(),
                port: *port,
                direction: direction.clone(),
            },
            Operation::File { path, content, mode } => {
                if mode.is_some() {
                    bail!(
                        "file {path} of Windows node {} has a mode; Windows files have none",
                        program.node
                    );
                }
                WindowsObject::File {
                    path: path.clone(),
                    content: content.clone(),
                }
            }
            Operation::HnsNetwork {
                name,
                kind,
                subnet,
                gateway,
                adapter,
                address,
            } => WindowsObject::HnsNetwork(HnsNetwork {
                name: name.clone(),
                kind: kind.clone(),
                subnet: subnet.clone(),
                gateway: gateway.clone(),
                adapter: adapter.clone(),
                address: address.clone(),
            }),
            Operation::HnsEndpoint { network, name, address } => {
                if address.parse::<std::net::Ipv4Addr>().is_err() {
                    bail!(
                        "hns-endpoint {name} on node {} has an invalid IPv4 address {address}",
                        program.node
                    );
                }
                // The endpoint sits on the network: it must come first.
                if !objects
                    .iter()
                    .any(|o| matches!(o, WindowsObject::HnsNetwork(made) if made.name == *network))
                {
                    bail!(
                        "hns-endpoint {name} on node {} sits on HNS network {network}, which the program does not create before it",
                        program.node
                    );
                }
                WindowsObject::HnsEndpoint {
                    name: name.clone(),
                    network: network.clone(),
                    address: address.clone(),
                }
            }
            Operation::SourceVipCleanup { subnet, files } => {
                if let Some((pending, _)) = &cleanup {
                    bail!(
                        "source-vip-cleanup of {pending} on node {} is not followed by its source-vip-reserve",
                        program.node
                    );
                }
                cleanup = Some((subnet.clone(), files.clone()));
                continue;
            }
            Operation::SourceVipReserve {
                network,
                subnet,
                plugin,
                request,
                path,
            } => {
                if subnet.parse::<IpNet>().is_err() {
                    bail!(
                        "source-vip-reserve on node {} has an invalid subnet {subnet}",
                        program.node
                    );
                }
                let stale_files = match cleanup.take() {
                    Some((cleaned, files)) if cleaned == *subnet => files,
                    Some((cleaned, _)) => bail!(
                        "source-vip-cleanup of {cleaned} on node {} precedes a source-vip-reserve of another subnet ({subnet})",
                        program.node
                    ),
                    None => Vec::new(),
                };
                WindowsObject::SourceVip {
                    path: path.clone(),
                    network: network.clone(),
                    subnet: subnet.clone(),
                    plugin: plugin.clone(),
                    request: request.clone(),
                    stale_files,
                }
            }
            Operation::CniPlugins {
                dir,
                plugins,
                installed_by_daemon_set,
            } => {
                checks.push(WindowsCheck::CniPlugins {
                    dir: dir.clone(),
                    plugins: plugins.clone(),
                    installed_by_daemon_set: installed_by_daemon_set.clone(),
                });
                continue;
            }
            Operation::Service { name, binary, args } => {
                checks.push(WindowsCheck::Service {
                    name: name.clone(),
                    binary: binary.clone(),
                    args: args.clone(),
                    source_vip: source_vip.clone(),
                });
                continue;
            }
            linux => bail!(
                "operation {} of Windows node {} exists only on Linux",
                linux.tag(),
                program.node
            ),
        };
        let key = object.key();
        match seen.get(&key) {
            Some(&at) if objects[at] == object => continue,
            Some(_) => bail!("{key} is named twice with different settings on node {}", program.node),
            None => {
                seen.insert(key, objects.len());
                objects.push(object);
            }
        }
    }
    if let Some((subnet, _)) = cleanup {
        bail!(
            "source-vip-cleanup of {subnet} on node {} is not followed by its source-vip-reserve",
            program.node
        );
    }
    Ok(WindowsDesired {
        node: program.node.clone(),
        checks,
        objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(operations: Vec<Operation>) -> Program {
        Program {
            version: VERSION,
            node: "win".into(),
            os: ProgramOs::Windows,
            operations,
        }
    }

    fn cleanup(subnet: &str) -> Operation {
        Operation::SourceVipCleanup {
            subnet: subnet.into(),
            files: vec![r"C:\k\sourcevip.json".into()],
        }
    }

    fn reserve(subnet: &str) -> Operation {
        Operation::SourceVipReserve {
            network: "flannel.4096".into(),
            subnet: subnet.into(),
            plugin: r"C:\opt\cni\bin\host-local.exe".into(),
            request: r"C:\k\SourceVipRequest.json".into(),
            path: r"C:\k\sourcevip.json".into(),
        }
    }

    #[test]
    fn the_cleanup_folds_into_the_reservation_of_its_subnet() {
        let desired = desired(&program(vec![cleanup("198.18.2.0/24"), reserve("198.18.2.0/24")])).unwrap();
        assert_eq!(desired.objects.len(), 1);
        let WindowsObject::SourceVip { stale_files, .. } = &desired.objects[0] else {
            panic!("{:?}", desired.objects)
        };
        assert_eq!(stale_files, &[r"C:\k\sourcevip.json".to_string()]);

        let mismatch = super::desired(&program(vec![cleanup("198.18.2.0/24"), reserve("198.18.3.0/24")]));
        assert!(mismatch.unwrap_err().0.contains("another subnet"));
        let alone = super::desired(&program(vec![cleanup("198.18.2.0/24")]));
        assert!(alone.unwrap_err().0.contains("not followed"));
    }

    #[test]
    fn a_host_endpoint_needs_its_network_first_and_an_ipv4_address() {
        let network = Operation::HnsNetwork {
            name: "cbr0".into(),
            kind: "L2Bridge".into(),
            subnet: "198.18.5.0/24".into(),
            gateway: "198.18.5.1".into(),
            adapter: None,
            address: "198.51.100.21".into(),
        };
        let endpoint = |address: &str| Operation::HnsEndpoint {
            network: "cbr0".into(),
            name: "cbr0_ep".into(),
            address: address.into(),
        };
        let both = desired(&program(vec![network.clone(), endpoint("198.18.5.2")])).unwrap();
        assert_eq!(both.objects[1].key(), WindowsKey::HnsEndpoint("cbr0_ep".into()));
        let first = desired(&program(vec![endpoint("198.18.5.2"), network.clone()]));
        assert!(first.unwrap_err().0.contains("does not create before it"));
        let bad = desired(&program(vec![network, endpoint("198.18.5.2/24")]));
        assert!(bad.unwrap_err().0.contains("invalid IPv4 address"));
    }

    #[test]
    fn linux_programs_and_operations_are_refused() {
        let mut linux = program(Vec::new());
        linux.os = ProgramOs::Linux;
        assert!(desired(&linux).unwrap_err().0.contains("runs Linux"));
        let sysctl = program(vec![Operation::Sysctl {
            key: "net.ipv4.ip_forward".into(),
            value: "1".into(),
            best_effort: false,
        }]);
        assert!(desired(&sysctl).unwrap_err().0.contains("only on Linux"));
    }

    #[test]
    fn a_key_named_twice_differently_is_an_error() {
        let file = |content: &str| Operation::File {
            path: r"C:\k\a.json".into(),
            content: content.into(),
            mode: None,
        };
        assert_eq!(desired(&program(vec![file("a"), file("a")])).unwrap().objects.len(), 1);
        assert!(desired(&program(vec![file("a"), file("b")]))
            .unwrap_err()
            .0
            .contains("named twice"));
    }
}
