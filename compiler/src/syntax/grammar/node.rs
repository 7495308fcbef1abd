//! The blocks that declare nodes: `node NAME { }`, one node, and
//! `nodes NAME count N { }`, a range of nodes at consecutive addresses.
//! Both take the settings of [`NodeSettings`]; each of those is written
//! once, in [`Shared`], and placed in both blocks' tables.

use std::collections::BTreeSet;
use std::marker::PhantomData;

use super::{setting_keys, Lowering, SettingSpec};
use crate::diagnostic::{Diagnostic, Spanned};
use crate::syntax::ast::{Arch, Document, NodeDecl, NodeSettings, Os, RangeDecl, Role};
use crate::syntax::cst::Block;

/// The largest `count` of a `nodes` range; far above Kubernetes' 5,000-node
/// limit, low enough that a typo cannot make netc allocate gigabytes.
pub const MAX_RANGE_COUNT: u64 = 65_536;

/// A block that declares nodes, for the settings `node` and `nodes` share.
trait DeclaresNodes {
    fn shared(&mut self) -> &mut NodeSettings;
}

impl DeclaresNodes for NodeDecl {
    fn shared(&mut self) -> &mut NodeSettings {
        &mut self.settings
    }
}

impl DeclaresNodes for RangeDecl {
    fn shared(&mut self) -> &mut NodeSettings {
        &mut self.settings
    }
}

/// The settings `node` and `nodes` share, as table entries for either.
struct Shared<D>(PhantomData<D>);

impl<D: DeclaresNodes> Shared<D> {
    const OS: SettingSpec<D> = SettingSpec {
        key: "os",
        example: "os linux",
        parse: |lowering, s, example, decl| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.keyword::<Os>(a));
            lowering.assign(&mut decl.shared().os, &s.key, value);
        },
    };

    const ARCH: SettingSpec<D> = SettingSpec {
        key: "arch",
        example: "arch amd64",
        parse: |lowering, s, example, decl| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.keyword::<Arch>(a));
            lowering.assign(&mut decl.shared().arch, &s.key, value);
        },
    };

    const BUILD: SettingSpec<D> = SettingSpec {
        key: "build",
        example: "build 17763",
        parse: |lowering, s, example, decl| {
            let v = &mut lowering.values;
            let value = v
                .single(s, example)
                .and_then(|a| v.number(a, 1..=u64::from(u32::MAX), "the Windows build", example))
                .map(|n| Spanned::new(n.value as u32, n.span));
            lowering.assign(&mut decl.shared().build, &s.key, value);
        },
    };

    const INTERFACE: SettingSpec<D> = SettingSpec {
        key: "interface",
        example: "interface \"Ethernet 2\"",
        parse: |lowering, s, example, decl| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.text(a, "the interface name"));
            lowering.assign(&mut decl.shared().interface, &s.key, value);
        },
    };

    const ROLE: SettingSpec<D> = SettingSpec {
        key: "role",
        example: "role worker",
        parse: |lowering, s, example, decl| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.keyword::<Role>(a));
            lowering.assign(&mut decl.shared().role, &s.key, value);
        },
    };
}

/// Every setting of a `node` block.
const NODE_SETTINGS: &[SettingSpec<NodeDecl>] = &[
    Shared::OS,
    Shared::ARCH,
    Shared::BUILD,
    SettingSpec {
        key: "address",
        example: "address 192.168.10.10",
        parse: |lowering, s, example, node| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.address(a));
            lowering.assign(&mut node.address, &s.key, value);
        },
    },
    Shared::INTERFACE,
    Shared::ROLE,
    SettingSpec {
        key: "pod-subnet",
        example: "pod-subnet 10.244.9.0/24",
        parse: |lowering, s, example, node| {
            let value = lowering.values.prefixes(s, 2, example);
            lowering.assign(&mut node.pod_subnet, &s.key, value);
        },
    },
];

/// The keys of a `node` block, in the order help texts list them.
pub const NODE_KEYS: &[&str] = &setting_keys::<{ NODE_SETTINGS.len() }, _>(NODE_SETTINGS);

/// Every setting of a `nodes` range.
const RANGE_SETTINGS: &[SettingSpec<RangeDecl>] = &[
    Shared::OS,
    Shared::ARCH,
    Shared::BUILD,
    SettingSpec {
        key: "address-start",
        example: "address-start 192.168.11.10",
        parse: |lowering, s, example, range| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.address(a));
            lowering.assign(&mut range.address_start, &s.key, value);
        },
    },
    Shared::INTERFACE,
    Shared::ROLE,
];

/// The keys of a `nodes` range, in the order help texts list them.
pub const RANGE_KEYS: &[&str] = &setting_keys::<{ RANGE_SETTINGS.len() }, _>(RANGE_SETTINGS);

impl Lowering<'_> {
    /// A top-level `node NAME { }`, added to the document when it has its
    /// name.
    pub(super) fn node(&mut self, block: &Block, document: &mut Document) {
        if let Some(name) = self.one_label(block, "node NAME {") {
            let node = self.node_decl(block, name);
            document.nodes.push(node);
        }
    }

    fn node_decl(&mut self, block: &Block, name: Spanned<String>) -> NodeDecl {
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
            if let Some(meant) = self.read_setting(s, "node", NODE_SETTINGS, &mut node) {
                node.attempted.insert(meant.to_string());
            }
        }
        node
    }

    /// A top-level `nodes NAME count N { }`, added to the document when its
    /// name and count are readable.
    pub(super) fn range(&mut self, block: &Block, document: &mut Document) {
        if let Some(range) = self.range_decl(block) {
            document.ranges.push(range);
        }
    }

    fn range_decl(&mut self, block: &Block) -> Option<RangeDecl> {
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
            if let Some(meant) = self.read_setting(s, "nodes", RANGE_SETTINGS, &mut range) {
                range.attempted.insert(meant.to_string());
            }
        }
        Some(range)
    }
}
