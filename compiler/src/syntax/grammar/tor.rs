//! The `tor NAME { }` block: a top-of-rack router on a segment, and the pod
//! routes it is given (all of them with `routes auto`, or one `route` line
//! each).

use std::collections::BTreeSet;

use super::{setting_keys, Lowering, SettingSpec};
use crate::diagnostic::{Diagnostic, Spanned};
use crate::syntax::ast::{Document, RouteDecl, TorDecl};
use crate::syntax::cst::{Block, Setting};

/// Every setting of a `tor` block.
const SETTINGS: &[SettingSpec<TorDecl>] = &[
    SettingSpec {
        key: "segment",
        example: "segment rack-a",
        parse: |lowering, s, example, tor| {
            let v = &mut lowering.values;
            let value = v.single(s, example).and_then(|a| v.text(a, "the segment name"));
            lowering.assign(&mut tor.segment, &s.key, value);
        },
    },
    SettingSpec {
        key: "routes",
        example: "routes auto",
        parse: |lowering, s, example, tor| {
            let Some(atom) = lowering.values.single(s, example) else {
                return;
            };
            if atom.text != "auto" {
                lowering.push(
                    Diagnostic::error("N0105", atom.span, format!("expected `auto`, found `{}`", atom.text))
                        .label("`routes` takes only `auto`")
                        .help("write `routes auto` to route every node's pod subnet, or list `route PREFIX via ADDRESS` lines"),
                );
                return;
            }
            let mut slot = tor.routes_auto.map(|span| Spanned::new((), span));
            lowering.assign(&mut slot, &s.key, Some(Spanned::new((), s.span)));
            tor.routes_auto = slot.map(|s| s.span);
        },
    },
    // Repeatable, one route per line, so never reported as set twice.
    SettingSpec {
        key: "route",
        example: "route 10.244.200.0/24 via 192.168.60.50",
        parse: |lowering, s, example, tor| {
            if let Some(route) = lowering.route(s, example) {
                tor.routes.push(route);
            }
        },
    },
];

/// The keys of a `tor` block, in the order help texts list them.
pub const TOR_KEYS: &[&str] = &setting_keys::<{ SETTINGS.len() }, _>(SETTINGS);

impl Lowering<'_> {
    /// A top-level `tor NAME { }`, added to the document when it has its
    /// name.
    pub(super) fn tor(&mut self, block: &Block, document: &mut Document) {
        if let Some(name) = self.one_label(block, "tor NAME {") {
            let tor = self.tor_decl(block, name);
            document.tors.push(tor);
        }
    }

    fn tor_decl(&mut self, block: &Block, name: Spanned<String>) -> TorDecl {
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
            if let Some(meant) = self.read_setting(s, "tor", SETTINGS, &mut tor) {
                tor.attempted.insert(meant.to_string());
            }
        }
        tor
    }

    /// `route PREFIX via ADDRESS`; `example` is the whole line as written.
    fn route(&mut self, s: &Setting, example: &str) -> Option<RouteDecl> {
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
                        .help(format!("write it as `{example}`")),
                );
                None
            }
        }
    }
}
