//! The grammar of `.netc`: which blocks exist, which settings each takes, and
//! the type of every value. Lowers the [`cst`](super::cst) into the typed
//! [`ast`](super::ast), reporting unknown keywords (with "did you mean"),
//! misplaced statements, bad values and repeated settings.

use std::collections::BTreeSet;

use super::ast::*;
use super::cst::{Atom, Block, File, Item, Setting};
use super::values::Values;
use crate::diagnostic::{best_match, Diagnostic, Spanned};

/// Top-level block keywords.
pub const TOP_LEVEL: &[&str] = &["cluster", "segment", "node", "nodes", "tor", "agent"];
pub const CLUSTER_KEYS: &[&str] = &[
    "pod-network",
    "service-network",
    "cluster-dns",
    "node-subnet-len",
    "underlay-mtu",
    "kubernetes",
    "dataplane",
    "backend",
    "windows",
    "images",
    "api-server",
];
pub const VXLAN_KEYS: &[&str] = &["vni", "port", "gbp", "direct-routing", "mac-prefix"];
pub const IPSEC_KEYS: &[&str] = &["psk", "udp-encap", "esp-proposal"];
pub const WINDOWS_KEYS: &[&str] = &[
    "dsr",
    "cni-api-version",
    "network-name",
    "preserve-destination",
    "session-affinity",
];
/// The images netc's manifests run, one setting each.
pub const IMAGES_KEYS: &[&str] = &["flannel", "flannel-cni-plugin", "flannel-windows", "kube-proxy-windows"];
pub const SEGMENT_KEYS: &[&str] = &["prefix", "gateway"];
pub const NODE_KEYS: &[&str] = &["os", "arch", "build", "address", "interface", "role", "pod-subnet"];
pub const RANGE_KEYS: &[&str] = &["os", "arch", "build", "address-start", "interface", "role"];
pub const TOR_KEYS: &[&str] = &["segment", "routes", "route"];
pub const AGENT_KEYS: &[&str] = &[
    "repo",
    "branch",
    "path",
    "image",
    "interval",
    "allowed-signer",
    "ssh-secret",
];

/// The longest `interval` of an `agent` block, in seconds: a day. Longer
/// would leave drift uncorrected for days, and is more likely a typo.
pub const MAX_AGENT_INTERVAL: u64 = 86_400;

/// The largest `count` of a `nodes` range; far above Kubernetes' 5,000-node
/// limit, low enough that a typo cannot make netc allocate gigabytes.
pub const MAX_RANGE_COUNT: u64 = 65_536;

/// Every block kind with its settings, for "is a setting of" hints.
const ALL_BLOCKS: &[(&str, &[&str])] = &[
    ("cluster", CLUSTER_KEYS),
    ("backend vxlan", VXLAN_KEYS),
    ("backend ipsec", IPSEC_KEYS),
    ("windows", WINDOWS_KEYS),
    ("images", IMAGES_KEYS),
    ("segment", SEGMENT_KEYS),
    ("node", NODE_KEYS),
    ("nodes", RANGE_KEYS),
    ("tor", TOR_KEYS),
    ("agent", AGENT_KEYS),
];

/// Lower a concrete syntax tree into a typed document.
pub fn lower(file: &File, diagnostics: &mut Vec<Diagnostic>) -> Document {
    let mut lowering = Lowering {
        values: Values { diagnostics },
    };
    let mut document = Document::default();
    for item in &file.items {
        match item {
            Item::Block(block) => lowering.top_level(block, &mut document),
            Item::Setting(setting) => lowering.misplaced_setting(setting, "the top level"),
            Item::Comment(_) | Item::Blank => {}
        }
    }
    document
}

struct Lowering<'d> {
    values: Values<'d>,
}

