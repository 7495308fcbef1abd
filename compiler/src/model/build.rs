//! Lowering a [`Document`] into a [`Topology`]: one cluster, required
//! settings present, names unique, `nodes` ranges expanded, segment and ToR
//! references resolved, defaults filled in.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

use super::alloc::{allocate, nth_address, offset_address};
use super::defaults::*;
use super::lock::Lock;
use super::types::*;
use crate::diagnostic::{best_match, Diagnostic, Span, Spanned};
use crate::syntax::ast::{AgentDecl, ClusterDecl, Document, NodeSettings};

/// Build the topology, or `None` when there is no usable cluster block.
/// `lock` holds the allocations of earlier compiles (empty on the first).
pub fn build(document: &Document, lock: &Lock, diagnostics: &mut Vec<Diagnostic>) -> Option<Topology> {
    let segments = segments(document, diagnostics);
    let mut nodes = nodes(document, diagnostics);
    for node in &mut nodes {
        node.segment = segment_of(&segments, node.address.value);
    }
    let tors = tors(document, &segments, diagnostics);
    let agent = document.agent.as_ref().and_then(|decl| agent(decl, diagnostics));
    let cluster = cluster(document, &nodes, diagnostics)?;
    let (subnets, conflicts) = allocate(&cluster, &nodes, lock);
    for conflict in conflicts {
        let node = &nodes[conflict.pinned_by];
        let span = node
            .pinned
            .iter()
            .find(|p| p.value == conflict.subnet)
            .map_or(node.declared, |p| p.span);
        diagnostics.push(
            Diagnostic::error(
                "N0208",
                span,
                format!(
                    "pod subnet `{}` is locked to node `{}`",
                    conflict.subnet, conflict.locked_to
                ),
            )
            .label(format!("pinned here for node `{}`", node.name.value))
            .help(format!(
                "pin another subnet, or move `{}` deliberately: delete its line from the lock file",
                conflict.locked_to
            ))
            .note("the lock file keeps every node's subnet so that no node moves by accident"),
        );
    }
    Some(Topology {
        cluster,
        segments,
        nodes,
        tors,
        subnets,
        agent,
        agent_written: document.agent.is_some(),
    })
}

/// Report a required setting as missing, unless the block tried to set it
/// (then a diagnostic already points at the attempt).
fn missing(
    diagnostics: &mut Vec<Diagnostic>,
    attempted: &BTreeSet<String>,
    header: Span,
    what: &str,
    key: &str,
    example: &str,
) {
    if attempted.contains(key) {
        return;
    }
    diagnostics.push(
        Diagnostic::error("N0203", header, format!("{what} has no `{key}`"))
            .label(format!("`{key}` is required here"))
            .help(format!("add a line such as `{example}`")),
    );
}

/// Reports a second declaration of a name; returns whether the name is new.
fn claim(
    names: &mut BTreeMap<String, Span>,
    name: &Spanned<String>,
    kind: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    if let Some(first) = names.get(&name.value) {
        diagnostics.push(
            Diagnostic::error("N0204", name.span, format!("{kind} `{}` is declared twice", name.value))
                .label("second declaration")
                .with_secondary(*first, "first declared here")
                .help(format!("rename one of them; {kind} names must be unique")),
        );
        return false;
    }
    names.insert(name.value.clone(), name.span);
    true
}

fn cluster(document: &Document, nodes: &[Node], diagnostics: &mut Vec<Diagnostic>) -> Option<Cluster> {
    let Some(decl) = document.clusters.first() else {
        if document.cluster_attempted {
            return None; // its header was already reported
        }
        diagnostics.push(
            Diagnostic::error("N0201", Span::default(), "the file declares no cluster")
                .label("expected a `cluster` block")
                .help("start the file with `cluster NAME { pod-network 10.244.0.0/16; service-network 10.96.0.0/12 }`"),
        );
        return None;
    };
    for extra in &document.clusters[1..] {
        diagnostics.push(
            Diagnostic::error("N0202", extra.name.span, "the file declares more than one cluster")
                .label("second cluster")
                .with_secondary(decl.name.span, "first cluster declared here")
                .help("put each cluster in a file of its own"),
        );
    }
    let pods = required(
        decl,
        &decl.pod_network,
        "pod-network",
        "pod-network 10.244.0.0/16",
        diagnostics,
    );
    let services = required(
        decl,
        &decl.service_network,
        "service-network",
        "service-network 10.96.0.0/12",
        diagnostics,
    );
    let (pod_networks, service_networks) = (pods?, services?);

    let cluster_dns = match &decl.cluster_dns {
        Some(list) => list.value.iter().cloned().map(Field::written).collect(),
        None => service_networks
            .iter()
            .filter_map(|net| nth_address(net.value, 10))
            .take(1)
            .map(|address| Field::default(address, decl.header))
            .collect(),
    };

    let backend = backend(decl, nodes);
    let windows = windows(decl, &backend);
    let kubernetes = Field::or(decl.kubernetes, KUBERNETES, decl.header);
    let images = images(decl, kubernetes.value);
    Some(Cluster {
        name: decl.name.clone(),
        header: decl.header,
        pod_networks,
        service_networks,
        cluster_dns,
        node_subnet_len: Field::or(decl.node_subnet_len, NODE_SUBNET_LEN, decl.header),
        underlay_mtu: Field::or(decl.underlay_mtu, UNDERLAY_MTU, decl.header),
        kubernetes,
        dataplane: Field::or(decl.dataplane, Dataplane::Flannel, decl.header),
        backend,
        windows,
        images,
        api_server: decl.api_server.clone(),
    })
}

