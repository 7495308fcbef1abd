//! The `backend TYPE { }` block inside `cluster`: how pod traffic crosses
//! the underlay. Only the vxlan and ipsec backends take settings, one table
//! each; the other backends' blocks must be empty.

use super::{setting_keys, Lowering, SettingSpec};
use crate::diagnostic::{Diagnostic, Spanned};
use crate::syntax::ast::{BackendDecl, BackendKind, ClusterDecl};
use crate::syntax::cst::{Atom, Block, Item};

/// Every setting of a `backend vxlan` block.
const VXLAN_SETTINGS: &[SettingSpec<BackendDecl>] = &[
    SettingSpec {
        key: "vni",
        example: "vni 4096",
        parse: |lowering, s, example, backend| {
            let v = &mut lowering.values;
            let value = v
                .single(s, example)
                .and_then(|a| v.number(a, 0..=u64::from(u32::MAX), "`vni`", example))
                .map(|n| Spanned::new(n.value as u32, n.span));
            lowering.assign(&mut backend.vni, &s.key, value);
        },
    },
    SettingSpec {
        key: "port",
        example: "port 4789",
        parse: |lowering, s, example, backend| {
            let v = &mut lowering.values;
            let value = v
                .single(s, example)
                .and_then(|a| v.number(a, 0..=u64::from(u32::MAX), "`port`", example))
                .map(|n| Spanned::new(n.value as u32, n.span));
            lowering.assign(&mut backend.port, &s.key, value);
        },
    },
    SettingSpec {
        key: "gbp",
        example: "gbp off",
        parse: |lowering, s, example, backend| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.boolean(a, "gbp"));
            lowering.assign(&mut backend.gbp, &s.key, value);
        },
    },
    SettingSpec {
        key: "direct-routing",
        example: "direct-routing off",
        parse: |lowering, s, example, backend| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.boolean(a, "direct-routing"));
            lowering.assign(&mut backend.direct_routing, &s.key, value);
        },
    },
    SettingSpec {
        key: "mac-prefix",
        example: "mac-prefix \"0E-2A\"",
        parse: |lowering, s, example, backend| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.text(a, "the MAC prefix"));
            lowering.assign(&mut backend.mac_prefix, &s.key, value);
        },
    },
];

/// The keys of a `backend vxlan` block, in the order help texts list them.
pub const VXLAN_KEYS: &[&str] = &setting_keys::<{ VXLAN_SETTINGS.len() }, _>(VXLAN_SETTINGS);

/// Every setting of a `backend ipsec` block.
const IPSEC_SETTINGS: &[SettingSpec<BackendDecl>] = &[
    SettingSpec {
        key: "psk",
        example: "psk \"<at least 96 characters>\"",
        parse: |lowering, s, example, backend| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.text(a, "the pre-shared key"));
            lowering.assign(&mut backend.psk, &s.key, value);
        },
    },
    SettingSpec {
        key: "udp-encap",
        example: "udp-encap on",
        parse: |lowering, s, example, backend| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.boolean(a, "udp-encap"));
            lowering.assign(&mut backend.udp_encap, &s.key, value);
        },
    },
    SettingSpec {
        key: "esp-proposal",
        example: "esp-proposal \"aes128gcm16-sha256-prfsha256-ecp256\"",
        parse: |lowering, s, example, backend| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.text(a, "the ESP proposal"));
            lowering.assign(&mut backend.esp_proposal, &s.key, value);
        },
    },
];

/// The keys of a `backend ipsec` block, in the order help texts list them.
pub const IPSEC_KEYS: &[&str] = &setting_keys::<{ IPSEC_SETTINGS.len() }, _>(IPSEC_SETTINGS);

impl Lowering<'_> {
    /// Set the cluster's backend, from `backend TYPE` or a `backend` block,
    /// reporting a second one.
    pub(super) fn set_backend(&mut self, cluster: &mut ClusterDecl, key: &Atom, backend: Option<BackendDecl>) {
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

    pub(super) fn backend_block(&mut self, block: &Block) -> Option<BackendDecl> {
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
            let (name, table) = match kind.value {
                BackendKind::Vxlan => ("backend vxlan", VXLAN_SETTINGS),
                BackendKind::Ipsec => ("backend ipsec", IPSEC_SETTINGS),
                _ => {
                    self.push(
                        Diagnostic::error(
                            "N0104",
                            s.key.span,
                            format!("the `{}` backend takes no settings", kind.value),
                        )
                        .label("unexpected setting")
                        .help(format!("remove it, or write `backend {}` without a block", kind.value)),
                    );
                    continue;
                }
            };
            backend.attempted.insert(s.key.text.clone());
            if let Some(meant) = self.read_setting(s, name, table, &mut backend) {
                backend.attempted.insert(meant.to_string());
            }
        }
        Some(backend)
    }
}
