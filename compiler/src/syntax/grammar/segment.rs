//! The `segment NAME { }` block: an underlay subnet that nodes and tors sit
//! on.

use std::collections::BTreeSet;

use super::{setting_keys, Lowering, SettingSpec};
use crate::diagnostic::Spanned;
use crate::syntax::ast::{Document, SegmentDecl};
use crate::syntax::cst::Block;

/// Every setting of a `segment` block.
const SETTINGS: &[SettingSpec<SegmentDecl>] = &[
    SettingSpec {
        key: "prefix",
        example: "prefix 192.168.10.0/24",
        parse: |lowering, s, example, segment| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.prefix(a));
            lowering.assign(&mut segment.prefix, &s.key, value);
        },
    },
    SettingSpec {
        key: "gateway",
        example: "gateway 192.168.10.1",
        parse: |lowering, s, example, segment| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.address(a));
            lowering.assign(&mut segment.gateway, &s.key, value);
        },
    },
];

/// The keys of a `segment` block, in the order help texts list them.
pub const SEGMENT_KEYS: &[&str] = &setting_keys::<{ SETTINGS.len() }, _>(SETTINGS);

impl Lowering<'_> {
    /// A top-level `segment NAME { }`, added to the document when it has its
    /// name.
    pub(super) fn segment(&mut self, block: &Block, document: &mut Document) {
        if let Some(name) = self.one_label(block, "segment NAME {") {
            let segment = self.segment_decl(block, name);
            document.segments.push(segment);
        }
    }

    fn segment_decl(&mut self, block: &Block, name: Spanned<String>) -> SegmentDecl {
        let mut segment = SegmentDecl {
            attempted: BTreeSet::new(),
            name,
            header: block.header,
            prefix: None,
            gateway: None,
        };
        for s in self.settings_of(block, "segment") {
            segment.attempted.insert(s.key.text.clone());
            if let Some(meant) = self.read_setting(s, "segment", SETTINGS, &mut segment) {
                segment.attempted.insert(meant.to_string());
            }
        }
        segment
    }
}
