//! The `cluster NAME { }` block: the cluster's networks, versions and
//! dataplane, with its inner `backend`, `windows` and `images` blocks (each
//! read by its own file).

use std::collections::BTreeSet;

use super::{block_keywords, setting_keys, BlockSpec, Lowering, SettingSpec, TOP_LEVEL};
use crate::diagnostic::{Diagnostic, Spanned};
use crate::syntax::ast::{BackendDecl, BackendKind, ClusterDecl, Dataplane, Document};
use crate::syntax::cst::{Block, Item};

/// Every setting of a `cluster` block. `backend`, `windows` and `images` are
/// blocks too (see [`BLOCKS`]); their entries here read the one-word
/// `backend vxlan` and explain that the other two need braces.
const SETTINGS: &[SettingSpec<ClusterDecl>] = &[
    SettingSpec {
        key: "pod-network",
        example: "pod-network 10.244.0.0/16, fd00:10:244::/56",
        parse: |lowering, s, example, cluster| {
            let value = lowering.values.prefixes(s, 2, example);
            lowering.assign(&mut cluster.pod_network, &s.key, value);
        },
    },
    SettingSpec {
        key: "service-network",
        example: "service-network 10.96.0.0/12, fd00:10:96::/112",
        parse: |lowering, s, example, cluster| {
            let value = lowering.values.prefixes(s, 2, example);
            lowering.assign(&mut cluster.service_network, &s.key, value);
        },
    },
    SettingSpec {
        key: "cluster-dns",
        example: "cluster-dns 10.96.0.10",
        parse: |lowering, s, example, cluster| {
            let value = lowering.values.addresses(s, 2, example);
            lowering.assign(&mut cluster.cluster_dns, &s.key, value);
        },
    },
    SettingSpec {
        key: "node-subnet-len",
        example: "node-subnet-len 24",
        parse: |lowering, s, example, cluster| {
            let v = &mut lowering.values;
            let value = v
                .single(s, example)
                .and_then(|a| v.number(a, 1..=128, "`node-subnet-len`", example))
                .map(|n| Spanned::new(n.value as u8, n.span));
            lowering.assign(&mut cluster.node_subnet_len, &s.key, value);
        },
    },
    SettingSpec {
        key: "underlay-mtu",
        example: "underlay-mtu 1500",
        parse: |lowering, s, example, cluster| {
            let v = &mut lowering.values;
            let value = v
                .single(s, example)
                .and_then(|a| v.number(a, 68..=65_535, "`underlay-mtu`", example))
                .map(|n| Spanned::new(n.value as u32, n.span));
            lowering.assign(&mut cluster.underlay_mtu, &s.key, value);
        },
    },
    SettingSpec {
        key: "kubernetes",
        example: "kubernetes 1.33.13",
        parse: |lowering, s, example, cluster| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.kube_version(a));
            lowering.assign(&mut cluster.kubernetes, &s.key, value);
        },
    },
    SettingSpec {
        key: "dataplane",
        example: "dataplane flannel",
        parse: |lowering, s, example, cluster| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.keyword::<Dataplane>(a));
            lowering.assign(&mut cluster.dataplane, &s.key, value);
        },
    },
    SettingSpec {
        key: "backend",
        example: "backend vxlan",
        parse: |lowering, s, example, cluster| {
            let v = &mut lowering.values;
            let kind = v.single(s, example).and_then(|a| v.keyword::<BackendKind>(a));
            let backend = kind.map(BackendDecl::new);
            lowering.set_backend(cluster, &s.key, backend);
        },
    },
    SettingSpec {
        key: "windows",
        example: "windows { dsr on }",
        parse: |lowering, s, example, _| {
            lowering.push(
                Diagnostic::error("N0108", s.key.span, "`windows` is a block")
                    .label("expected `{` after `windows`")
                    .help(if s.values.is_empty() {
                        format!("write it as `{example}`")
                    } else {
                        let written: Vec<&str> = s.values.iter().map(|v| v.text.as_str()).collect();
                        format!("write it as `windows {{ {} }}`", written.join(" "))
                    }),
            );
        },
    },
    SettingSpec {
        key: "images",
        example: "images { flannel-windows \"REGISTRY/flannel:v0.28.9-hostprocess\" }",
        parse: |lowering, s, example, _| {
            lowering.push(
                Diagnostic::error("N0108", s.key.span, "`images` is a block")
                    .label("expected `{` after `images`")
                    .help(format!("write it as `{example}`")),
            );
        },
    },
    SettingSpec {
        key: "api-server",
        example: "api-server https://10.0.0.10:6443",
        parse: |lowering, s, example, cluster| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.api_server(a));
            lowering.assign(&mut cluster.api_server, &s.key, value);
        },
    },
];