fn required(
    decl: &ClusterDecl,
    value: &Option<Spanned<Vec<Spanned<IpNet>>>>,
    key: &str,
    example: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Vec<Spanned<IpNet>>> {
    if value.is_none() {
        missing(
            diagnostics,
            &decl.attempted,
            decl.header,
            &format!("cluster `{}`", decl.name.value),
            key,
            example,
        );
    }
    value.as_ref().map(|list| list.value.clone())
}

fn backend(decl: &ClusterDecl, nodes: &[Node]) -> Backend {
    let Some(written) = &decl.backend else {
        return Backend {
            kind: Field::default(BackendKind::Vxlan, decl.header),
            vxlan: Some(vxlan_defaults(None, nodes, decl.header)),
            ipsec: None,
        };
    };
    let kind = Field::written(written.kind);
    let vxlan = (kind.value == BackendKind::Vxlan).then(|| vxlan_defaults(Some(written), nodes, written.kind.span));
    let ipsec = (kind.value == BackendKind::Ipsec).then(|| ipsec_defaults(written, written.kind.span));
    Backend { kind, vxlan, ipsec }
}

/// flannel's ipsec defaults: no UDP encapsulation and its ESP proposal. The
/// key has none.
fn ipsec_defaults(written: &crate::syntax::ast::BackendDecl, anchor: Span) -> Ipsec {
    Ipsec {
        psk: written.psk.clone(),
        psk_attempted: written.psk.is_none() && written.attempted.contains("psk"),
        udp_encap: Field::or(written.udp_encap, false, anchor),
        esp_proposal: Field::or(written.esp_proposal.clone(), ESP_PROPOSAL.to_string(), anchor),
    }
}

/// VNI and port default to Windows' 4096/4789 when any Windows node exists,
/// else to flannel's Linux defaults 1/8472.
fn vxlan_defaults(written: Option<&crate::syntax::ast::BackendDecl>, nodes: &[Node], anchor: Span) -> Vxlan {
    let windows = nodes.iter().any(|n| n.os.value == Os::Windows);
    let (vni, port) = if windows {
        (WINDOWS_VNI, WINDOWS_VXLAN_PORT)
    } else {
        (LINUX_VNI, LINUX_VXLAN_PORT)
    };
    let pick = |f: fn(&crate::syntax::ast::BackendDecl) -> Option<Spanned<u32>>, default| {
        Field::or(written.and_then(f), default, anchor)
    };
    Vxlan {
        vni: pick(|b| b.vni, vni),
        port: pick(|b| b.port, port),
        gbp: Field::or(written.and_then(|b| b.gbp), false, anchor),
        direct_routing: Field::or(written.and_then(|b| b.direct_routing), false, anchor),
        mac_prefix: Field::or(
            written.and_then(|b| b.mac_prefix.clone()),
            MAC_PREFIX.to_string(),
            anchor,
        ),
    }
}

fn windows(decl: &ClusterDecl, backend: &Backend) -> Windows {
    let written = decl.windows.as_ref();
    let anchor = written.map_or(decl.header, |w| w.header);
    let vni = backend.vxlan.as_ref().map_or(WINDOWS_VNI, |v| v.vni.value);
    Windows {
        declared: written.map(|w| w.header),
        dsr: Field::or(written.and_then(|w| w.dsr), false, anchor),
        cni_api_version: Field::or(written.and_then(|w| w.cni_api_version), CNI_API_VERSION, anchor),
        network_name: Field::or(
            written.and_then(|w| w.network_name.clone()),
            default_network_name(backend.kind.value, vni),
            anchor,
        ),
        preserve_destination: Field::or(written.and_then(|w| w.preserve_destination), false, anchor),
        session_affinity: Field::or(written.and_then(|w| w.session_affinity), false, anchor),
    }
}

/// Written images, or the defaults; a default points at the `images`
/// block when there is one, else at the cluster.
fn images(decl: &ClusterDecl, kubernetes: KubeVersion) -> Images {
    let written = decl.images.as_ref();
    let anchor = written.map_or(decl.header, |i| i.header);
    let pick = |f: fn(&crate::syntax::ast::ImagesDecl) -> &Option<Spanned<String>>, default: String| {
        Field::or(written.and_then(|i| f(i).clone()), default, anchor)
    };
    Images {
        declared: written.map(|i| i.header),
        flannel: pick(|i| &i.flannel, FLANNEL_IMAGE.to_string()),
        flannel_cni_plugin: pick(|i| &i.flannel_cni_plugin, FLANNEL_CNI_PLUGIN_IMAGE.to_string()),
        flannel_windows: pick(|i| &i.flannel_windows, FLANNEL_WINDOWS_IMAGE.to_string()),
        kube_proxy_windows: pick(|i| &i.kube_proxy_windows, kube_proxy_windows_image(kubernetes)),
    }
}

fn segments(document: &Document, diagnostics: &mut Vec<Diagnostic>) -> Vec<Segment> {
    let mut names = BTreeMap::new();
    let mut segments = Vec::new();
    for decl in &document.segments {
        let unique = claim(&mut names, &decl.name, "segment", diagnostics);
        let Some(prefix) = decl.prefix else {
            missing(
                diagnostics,
                &decl.attempted,
                decl.header,
                &format!("segment `{}`", decl.name.value),
                "prefix",
                "prefix 192.168.10.0/24",
            );
            continue;
        };
        if unique {
            segments.push(Segment {
                name: decl.name.clone(),
                header: decl.header,
                prefix,
                gateway: decl.gateway,
            });
        }
    }
    segments
}

/// The segment with the longest prefix containing `address`.
fn segment_of(segments: &[Segment], address: IpAddr) -> Option<usize> {
    segments
        .iter()
        .enumerate()
        .filter(|(_, s)| s.prefix.value.contains(&address))
        .max_by_key(|(i, s)| (s.prefix.value.prefix_len(), std::cmp::Reverse(*i)))
        .map(|(i, _)| i)
}

fn node_common(
    settings: &NodeSettings,
    attempted: &BTreeSet<String>,
    header: Span,
    what: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<(Field<Os>, Field<Arch>, Field<Role>)> {
    let Some(os) = settings.os else {
        // A `build` is a Windows build number: suggest the OS it implies.
        let example = if settings.build.is_some() {
            "os windows"
        } else {
            "os linux"
        };
        missing(diagnostics, attempted, header, what, "os", example);
        return None;
    };
    Some((
        Field::written(os),
        Field::or(settings.arch, Arch::Amd64, header),
        Field::or(settings.role, Role::Worker, header),
    ))
}

fn nodes(document: &Document, diagnostics: &mut Vec<Diagnostic>) -> Vec<Node> {
    let mut names = BTreeMap::new();
    let mut nodes = Vec::new();
    for decl in &document.nodes {
        let what = format!("node `{}`", decl.name.value);
        let common = node_common(&decl.settings, &decl.attempted, decl.header, &what, diagnostics);
        if decl.address.is_none() {
            missing(
                diagnostics,
                &decl.attempted,
                decl.header,
                &what,
                "address",
                "address 192.168.10.10",
            );
        }
        let unique = claim(&mut names, &decl.name, "node", diagnostics);
        let (Some((os, arch, role)), Some(address), true) = (common, decl.address, unique) else {
            continue;
        };
        nodes.push(Node {
            name: decl.name.clone(),
            declared: decl.header,
            range: None,
            os,
            arch,
            build: decl.settings.build,
            address,
            interface: decl.settings.interface.clone(),
            role,
            pinned: decl.pod_subnet.as_ref().map(|p| p.value.clone()).unwrap_or_default(),
            segment: None,
        });
    }
    for decl in &document.ranges {
        let what = format!("node range `{}`", decl.name.value);
        let common = node_common(&decl.settings, &decl.attempted, decl.header, &what, diagnostics);
        let Some(start) = decl.address_start else {
            missing(
                diagnostics,
                &decl.attempted,
                decl.header,
                &what,
                "address-start",
                "address-start 192.168.11.10",
            );
            continue;
        };
        let Some((os, arch, role)) = common else { continue };
        let count = decl.count.value;
        if offset_address(start.value, count - 1).is_none() {
            diagnostics.push(
                Diagnostic::error(
                    "N0206",
                    start.span,
                    format!(
                        "{count} addresses from `{}` run past the end of the address space",
                        start.value
                    ),
                )
                .label("first address of the range")
                .help("start the range lower, or lower its count"),
            );
            continue;
        }
        // One diagnostic per range, not one per clashing node: a range
        // declared twice would otherwise report every one of its names.
        let mut clashes = Vec::new();
        for index in 1..=count {
            let name = Spanned::new(format!("{}-{index}", decl.name.value), decl.name.span);
            if let Some(first) = names.get(&name.value) {
                clashes.push((name.value, *first));
                continue;
            }
            names.insert(name.value.clone(), name.span);
            let address = offset_address(start.value, index - 1).expect("checked above");
            nodes.push(Node {
                name,
                declared: decl.header,
                range: Some((decl.name.value.clone(), index)),
                os: os.clone(),
                arch: arch.clone(),
                build: decl.settings.build,
                address: Spanned::new(address, start.span),
                interface: decl.settings.interface.clone(),
                role: role.clone(),
                pinned: Vec::new(),
                segment: None,
            });
        }
        if let Some((name, first)) = clashes.first() {
            let others = match clashes.len() {
                1 => String::new(),
                n => format!(" and {} more of its names", n - 1),
            };
            diagnostics.push(
                Diagnostic::error(
                    "N0204",
                    decl.name.span,
                    format!("node `{name}`{others} of range `{}` is declared twice", decl.name.value),
                )
                .label("this range makes the name again")
                .with_secondary(*first, "first declared here")
                .help("rename the range or the node; node names must be unique"),
            );
        }
    }
    nodes
}

/// The agent block with its defaults, or `None` (reported) when it lacks
/// a required setting: every one of them ends up in the DaemonSet's flags.
fn agent(decl: &AgentDecl, diagnostics: &mut Vec<Diagnostic>) -> Option<Agent> {
    let mut require = |value: &Option<Spanned<String>>, key: &str, example: &str| {
        if value.is_none() {
            missing(diagnostics, &decl.attempted, decl.header, "the agent", key, example);
        }
        value.clone()
    };
    let repo = require(&decl.repo, "repo", "repo \"https://git.example/net.git\"");
    let path = require(&decl.path, "path", "path \"cluster.netc\"");
    let image = require(&decl.image, "image", "image \"ghcr.io/example/netc:0.1.0\"");
    Some(Agent {
        header: decl.header,
        repo: repo?,
        branch: Field::or(decl.branch.clone(), AGENT_BRANCH.to_string(), decl.header),
        path: path?,
        image: image?,
        interval: Field::or(decl.interval, AGENT_INTERVAL, decl.header),
        allowed_signers: decl.allowed_signers.clone(),
        ssh_secret: decl.ssh_secret.clone(),
    })
}

fn tors(document: &Document, segments: &[Segment], diagnostics: &mut Vec<Diagnostic>) -> Vec<Tor> {
    let mut names = BTreeMap::new();
    let mut tors = Vec::new();
    for decl in &document.tors {
        if !claim(&mut names, &decl.name, "tor", diagnostics) {
            continue;
        }
        let segment = match &decl.segment {
            None => {
                missing(
                    diagnostics,
                    &decl.attempted,
                    decl.header,
                    &format!("tor `{}`", decl.name.value),
                    "segment",
                    "segment rack-a",
                );
                None
            }
            Some(name) => {
                let found = segments.iter().position(|s| s.name.value == name.value);
                // A segment that was declared but could not be built has
                // been reported already; do not call it unknown.
                let declared = document.segments.iter().any(|s| s.name.value == name.value);
                if found.is_none() && !declared {
                    let known: Vec<&str> = segments.iter().map(|s| s.name.value.as_str()).collect();
                    let help = match best_match(&name.value, &known) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None if known.is_empty() => "declare it with `segment NAME { prefix ... }`".to_string(),
                        None => format!("declared segments: {}", known.join(", ")),
                    };
                    diagnostics.push(
                        Diagnostic::error("N0205", name.span, format!("no segment named `{}`", name.value))
                            .label("unknown segment")
                            .help(help),
                    );
                }
                found
            }
        };
        tors.push(Tor {
            name: decl.name.clone(),
            header: decl.header,
            segment_name: decl.segment.clone(),
            segment,
            routes_auto: decl.routes_auto,
            routes: decl.routes.clone(),
        });
    }
    tors
}
