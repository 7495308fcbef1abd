//! The grammar of `.netc`: which blocks exist, which settings each takes, and
//! the type of every value. Lowers the [`cst`](super::cst) into the typed
//! [`ast`](super::ast), reporting unknown keywords (with "did you mean"),
//! misplaced statements, bad values and repeated settings.
//!
//! This file holds the entry point, the walk over the top level and the
//! helpers every block shares (labels, unknown and misplaced statements,
//! repeated settings). Each block kind has a file of its own with one table,
//! a `SettingSpec` per key, that is the only place the block's keys are
//! written: the key lists below are derived from those tables, so a key
//! cannot be parsed without being listed, or listed without being parsed.

mod agent;
mod backend;
mod cluster;
mod images;
mod node;
mod segment;
mod tor;
mod windows;

pub use agent::{AGENT_KEYS, MAX_AGENT_INTERVAL};
pub use backend::{IPSEC_KEYS, VXLAN_KEYS};
pub use cluster::CLUSTER_KEYS;
pub use images::IMAGES_KEYS;
pub use node::{MAX_RANGE_COUNT, NODE_KEYS, RANGE_KEYS};
pub use segment::SEGMENT_KEYS;
pub use tor::TOR_KEYS;
pub use windows::WINDOWS_KEYS;

use super::ast::Document;
use super::cst::{Atom, Block, File, Item, Setting};
use super::values::Values;
use crate::diagnostic::{best_match, Diagnostic, Spanned};

/// One setting of a block: its key, the setting as written in a sample
/// (the "write it as ..." help texts show it), and the function that parses
/// it into the block's declaration `D`, reporting bad values.
struct SettingSpec<D> {
    key: &'static str,
    example: &'static str,
    /// Called with the setting and [`example`](Self::example).
    parse: fn(&mut Lowering<'_>, &Setting, &'static str, &mut D),
}

/// One kind of block that may appear inside `D` (the document for top-level
/// blocks): its keyword and the function that reads one into `D`.
struct BlockSpec<D> {
    keyword: &'static str,
    lower: fn(&mut Lowering<'_>, &Block, &mut D),
}

/// The keys of a settings table, in table order; `N` must be its length.
/// A `const fn` so that the public key lists are constants built from the
/// tables rather than copies of them.
const fn setting_keys<const N: usize, D>(table: &[SettingSpec<D>]) -> [&'static str; N] {
    assert!(table.len() == N, "N is the length of the table");
    let mut keys = [""; N];
    let mut i = 0;
    while i < N {
        keys[i] = table[i].key;
        i += 1;
    }
    keys
}

/// The keywords of a table of blocks, in table order; `N` must be its length.
const fn block_keywords<const N: usize, D>(table: &[BlockSpec<D>]) -> [&'static str; N] {
    assert!(table.len() == N, "N is the length of the table");
    let mut keywords = [""; N];
    let mut i = 0;
    while i < N {
        keywords[i] = table[i].keyword;
        i += 1;
    }
    keywords
}

/// The blocks of a file's top level, in the order help texts list them.
const TOP_LEVEL_BLOCKS: &[BlockSpec<Document>] = &[
    BlockSpec {
        keyword: "cluster",
        lower: |lowering, block, document| lowering.cluster(block, document),
    },
    BlockSpec {
        keyword: "segment",
        lower: |lowering, block, document| lowering.segment(block, document),
    },
    BlockSpec {
        keyword: "node",
        lower: |lowering, block, document| lowering.node(block, document),
    },
    BlockSpec {
        keyword: "nodes",
        lower: |lowering, block, document| lowering.range(block, document),
    },
    BlockSpec {
        keyword: "tor",
        lower: |lowering, block, document| lowering.tor(block, document),
    },
    BlockSpec {
        keyword: "agent",
        lower: |lowering, block, document| lowering.agent(block, document),
    },
];

/// Top-level block keywords.
pub const TOP_LEVEL: &[&str] = &block_keywords::<{ TOP_LEVEL_BLOCKS.len() }, _>(TOP_LEVEL_BLOCKS);

/// Every block kind, as messages name it, with its settings' keys. An
/// unknown key that is a setting of another block is reported as that
/// block's, the first such block in this order.
pub const ALL_BLOCKS: &[(&str, &[&str])] = &[
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
        let keyword = block.keyword.text.as_str();
        if let Some(spec) = TOP_LEVEL_BLOCKS.iter().find(|spec| spec.keyword == keyword) {
            (spec.lower)(self, block, document);
            return;
        }
        let (message, help) = match best_match(keyword, TOP_LEVEL) {
            Some(close) => (format!("unknown block `{keyword}`"), format!("did you mean `{close}`?")),
            None if CLUSTER_KEYS.contains(&keyword) => (
                format!("`{keyword}` must be inside the `cluster` block"),
                format!("move `{keyword}` into `cluster NAME {{ ... }}`"),
            ),
            None => (
                format!("unknown block `{keyword}`"),
                format!("a file contains these blocks: {}", TOP_LEVEL.join(", ")),
            ),
        };
        self.push(
            Diagnostic::error("N0104", block.keyword.span, message)
                .label("not a top-level block")
                .help(help),
        );
    }

    /// Parse `setting` with its entry in `table`, the settings of the block
    /// that messages name `block`. A key not in the table is reported; then
    /// the known key it is probably a typo of is returned, if any. A known
    /// key returns `None` (its parser reports a bad value itself).
    fn read_setting<D>(
        &mut self,
        setting: &Setting,
        block: &str,
        table: &[SettingSpec<D>],
        decl: &mut D,
    ) -> Option<&'static str> {
        match table.iter().find(|spec| spec.key == setting.key.text) {
            Some(spec) => {
                (spec.parse)(self, setting, spec.example, decl);
                None
            }
            None => {
                let known: Vec<&'static str> = table.iter().map(|spec| spec.key).collect();
                self.unknown_setting(&setting.key, block, &known)
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
        } else if cluster::BLOCK_KEYWORDS.contains(&keyword) {
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
}

/// What the block files' unit tests share: a small valid topology to extend.
#[cfg(test)]
mod test_support {
    use crate::diagnostic::SourceFile;

    pub const BASE: &str = "cluster c {\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n}\n\
                            segment s {\n  prefix 10.1.0.0/24\n}\nnode a {\n  os linux\n  address 10.1.0.10\n}\n";

    /// Each diagnostic's code and message, for `BASE` followed by `extra`.
    pub fn diagnostics(extra: &str) -> Vec<(&'static str, String)> {
        crate::analyze(&SourceFile::new("t.netc", format!("{BASE}{extra}")))
            .diagnostics
            .into_iter()
            .map(|d| (d.code, d.message))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn no_block_lists_a_key_twice() {
        // A second entry for a key would never be parsed: the first wins.
        for (block, keys) in std::iter::once(("the top level", TOP_LEVEL)).chain(ALL_BLOCKS.iter().copied()) {
            let unique: BTreeSet<&str> = keys.iter().copied().collect();
            assert_eq!(unique.len(), keys.len(), "`{block}` lists a key twice: {keys:?}");
        }
    }

    #[test]
    fn every_block_a_cluster_holds_is_also_a_cluster_key() {
        // Written without braces, such a block is read as a setting, whose
        // table entry explains that it is a block; unknown, it would be
        // reported as an unknown setting with no hint.
        for keyword in cluster::BLOCK_KEYWORDS {
            assert!(CLUSTER_KEYS.contains(keyword), "`{keyword}` is not in CLUSTER_KEYS");
        }
    }
}