/// The keys of a `cluster` block, in the order help texts list them.
pub const CLUSTER_KEYS: &[&str] = &setting_keys::<{ SETTINGS.len() }, _>(SETTINGS);

/// The blocks a `cluster` block holds; each is also a key of [`SETTINGS`].
const BLOCKS: &[BlockSpec<ClusterDecl>] = &[
    BlockSpec {
        keyword: "backend",
        lower: |lowering, block, cluster| {
            let backend = lowering.backend_block(block);
            lowering.set_backend(cluster, &block.keyword, backend);
        },
    },
    BlockSpec {
        keyword: "windows",
        lower: |lowering, block, cluster| {
            lowering.no_labels(block, "windows {");
            let windows = lowering.windows(block);
            if let Some(previous) = &cluster.windows {
                lowering.push(
                    Diagnostic::error("N0106", block.keyword.span, "`windows` is set twice")
                        .label("second block")
                        .with_secondary(previous.header, "first set here")
                        .help("merge the two `windows` blocks"),
                );
            } else {
                cluster.windows = Some(windows);
            }
        },
    },
    BlockSpec {
        keyword: "images",
        lower: |lowering, block, cluster| {
            lowering.no_labels(block, "images {");
            let images = lowering.images(block);
            if let Some(previous) = &cluster.images {
                lowering.push(
                    Diagnostic::error("N0106", block.keyword.span, "`images` is set twice")
                        .label("second block")
                        .with_secondary(previous.header, "first set here")
                        .help("merge the two `images` blocks"),
                );
            } else {
                cluster.images = Some(images);
            }
        },
    },
];

/// The keywords of the blocks a `cluster` block holds.
pub(super) const BLOCK_KEYWORDS: &[&str] = &block_keywords::<{ BLOCKS.len() }, _>(BLOCKS);

impl Lowering<'_> {
    /// A top-level `cluster NAME { }`, added to the document when it has its
    /// name.
    pub(super) fn cluster(&mut self, block: &Block, document: &mut Document) {
        document.cluster_attempted = true;
        if let Some(cluster) = self.cluster_decl(block, document) {
            document.clusters.push(cluster);
        }
    }

    fn cluster_decl(&mut self, block: &Block, document: &mut Document) -> Option<ClusterDecl> {
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
                Item::Setting(s) => {
                    cluster.attempted.insert(s.key.text.clone());
                    if let Some(meant) = self.read_setting(s, "cluster", SETTINGS, &mut cluster) {
                        cluster.attempted.insert(meant.to_string());
                    }
                }
                Item::Block(inner) => {
                    let keyword = inner.keyword.text.as_str();
                    if let Some(spec) = BLOCKS.iter().find(|spec| spec.keyword == keyword) {
                        (spec.lower)(self, inner, &mut cluster);
                    } else if TOP_LEVEL.contains(&keyword) {
                        // Report it, and still read it as if it were at the
                        // top level, so its nodes or segments are not missed.
                        self.misplaced_block(inner, "cluster");
                        if keyword != "cluster" {
                            self.top_level(inner, document);
                        }
                    } else {
                        self.unknown_setting(&inner.keyword, "cluster", CLUSTER_KEYS);
                    }
                }
                Item::Comment(_) | Item::Blank => {}
            }
        }
        Some(cluster)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::BASE;
    use crate::diagnostic::SourceFile;
    use crate::syntax::ast::KubeVersion;

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
    fn a_minor_release_gates_every_one_of_its_patches() {
        let minor = KubeVersion::new(1, 33);
        assert!(KubeVersion::patch_release(1, 33, 0) >= minor);
        assert!(KubeVersion::patch_release(1, 33, 13) >= minor);
        assert!(KubeVersion::patch_release(1, 32, 99) < minor);
        assert!(KubeVersion::patch_release(1, 34, 0) > KubeVersion::new(1, 33));
    }
}
