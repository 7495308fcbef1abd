//! A schema-valid structured topology as the concrete tree the `.netc`
//! parser would build for the same topology, with every word spanned at its
//! YAML or JSON value. The `.netc` grammar then types it, so both forms share
//! one reading of every value (and its diagnostics), one model and one set
//! of checks.

use serde_json::{Map, Value};

use super::locate::{child, Places};
use crate::diagnostic::Span;
use crate::syntax::cst::{Atom, Block, File, Item, Setting};

/// The top-level lists and the `.netc` block each item becomes.
const LISTS: &[(&str, &str)] = &[
    ("segments", "segment"),
    ("nodes", "node"),
    ("node-ranges", "nodes"),
    ("tors", "tor"),
];

pub fn to_cst(value: &Value, places: &Places) -> File {
    let mut lowering = Lowering { places };
    let mut items = Vec::new();
    let Some(root) = value.as_object() else {
        return File { items };
    };
    if let Some(Value::Object(cluster)) = root.get("cluster") {
        items.push(Item::Block(lowering.block("cluster", "/cluster", cluster)));
    }
    if let Some(Value::Object(agent)) = root.get("agent") {
        items.push(Item::Block(lowering.block("agent", "/agent", agent)));
    }
    for (list, keyword) in LISTS {
        let Some(Value::Array(entries)) = root.get(*list) else {
            continue;
        };
        for (index, entry) in entries.iter().enumerate() {
            if let Value::Object(entry) = entry {
                let pointer = child(&child("", list), &index.to_string());
                items.push(Item::Block(lowering.block(keyword, &pointer, entry)));
            }
        }
    }
    File { items }
}

struct Lowering<'p> {
    places: &'p Places,
}

impl Lowering<'_> {
    fn atom(&self, text: impl Into<String>, span: Span, comma_before: bool) -> Atom {
        Atom {
            text: text.into(),
            span,
            quoted: false,
            comma_before,
        }
    }

    /// `KEYWORD NAME [count N] { settings }` from one mapping.
    fn block(&mut self, keyword: &str, pointer: &str, entry: &Map<String, Value>) -> Block {
        let header = self.places.find(pointer).key;
        let mut labels = Vec::new();
        if let Some(name) = entry.get("name") {
            labels.extend(self.values(&child(pointer, "name"), name));
        }
        if let (Some(count), "nodes") = (entry.get("count"), keyword) {
            let place = self.places.find(&child(pointer, "count"));
            labels.push(self.atom("count", place.key, false));
            labels.extend(self.values(&child(pointer, "count"), count));
        }
        let mut items = Vec::new();
        for (key, value) in entry {
            let at = child(pointer, key);
            match (key.as_str(), value) {
                ("name", _) | ("count", _) if !labels.is_empty() => {}
                ("backend", Value::Object(backend)) => {
                    let mut block = self.block("backend", &at, &without(backend, "type"));
                    if let Some(kind) = backend.get("type") {
                        block.labels = self.values(&child(&at, "type"), kind);
                    }
                    items.push(Item::Block(block));
                }
                ("windows" | "images", Value::Object(inner)) => {
                    items.push(Item::Block(self.block(key, &at, inner)));
                }
                ("route", Value::Array(routes)) => {
                    for (index, route) in routes.iter().enumerate() {
                        items.push(Item::Setting(self.route(&child(&at, &index.to_string()), route)));
                    }
                }
                // The list of `allowed_signers` lines is one `allowed-signer`
                // setting per line, each at its own list item.
                ("allowed-signers", Value::Array(lines)) => {
                    for (index, line) in lines.iter().enumerate() {
                        let item = child(&at, &index.to_string());
                        let key_atom = self.atom("allowed-signer", self.places.find(&item).key, false);
                        let values = self.values(&item, line);
                        items.push(Item::Setting(setting(key_atom, values)));
                    }
                }
                _ => {
                    let key_atom = self.atom(key.as_str(), self.places.find(&at).key, false);
                    let values = self.values(&at, value);
                    items.push(Item::Setting(setting(key_atom, values)));
                }
            }
        }
        Block {
            keyword: self.atom(keyword, header, false),
            labels,
            items,
            open_comment: None,
            close_comment: None,
            header,
            close: None,
        }
    }

    /// `route PREFIX via ADDRESS` from `{prefix, via}`.
    fn route(&mut self, pointer: &str, route: &Value) -> Setting {
        let place = self.places.find(pointer);
        let key = self.atom("route", place.key, false);
        let mut values = Vec::new();
        if let Some(prefix) = route.get("prefix") {
            values.extend(self.values(&child(pointer, "prefix"), prefix));
        }
        if let Some(via) = route.get("via") {
            let via_place = self.places.find(&child(pointer, "via"));
            values.push(self.atom("via", via_place.key, false));
            values.extend(self.values(&child(pointer, "via"), via));
        }
        setting(key, values)
    }

    /// The words of a value: one per scalar, a list's items comma-separated.
    fn values(&self, pointer: &str, value: &Value) -> Vec<Atom> {
        match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(index, item)| {
                    let at = child(pointer, &index.to_string());
                    let text = scalar(item)?;
                    Some(self.atom(text, self.places.find(&at).value, index > 0))
                })
                .collect(),
            _ => scalar(value)
                .map(|text| self.atom(text, self.places.find(pointer).value, false))
                .into_iter()
                .collect(),
        }
    }
}

/// A scalar as the `.netc` word for it: booleans are `on` and `off`.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Bool(true) => Some("on".to_string()),
        Value::Bool(false) => Some("off".to_string()),
        Value::Number(number) => Some(number.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn setting(key: Atom, values: Vec<Atom>) -> Setting {
    let span = values.iter().fold(key.span, |span, value| span.to(value.span));
    Setting {
        key,
        values,
        comment: None,
        span,
    }
}

fn without(map: &Map<String, Value>, key: &str) -> Map<String, Value> {
    let mut map = map.clone();
    map.remove(key);
    map
}