impl Lowering<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.values.diagnostics.push(diagnostic);
    }

    fn top_level(&mut self, block: &Block, document: &mut Document) {
        match block.keyword.text.as_str() {
            "cluster" => {
                document.cluster_attempted = true;
                if let Some(cluster) = self.cluster(block, document) {
                    document.clusters.push(cluster);
                }
            }
            "segment" => {
                if let Some(name) = self.one_label(block, "segment NAME {") {
                    document.segments.push(self.segment(block, name));
                }
            }
            "node" => {
                if let Some(name) = self.one_label(block, "node NAME {") {
                    document.nodes.push(self.node(block, name));
                }
            }
            "nodes" => {
                if let Some(range) = self.range(block) {
                    document.ranges.push(range);
                }
            }
            "tor" => {
                if let Some(name) = self.one_label(block, "tor NAME {") {
                    document.tors.push(self.tor(block, name));
                }
            }
            "agent" => {
                self.no_labels(block, "agent {");
                let agent = self.agent(block);
                if let Some(previous) = &document.agent {
                    self.push(
                        Diagnostic::error("N0106", block.keyword.span, "`agent` is set twice")
                            .label("second block")
                            .with_secondary(previous.header, "first set here")
                            .help("merge the two `agent` blocks: every node follows one repository"),
                    );
                } else {
                    document.agent = Some(agent);
                }
            }
            other => {
                let (message, help) = match best_match(other, TOP_LEVEL) {
                    Some(close) => (format!("unknown block `{other}`"), format!("did you mean `{close}`?")),
                    None if CLUSTER_KEYS.contains(&other) => (
                        format!("`{other}` must be inside the `cluster` block"),
                        format!("move `{other}` into `cluster NAME {{ ... }}`"),
                    ),
                    None => (
                        format!("unknown block `{other}`"),
                        format!("a file contains these blocks: {}", TOP_LEVEL.join(", ")),
                    ),
                };
                self.push(
                    Diagnostic::error("N0104", block.keyword.span, message)
                        .label("not a top-level block")
                        .help(help),
                );
            }
        }
    }

    /// The single name label of `KIND NAME {`.
    fn one_label(&mut self, block: &Block, form: &str) -> Option<Spanned<String>> {
        match block.labels.as_slice() {
            [name] => self.values.text(name, "the name"),
            [] => {
                self.push(
                    Diagnostic::error(
                        "N0107",
                        block.keyword.span,
                        format!("`{}` needs a name", block.keyword.text),
                    )
                    .label("no name given")
                    .help(format!("write it as `{form}`")),
                );
                None
            }
            [_, extra, ..] => {
                self.push(
                    Diagnostic::error("N0107", extra.span, format!("`{}` takes one name", block.keyword.text))
                        .label("unexpected word")
                        .help(format!("write it as `{form}`")),
                );
                None
            }
        }
    }

    fn no_labels(&mut self, block: &Block, form: &str) {
        if let Some(extra) = block.labels.first() {
            self.push(
                Diagnostic::error("N0107", extra.span, format!("`{}` takes no name", block.keyword.text))
                    .label("unexpected word")
                    .help(format!("write it as `{form}`")),
            );
        }
    }

    /// Report an unknown key; returns the known key it is probably a typo of.
    fn unknown_setting(&mut self, key: &Atom, block: &str, known: &[&'static str]) -> Option<&'static str> {
        let suggestion = best_match(&key.text, known);
        let help = match suggestion {
            Some(close) => format!("did you mean `{close}`?"),
            None => match ALL_BLOCKS.iter().find(|(_, keys)| keys.contains(&key.text.as_str())) {
                Some((owner, _)) => format!("`{}` is a setting of `{owner}` blocks", key.text),
                None => format!("a `{block}` block takes: {}", known.join(", ")),
            },
        };
        self.push(
            Diagnostic::error(
                "N0104",
                key.span,
                format!("unknown setting `{}` in `{block}`", key.text),
            )
            .label(format!("not a `{block}` setting"))
            .help(help),
        );
        suggestion
    }

    fn misplaced_setting(&mut self, setting: &Setting, place: &str) {
        let key = &setting.key.text;
        if TOP_LEVEL.contains(&key.as_str()) {
            // `node a` or `nodes worker count 3` without its block.
            let header: Vec<&str> = std::iter::once(key.as_str())
                .chain(setting.values.iter().map(|v| v.text.as_str()))
                .collect();
            self.push(
                Diagnostic::error(
                    "N0101",
                    setting.span,
                    format!("expected `{{` after `{}`", header.join(" ")),
                )
                .label(format!("a `{key}` is a block"))
                .help(format!("open its block on the same line: `{} {{`", header.join(" "))),
            );
            return;
        }
        self.push(
            Diagnostic::error("N0108", setting.key.span, format!("setting `{key}` outside of a block"))
                .label(format!("settings cannot appear at {place}"))
                .help("put settings inside a block, such as `cluster NAME { ... }` or `node NAME { ... }`"),
        );
    }

    fn misplaced_block(&mut self, block: &Block, place: &str) {
        let keyword = block.keyword.text.as_str();
        let help = if TOP_LEVEL.contains(&keyword) {
            format!("`{keyword}` blocks go at the top level of the file")
        } else if matches!(keyword, "backend" | "windows" | "images") {
            format!("`{keyword}` goes inside the `cluster` block")
        } else {
            format!("a `{place}` block holds settings only")
        };
        self.push(
            Diagnostic::error(
                "N0108",
                block.keyword.span,
                format!("block `{keyword}` cannot appear inside `{place}`"),
            )
            .label("unexpected block")
            .help(help),
        );
    }

    /// Store a parsed value, reporting a repeated setting.
    fn assign<T>(&mut self, slot: &mut Option<Spanned<T>>, key: &Atom, value: Option<Spanned<T>>) {
        let Some(value) = value else { return };
        if let Some(previous) = slot {
            self.push(
                Diagnostic::error("N0106", key.span, format!("`{}` is set twice", key.text))
                    .label("second setting")
                    .with_secondary(previous.span, "first set here")
                    .help("keep one of the two lines"),
            );
            return;
        }
        *slot = Some(value);
    }

    fn cluster(&mut self, block: &Block, document: &mut Document) -> Option<ClusterDecl> {
        let name = self.one_label(block, "cluster NAME {")?;
        let mut cluster = ClusterDecl {
            attempted: BTreeSet::new(),
            name,
            header: block.header,
            pod_network: None,
            service_network: None,
            cluster_dns: None,
            node_subnet_len: None,
            underlay_mtu: None,
            kubernetes: None,
            dataplane: None,
            backend: None,
            windows: None,
            images: None,
            api_server: None,
        };
        for item in &block.items {
            match item {
                Item::Setting(s) => self.cluster_setting(s, &mut cluster),
                Item::Block(inner) => match inner.keyword.text.as_str() {
                    "backend" => {
                        let backend = self.backend_block(inner);
                        self.set_backend(&mut cluster, &inner.keyword, backend);
                    }
                    "windows" => {
                        self.no_labels(inner, "windows {");
                        let windows = self.windows(inner);
                        if let Some(previous) = &cluster.windows {
                            self.push(
                                Diagnostic::error("N0106", inner.keyword.span, "`windows` is set twice")
                                    .label("second block")
                                    .with_secondary(previous.header, "first set here")
                                    .help("merge the two `windows` blocks"),
                            );
                        } else {
                            cluster.windows = Some(windows);
                        }
                    }
                    "images" => {
                        self.no_labels(inner, "images {");
                        let images = self.images(inner);
                        if let Some(previous) = &cluster.images {
                            self.push(
                                Diagnostic::error("N0106", inner.keyword.span, "`images` is set twice")
                                    .label("second block")
                                    .with_secondary(previous.header, "first set here")
                                    .help("merge the two `images` blocks"),
                            );
                        } else {
                            cluster.images = Some(images);
                        }
                    }
                    _ if TOP_LEVEL.contains(&inner.keyword.text.as_str()) => {
                        // Report it, and still read it as if it were at the
                        // top level, so its nodes or segments are not missed.
                        self.misplaced_block(inner, "cluster");
                        if inner.keyword.text != "cluster" {
                            self.top_level(inner, document);
                        }
                    }
                    _ => {
                        self.unknown_setting(&inner.keyword, "cluster", CLUSTER_KEYS);
                    }
                },
                Item::Comment(_) | Item::Blank => {}
            }
        }
        Some(cluster)
    }

    fn cluster_setting(&mut self, s: &Setting, c: &mut ClusterDecl) {
        c.attempted.insert(s.key.text.clone());
        let v = &mut self.values;
        match s.key.text.as_str() {
            "pod-network" => {
                let value = v.prefixes(s, 2, "pod-network 10.244.0.0/16, fd00:10:244::/56");
                self.assign(&mut c.pod_network, &s.key, value);
            }
            "service-network" => {
                let value = v.prefixes(s, 2, "service-network 10.96.0.0/12, fd00:10:96::/112");
                self.assign(&mut c.service_network, &s.key, value);
            }
            "cluster-dns" => {
                let value = v.addresses(s, 2, "cluster-dns 10.96.0.10");
                self.assign(&mut c.cluster_dns, &s.key, value);
            }
            "node-subnet-len" => {
                let value = v
                    .single(s, "node-subnet-len 24")
                    .and_then(|a| v.number(a, 1..=128, "`node-subnet-len`", "node-subnet-len 24"))
                    .map(|n| Spanned::new(n.value as u8, n.span));
                self.assign(&mut c.node_subnet_len, &s.key, value);
            }
            "underlay-mtu" => {
                let value = v
                    .single(s, "underlay-mtu 1500")
                    .and_then(|a| v.number(a, 68..=65_535, "`underlay-mtu`", "underlay-mtu 1500"))
                    .map(|n| Spanned::new(n.value as u32, n.span));
                self.assign(&mut c.underlay_mtu, &s.key, value);
            }
            "kubernetes" => {
                let value = v.single(s, "kubernetes 1.33.13").and_then(|a| v.kube_version(a));
                self.assign(&mut c.kubernetes, &s.key, value);
            }
            "dataplane" => {
                let value = v.single(s, "dataplane flannel").and_then(|a| v.keyword::<Dataplane>(a));
                self.assign(&mut c.dataplane, &s.key, value);
            }
            "backend" => {
                let kind = v.single(s, "backend vxlan").and_then(|a| v.keyword::<BackendKind>(a));
                let backend = kind.map(BackendDecl::new);
                self.set_backend(c, &s.key, backend);
            }
            "api-server" => {
                let value = v
                    .single(s, "api-server https://10.0.0.10:6443")
                    .and_then(|a| v.api_server(a));
                self.assign(&mut c.api_server, &s.key, value);
            }
            "images" => self.push(
                Diagnostic::error("N0108", s.key.span, "`images` is a block")
                    .label("expected `{` after `images`")
                    .help("write it as `images { flannel-windows \"REGISTRY/flannel:v0.28.9-hostprocess\" }`"),
            ),
            "windows" => self.push(
                Diagnostic::error("N0108", s.key.span, "`windows` is a block")
                    .label("expected `{` after `windows`")
                    .help(if s.values.is_empty() {
                        "write it as `windows { dsr on }`".to_string()
                    } else {
                        let written: Vec<&str> = s.values.iter().map(|v| v.text.as_str()).collect();
                        format!("write it as `windows {{ {} }}`", written.join(" "))
                    }),
            ),
            _ => {
                if let Some(meant) = self.unknown_setting(&s.key, "cluster", CLUSTER_KEYS) {
                    c.attempted.insert(meant.to_string());
                }
            }
        }
    }

    fn set_backend(&mut self, cluster: &mut ClusterDecl, key: &Atom, backend: Option<BackendDecl>) {
        let Some(backend) = backend else { return };
        if let Some(previous) = &cluster.backend {
            self.push(
                Diagnostic::error("N0106", key.span, "`backend` is set twice")
                    .label("second backend")
                    .with_secondary(previous.kind.span, "first set here")
                    .help("a cluster has one backend; keep one of the two"),
            );
            return;
        }
        cluster.backend = Some(backend);
    }

    fn backend_block(&mut self, block: &Block) -> Option<BackendDecl> {
        let label = match block.labels.as_slice() {
            [label] => label,
            _ => {
                self.push(
                    Diagnostic::error("N0107", block.keyword.span, "`backend` needs exactly one type")
                        .label("expected `backend TYPE {`")
                        .help("write it as `backend vxlan { vni 4096 }`"),
                );
                return None;
            }
        };
        let kind = self.values.keyword::<BackendKind>(label)?;
        let mut backend = BackendDecl::new(kind);
        for item in &block.items {
            let s = match item {
                Item::Setting(s) => s,
                Item::Block(inner) => {
                    self.misplaced_block(inner, "backend");
                    continue;
                }
                Item::Comment(_) | Item::Blank => continue,
            };
            match kind.value {
                BackendKind::Vxlan => self.vxlan_setting(s, &mut backend),
                BackendKind::Ipsec => self.ipsec_setting(s, &mut backend),
                _ => self.push(
                    Diagnostic::error(
                        "N0104",
                        s.key.span,
                        format!("the `{}` backend takes no settings", kind.value),
                    )
                    .label("unexpected setting")
                    .help(format!("remove it, or write `backend {}` without a block", kind.value)),
                ),
            }
        }
        Some(backend)
    }

    fn vxlan_setting(&mut self, s: &Setting, backend: &mut BackendDecl) {
        backend.attempted.insert(s.key.text.clone());
        let v = &mut self.values;
        match s.key.text.as_str() {
            "vni" => {
                let value = v
                    .single(s, "vni 4096")
                    .and_then(|a| v.number(a, 0..=u64::from(u32::MAX), "`vni`", "vni 4096"))
                    .map(|n| Spanned::new(n.value as u32, n.span));
                self.assign(&mut backend.vni, &s.key, value);
            }
            "port" => {
                let value = v
                    .single(s, "port 4789")
                    .and_then(|a| v.number(a, 0..=u64::from(u32::MAX), "`port`", "port 4789"))
                    .map(|n| Spanned::new(n.value as u32, n.span));
                self.assign(&mut backend.port, &s.key, value);
            }
            "gbp" => {
                let value = v.single(s, "gbp off").and_then(|a| v.boolean(a, "gbp"));
                self.assign(&mut backend.gbp, &s.key, value);
            }
            "direct-routing" => {
                let value = v
                    .single(s, "direct-routing off")
                    .and_then(|a| v.boolean(a, "direct-routing"));
                self.assign(&mut backend.direct_routing, &s.key, value);
            }
            "mac-prefix" => {
                let value = v
                    .single(s, "mac-prefix \"0E-2A\"")
                    .and_then(|a| v.text(a, "the MAC prefix"));
                self.assign(&mut backend.mac_prefix, &s.key, value);
            }
            _ => {
                if let Some(meant) = self.unknown_setting(&s.key, "backend vxlan", VXLAN_KEYS) {
                    backend.attempted.insert(meant.to_string());
                }
            }
        }
    }

    fn ipsec_setting(&mut self, s: &Setting, backend: &mut BackendDecl) {
        backend.attempted.insert(s.key.text.clone());
        let v = &mut self.values;
        match s.key.text.as_str() {
            "psk" => {
                let value = v
                    .single(s, "psk \"<at least 96 characters>\"")
                    .and_then(|a| v.text(a, "the pre-shared key"));
                self.assign(&mut backend.psk, &s.key, value);
            }
            "udp-encap" => {
                let value = v.single(s, "udp-encap on").and_then(|a| v.boolean(a, "udp-encap"));
                self.assign(&mut backend.udp_encap, &s.key, value);
            }
            "esp-proposal" => {
                let value = v
                    .single(s, "esp-proposal \"aes128gcm16-sha256-prfsha256-ecp256\"")
                    .and_then(|a| v.text(a, "the ESP proposal"));
                self.assign(&mut backend.esp_proposal, &s.key, value);
            }
            _ => {
                if let Some(meant) = self.unknown_setting(&s.key, "backend ipsec", IPSEC_KEYS) {
                    backend.attempted.insert(meant.to_string());
                }
            }
        }
    }

    fn windows(&mut self, block: &Block) -> WindowsDecl {
        let mut windows = WindowsDecl {
            header: block.header,
            dsr: None,
            cni_api_version: None,
            network_name: None,
            preserve_destination: None,
            session_affinity: None,
        };
        for s in self.settings_of(block, "windows") {
            let v = &mut self.values;
            match s.key.text.as_str() {
                "dsr" => {
                    let value = v.single(s, "dsr on").and_then(|a| v.boolean(a, "dsr"));
                    self.assign(&mut windows.dsr, &s.key, value);
                }
                "preserve-destination" => {
                    let value = v
                        .single(s, "preserve-destination on")
                        .and_then(|a| v.boolean(a, "preserve-destination"));
                    self.assign(&mut windows.preserve_destination, &s.key, value);
                }
                "session-affinity" => {
                    let value = v
                        .single(s, "session-affinity on")
                        .and_then(|a| v.boolean(a, "session-affinity"));
                    self.assign(&mut windows.session_affinity, &s.key, value);
                }
                "cni-api-version" => {
                    let value = v
                        .single(s, "cni-api-version 2")
                        .and_then(|a| v.number(a, 1..=2, "`cni-api-version`", "cni-api-version 2"))
                        .map(|n| Spanned::new(n.value as u8, n.span));
                    self.assign(&mut windows.cni_api_version, &s.key, value);
                }
                "network-name" => {
                    let value = v
                        .single(s, "network-name flannel.4096")
                        .and_then(|a| v.text(a, "the network name"));
                    self.assign(&mut windows.network_name, &s.key, value);
                }
                _ => {
                    self.unknown_setting(&s.key, "windows", WINDOWS_KEYS);
                }
            }
        }
        windows
    }

    fn images(&mut self, block: &Block) -> ImagesDecl {
        let mut images = ImagesDecl {
            header: block.header,
            flannel: None,
            flannel_cni_plugin: None,
            flannel_windows: None,
            kube_proxy_windows: None,
        };
        for s in self.settings_of(block, "images") {
            let v = &mut self.values;
            let slot = match s.key.text.as_str() {
                "flannel" => &mut images.flannel,
                "flannel-cni-plugin" => &mut images.flannel_cni_plugin,
                "flannel-windows" => &mut images.flannel_windows,
                "kube-proxy-windows" => &mut images.kube_proxy_windows,
                _ => {
                    self.unknown_setting(&s.key, "images", IMAGES_KEYS);
                    continue;
                }
            };
            let example = format!("{} \"REGISTRY/IMAGE:TAG\"", s.key.text);
            let value = v.single(s, &example).and_then(|a| v.image(a));
            self.assign(slot, &s.key, value);
        }
        images
    }

    /// The settings of a block whose body holds no inner blocks; inner blocks
    /// are reported as misplaced.
    fn settings_of<'b>(&mut self, block: &'b Block, place: &str) -> Vec<&'b Setting> {
        let mut settings = Vec::new();
        for item in &block.items {
            match item {
                Item::Setting(s) => settings.push(s),
                Item::Block(inner) => self.misplaced_block(inner, place),
                Item::Comment(_) | Item::Blank => {}
            }
        }
        settings
    }

    fn segment(&mut self, block: &Block, name: Spanned<String>) -> SegmentDecl {
        let mut segment = SegmentDecl {
            attempted: BTreeSet::new(),
            name,
            header: block.header,
            prefix: None,
            gateway: None,
        };
        for s in self.settings_of(block, "segment") {
            segment.attempted.insert(s.key.text.clone());
            let v = &mut self.values;
            match s.key.text.as_str() {
                "prefix" => {
                    let value = v.single(s, "prefix 192.168.10.0/24").and_then(|a| v.prefix(a));
                    self.assign(&mut segment.prefix, &s.key, value);
                }
                "gateway" => {
                    let value = v.single(s, "gateway 192.168.10.1").and_then(|a| v.address(a));
                    self.assign(&mut segment.gateway, &s.key, value);
                }
                _ => {
                    if let Some(meant) = self.unknown_setting(&s.key, "segment", SEGMENT_KEYS) {
                        segment.attempted.insert(meant.to_string());
                    }
                }
            }
        }
        segment
    }

    /// A setting shared by `node` and `nodes`; false if `s` is not one.
    fn node_setting(&mut self, s: &Setting, settings: &mut NodeSettings) -> bool {
        let v = &mut self.values;
        match s.key.text.as_str() {
            "os" => {
                let value = v.single(s, "os linux").and_then(|a| v.keyword::<Os>(a));
                self.assign(&mut settings.os, &s.key, value);
            }
            "arch" => {
                let value = v.single(s, "arch amd64").and_then(|a| v.keyword::<Arch>(a));
                self.assign(&mut settings.arch, &s.key, value);
            }
            "role" => {
                let value = v.single(s, "role worker").and_then(|a| v.keyword::<Role>(a));
                self.assign(&mut settings.role, &s.key, value);
            }
            "build" => {
                let value = v
                    .single(s, "build 17763")
                    .and_then(|a| v.number(a, 1..=u64::from(u32::MAX), "the Windows build", "build 17763"))
                    .map(|n| Spanned::new(n.value as u32, n.span));
                self.assign(&mut settings.build, &s.key, value);
            }
            "interface" => {
                let value = v
                    .single(s, "interface \"Ethernet 2\"")
                    .and_then(|a| v.text(a, "the interface name"));
                self.assign(&mut settings.interface, &s.key, value);
            }
            _ => return false,
        }
        true
    }

    fn node(&mut self, block: &Block, name: Spanned<String>) -> NodeDecl {
        let mut node = NodeDecl {
            attempted: BTreeSet::new(),
            name,
            header: block.header,
            settings: NodeSettings::default(),
            address: None,
            pod_subnet: None,
        };
        for s in self.settings_of(block, "node") {
            node.attempted.insert(s.key.text.clone());
            if self.node_setting(s, &mut node.settings) {
                continue;
            }
            let v = &mut self.values;
            match s.key.text.as_str() {
                "address" => {
                    let value = v.single(s, "address 192.168.10.10").and_then(|a| v.address(a));
                    self.assign(&mut node.address, &s.key, value);
                }
                "pod-subnet" => {
                    let value = v.prefixes(s, 2, "pod-subnet 10.244.9.0/24");
                    self.assign(&mut node.pod_subnet, &s.key, value);
                }
                _ => {
                    if let Some(meant) = self.unknown_setting(&s.key, "node", NODE_KEYS) {
                        node.attempted.insert(meant.to_string());
                    }
                }
            }
        }
        node
    }

    fn range(&mut self, block: &Block) -> Option<RangeDecl> {
        const FORM: &str = "nodes NAME count N {";
        let (name, count) = match block.labels.as_slice() {
            [name, count_word, count] if count_word.text == "count" => (name, count),
            _ => {
                let span = block.labels.first().map_or(block.keyword.span, |l| l.span);
                self.push(
                    Diagnostic::error("N0107", span, "a `nodes` range needs a name and a count")
                        .label("expected `nodes NAME count N {`")
                        .help(format!("write it as `{FORM}`, e.g. `nodes worker count 3 {{`")),
                );
                return None;
            }
        };
        let name = self.values.text(name, "the name")?;
        let count = self
            .values
            .number(count, 1..=MAX_RANGE_COUNT, "the node count", "nodes worker count 3 {")?;
        let mut range = RangeDecl {
            attempted: BTreeSet::new(),
            name,
            header: block.header,
            count: Spanned::new(count.value as u32, count.span),
            settings: NodeSettings::default(),
            address_start: None,
        };
        for s in self.settings_of(block, "nodes") {
            range.attempted.insert(s.key.text.clone());
            if self.node_setting(s, &mut range.settings) {
                continue;
            }
            let v = &mut self.values;
            match s.key.text.as_str() {
                "address-start" => {
                    let value = v.single(s, "address-start 192.168.11.10").and_then(|a| v.address(a));
                    self.assign(&mut range.address_start, &s.key, value);
                }
                _ => {
                    if let Some(meant) = self.unknown_setting(&s.key, "nodes", RANGE_KEYS) {
                        range.attempted.insert(meant.to_string());
                    }
                }
            }
        }
        Some(range)
    }

    fn tor(&mut self, block: &Block, name: Spanned<String>) -> TorDecl {
        let mut tor = TorDecl {
            attempted: BTreeSet::new(),
            name,
            header: block.header,
            segment: None,
            routes_auto: None,
            routes: Vec::new(),
        };
        for s in self.settings_of(block, "tor") {
            tor.attempted.insert(s.key.text.clone());
            match s.key.text.as_str() {
                "segment" => {
                    let v = &mut self.values;
                    let value = v
                        .single(s, "segment rack-a")
                        .and_then(|a| v.text(a, "the segment name"));
                    self.assign(&mut tor.segment, &s.key, value);
                }
                "routes" => {
                    let Some(atom) = self.values.single(s, "routes auto") else {
                        continue;
                    };
                    if atom.text != "auto" {
                        self.push(
                            Diagnostic::error("N0105", atom.span, format!("expected `auto`, found `{}`", atom.text))
                                .label("`routes` takes only `auto`")
                                .help("write `routes auto` to route every node's pod subnet, or list `route PREFIX via ADDRESS` lines"),
                        );
                        continue;
                    }
                    let mut slot = tor.routes_auto.map(|span| Spanned::new((), span));
                    self.assign(&mut slot, &s.key, Some(Spanned::new((), s.span)));
                    tor.routes_auto = slot.map(|s| s.span);
                }
                "route" => {
                    if let Some(route) = self.route(s) {
                        tor.routes.push(route);
                    }
                }
                _ => {
                    if let Some(meant) = self.unknown_setting(&s.key, "tor", TOR_KEYS) {
                        tor.attempted.insert(meant.to_string());
                    }
                }
            }
        }
        tor
    }

    fn agent(&mut self, block: &Block) -> AgentDecl {
        let mut agent = AgentDecl {
            attempted: BTreeSet::new(),
            header: block.header,
            repo: None,
            branch: None,
            path: None,
            image: None,
            interval: None,
            allowed_signers: Vec::new(),
            ssh_secret: None,
        };
        for s in self.settings_of(block, "agent") {
            agent.attempted.insert(s.key.text.clone());
            let v = &mut self.values;
            match s.key.text.as_str() {
                "repo" => {
                    let value = v
                        .single(s, "repo \"https://git.example/net.git\"")
                        .and_then(|a| v.text(a, "the repository URL"));
                    self.assign(&mut agent.repo, &s.key, value);
                }
                "branch" => {
                    let value = v.single(s, "branch \"main\"").and_then(|a| v.text(a, "the branch"));
                    self.assign(&mut agent.branch, &s.key, value);
                }
                "path" => {
                    let value = v
                        .single(s, "path \"cluster.netc\"")
                        .and_then(|a| v.text(a, "the topology's path"));
                    self.assign(&mut agent.path, &s.key, value);
                }
                "image" => {
                    let value = v
                        .single(s, "image \"ghcr.io/example/netc:0.1.0\"")
                        .and_then(|a| v.text(a, "the image"));
                    self.assign(&mut agent.image, &s.key, value);
                }
                "interval" => {
                    let value = v
                        .single(s, "interval 30")
                        .and_then(|a| v.number(a, 1..=MAX_AGENT_INTERVAL, "`interval` (seconds)", "interval 30"))
                        .map(|n| Spanned::new(n.value as u32, n.span));
                    self.assign(&mut agent.interval, &s.key, value);
                }
                // Repeatable: one setting per allowed_signers line, so each
                // line keeps its own span for N0326.
                "allowed-signer" => {
                    let value = v
                        .single(s, "allowed-signer \"alice@example.com ssh-ed25519 AAAAC3Nz...\"")
                        .and_then(|a| v.text(a, "the allowed_signers line"));
                    agent.allowed_signers.extend(value);
                }
                "ssh-secret" => {
                    let value = v
                        .single(s, "ssh-secret netc-git-ssh")
                        .and_then(|a| v.text(a, "the Secret's name"));
                    self.assign(&mut agent.ssh_secret, &s.key, value);
                }
                _ => {
                    if let Some(meant) = self.unknown_setting(&s.key, "agent", AGENT_KEYS) {
                        agent.attempted.insert(meant.to_string());
                    }
                }
            }
        }
        agent
    }

    fn route(&mut self, s: &Setting) -> Option<RouteDecl> {
        const FORM: &str = "route 10.244.200.0/24 via 192.168.60.50";
        match s.values.as_slice() {
            [prefix, via, address] if via.text == "via" && !via.quoted => {
                let prefix = self.values.prefix(prefix);
                let via = self.values.address(address);
                Some(RouteDecl {
                    prefix: prefix?,
                    via: via?,
                    span: s.span,
                })
            }
            _ => {
                let span = match (s.values.first(), s.values.last()) {
                    (Some(first), Some(last)) => first.span.to(last.span),
                    _ => s.key.span,
                };
                self.push(
                    Diagnostic::error("N0107", span, "a route needs a prefix, `via` and a next hop")
                        .label("expected `route PREFIX via ADDRESS`")
                        .help(format!("write it as `{FORM}`")),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::SourceFile;
    use crate::syntax::ast::KubeVersion;

    const BASE: &str = "cluster c {\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n}\n\
                        segment s {\n  prefix 10.1.0.0/24\n}\nnode a {\n  os linux\n  address 10.1.0.10\n}\n";
    const AGENT: &str = "agent {\n  repo \"https://git.example/net.git\"\n  path \"c.netc\"\n  image \"netc:1\"\n}\n";

    /// Each diagnostic's code and message.
    fn diagnostics(extra: &str) -> Vec<(&'static str, String)> {
        crate::analyze(&SourceFile::new("t.netc", format!("{BASE}{extra}")))
            .diagnostics
            .into_iter()
            .map(|d| (d.code, d.message))
            .collect()
    }

    #[test]
    fn kubernetes_is_a_minor_or_a_patch_release() {
        let version = |text: &str| {
            let cluster = BASE.replace("}\nsegment", &format!("  kubernetes {text}\n}}\nsegment"));
            crate::topology_for_tests(&cluster).cluster.kubernetes.value
        };
        assert_eq!(version("1.33.13"), KubeVersion::patch_release(1, 33, 13));
        assert_eq!(version("v1.30"), KubeVersion::new(1, 30));
        assert_eq!(version("1.33.13").to_string(), "1.33.13");
        for bad in ["1.30.x", "1.2.3.4", "1", "1.+3", "1.33."] {
            let cluster = BASE.replace("}\nsegment", &format!("  kubernetes {bad}\n}}\nsegment"));
            let found: Vec<_> = crate::analyze(&SourceFile::new("t.netc", cluster))
                .diagnostics
                .into_iter()
                .map(|d| d.code)
                .collect();
            assert_eq!(found, ["N0105"], "{bad}");
        }
    }

    #[test]
    fn the_images_block_takes_its_four_images_once() {
        let with = |images: &str| {
            let cluster = BASE.replace("}\nsegment", &format!("{images}}}\nsegment"));
            crate::analyze(&SourceFile::new("t.netc", cluster))
                .diagnostics
                .into_iter()
                .map(|d| (d.code, d.message))
                .collect::<Vec<_>>()
        };
        assert_eq!(with("  images {\n    flannel \"f:v0.28.9\"\n  }\n"), vec![]);
        assert_eq!(
            with("  images {\n    flanel \"f:v0.28.9\"\n  }\n"),
            vec![("N0104", "unknown setting `flanel` in `images`".to_string())]
        );
        assert_eq!(
            with("  images {\n    flannel \"f v0.28.9\"\n  }\n"),
            vec![("N0105", "`f v0.28.9` is not an image reference".to_string())]
        );
        assert_eq!(
            with("  images {\n  }\n  images {\n  }\n"),
            vec![("N0106", "`images` is set twice".to_string())]
        );
        assert_eq!(with("  images flannel\n")[0].0, "N0108");
    }

    #[test]
    fn a_minor_release_gates_every_one_of_its_patches() {
        let minor = KubeVersion::new(1, 33);
        assert!(KubeVersion::patch_release(1, 33, 0) >= minor);
        assert!(KubeVersion::patch_release(1, 33, 13) >= minor);
        assert!(KubeVersion::patch_release(1, 32, 99) < minor);
        assert!(KubeVersion::patch_release(1, 34, 0) > KubeVersion::new(1, 33));
    }

    #[test]
    fn a_complete_agent_block_is_clean_and_read_with_defaults() {
        assert_eq!(diagnostics(AGENT), vec![]);
        let topology = crate::topology_for_tests(&format!("{BASE}{AGENT}"));
        let agent = topology.agent.expect("the agent");
        assert_eq!(
            (
                agent.repo.value.as_str(),
                agent.path.value.as_str(),
                agent.image.value.as_str()
            ),
            ("https://git.example/net.git", "c.netc", "netc:1")
        );
        assert_eq!((agent.branch.value.as_str(), agent.branch.written), ("main", false));
        assert_eq!((agent.interval.value, agent.interval.written), (30, false));
    }

    #[test]
    fn a_second_agent_block_is_refused() {
        let found = diagnostics(&format!("{AGENT}{AGENT}"));
        assert_eq!(found, vec![("N0106", "`agent` is set twice".to_string())]);
    }

    #[test]
    fn the_block_takes_no_name_and_only_its_settings() {
        let named = AGENT.replace("agent {", "agent main {");
        assert_eq!(
            diagnostics(&named),
            vec![("N0107", "`agent` takes no name".to_string())]
        );
        let misspelt = AGENT.replace("image", "imgae");
        // The misspelt key is reported once, not also as missing.
        assert_eq!(
            diagnostics(&misspelt),
            vec![("N0104", "unknown setting `imgae` in `agent`".to_string())]
        );
        let nested = AGENT.replace("  path", "  node x {\n  }\n  path");
        assert_eq!(diagnostics(&nested)[0].0, "N0108");
    }

    #[test]
    fn interval_is_whole_seconds_from_1_to_a_day() {
        for (interval, code) in [
            ("1", None),
            ("86400", None),
            ("0", Some("N0105")),
            ("86401", Some("N0105")),
            ("30s", Some("N0105")),
        ] {
            let found = diagnostics(&AGENT.replace("  image", &format!("  interval {interval}\n  image")));
            assert_eq!(found.first().map(|d| d.0), code, "{interval}: {found:?}");
        }
    }

    #[test]
    fn allowed_signers_repeat_in_the_order_written_and_survive_formatting() {
        let signers = "  allowed-signer \"b@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOit/aR37pqqB3Wwes/Tzc+uvAMNAPaESiQFO0IQb3XO\"\n\
                       allowed-signer   \"a@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOit/aR37pqqB3Wwes/Tzc+uvAMNAPaESiQFO0IQb3XO\"\n";
        let text = format!("{BASE}{}", AGENT.replace("  image", &format!("{signers}  image")));
        assert_eq!(diagnostics(&text[BASE.len()..]), vec![]);
        let principals = |text: &str| -> Vec<String> {
            let agent = crate::topology_for_tests(text).agent.expect("the agent");
            agent
                .allowed_signers
                .iter()
                .map(|s| s.value[..13].to_string())
                .collect()
        };
        assert_eq!(principals(&text), ["b@example.com", "a@example.com"]);
        let formatted = crate::format(&SourceFile::new("t.netc", text.clone())).expect("formats");
        assert_eq!(principals(&formatted), ["b@example.com", "a@example.com"]);
        assert!(
            formatted.contains("  allowed-signer \"a@example.com ssh-ed25519 "),
            "{formatted}"
        );
        // Without a signer the agent requires none.
        let agent = crate::topology_for_tests(&format!("{BASE}{AGENT}"))
            .agent
            .expect("the agent");
        assert!(agent.allowed_signers.is_empty());
    }

    #[test]
    fn an_allowed_signer_is_one_quoted_line() {
        let unquoted = AGENT.replace("  image", "  allowed-signer a@example.com ssh-ed25519 AAAA\n  image");
        assert_eq!(
            diagnostics(&unquoted),
            vec![("N0107", "`allowed-signer` takes one value".to_string())]
        );
        let empty = AGENT.replace("  image", "  allowed-signer \"\"\n  image");
        assert_eq!(diagnostics(&empty)[0].0, "N0105");
        let misspelt = AGENT.replace("  image", "  allowed-signers \"x\"\n  image");
        assert_eq!(diagnostics(&misspelt)[0].0, "N0104");
    }

    #[test]
    fn an_agent_block_inside_the_cluster_is_misplaced_but_read() {
        // The agent block written, indented, before the cluster's closing
        // brace (at column 1 it would read as a forgotten `}`, N0103).
        let cluster_end = BASE.find("}\n").expect("the cluster block closes");
        let indented: String = AGENT.lines().map(|line| format!("  {line}\n")).collect();
        let text = format!("{}{indented}{}", &BASE[..cluster_end], &BASE[cluster_end..]);
        let analysis = crate::analyze(&SourceFile::new("t.netc", text));
        let codes: Vec<_> = analysis.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["N0108"]);
        assert!(analysis.topology.and_then(|t| t.agent).is_some());
    }
}
