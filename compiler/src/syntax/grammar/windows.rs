//! The `windows { }` block inside `cluster`: how the Windows nodes' CNI
//! plugin and kube-proxy are configured.

use super::{setting_keys, Lowering, SettingSpec};
use crate::diagnostic::Spanned;
use crate::syntax::ast::WindowsDecl;
use crate::syntax::cst::Block;

/// Every setting of a `windows` block.
const SETTINGS: &[SettingSpec<WindowsDecl>] = &[
    SettingSpec {
        key: "dsr",
        example: "dsr on",
        parse: |lowering, s, example, windows| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.boolean(a, "dsr"));
            lowering.assign(&mut windows.dsr, &s.key, value);
        },
    },
    SettingSpec {
        key: "cni-api-version",
        example: "cni-api-version 2",
        parse: |lowering, s, example, windows| {
            let v = &mut lowering.values;
            let value = v
                .single(s, example)
                .and_then(|a| v.number(a, 1..=2, "`cni-api-version`", example))
                .map(|n| Spanned::new(n.value as u8, n.span));
            lowering.assign(&mut windows.cni_api_version, &s.key, value);
        },
    },
    SettingSpec {
        key: "network-name",
        example: "network-name flannel.4096",
        parse: |lowering, s, example, windows| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.text(a, "the network name"));
            lowering.assign(&mut windows.network_name, &s.key, value);
        },
    },
    SettingSpec {
        key: "preserve-destination",
        example: "preserve-destination on",
        parse: |lowering, s, example, windows| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.boolean(a, "preserve-destination"));
            lowering.assign(&mut windows.preserve_destination, &s.key, value);
        },
    },
    SettingSpec {
        key: "session-affinity",
        example: "session-affinity on",
        parse: |lowering, s, example, windows| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.boolean(a, "session-affinity"));
            lowering.assign(&mut windows.session_affinity, &s.key, value);
        },
    },
];

/// The keys of a `windows` block, in the order help texts list them.
pub const WINDOWS_KEYS: &[&str] = &setting_keys::<{ SETTINGS.len() }, _>(SETTINGS);

impl Lowering<'_> {
    pub(super) fn windows(&mut self, block: &Block) -> WindowsDecl {
        let mut windows = WindowsDecl {
            header: block.header,
            dsr: None,
            cni_api_version: None,
            network_name: None,
            preserve_destination: None,
            session_affinity: None,
        };
        for s in self.settings_of(block, "windows") {
            // A `windows` block records no attempted keys: none of its
            // settings is required, so none can be reported as missing.
            self.read_setting(s, "windows", SETTINGS, &mut windows);
        }
        windows
    }
}
