//! `netc fmt`: print a concrete syntax tree in the one canonical layout.
//!
//! Layout: two-space indentation; one statement per line (`a; b` is split);
//! within a block, setting values are aligned one column after the longest
//! key; list values are separated by `, `; a trailing comment follows its line
//! after two spaces; runs of empty lines shrink to one and top-level blocks
//! are separated by exactly one; the file ends with a single newline.
//! Comments are kept where they were. Formatting a formatted file changes
//! nothing, and the formatted file means the same topology.

use super::cst::{Atom, Block, Comment, File, Item, Setting};

/// Format a file. Callers refuse files with syntax errors first: a tree
/// recovered from errors would print as something the author did not write.
pub fn format(file: &File) -> String {
    let mut out = String::new();
    let mut previous: Option<&Item> = None;
    for item in &file.items {
        // Keep one empty line between a block and whatever follows it, and
        // before a block that follows a setting or block.
        let needs_gap = matches!(previous, Some(Item::Block(_)))
            || (matches!(item, Item::Block(_)) && matches!(previous, Some(Item::Setting(_))));
        if needs_gap && !matches!(item, Item::Blank) {
            out.push('\n');
        }
        write_item(&mut out, item, 0, 0);
        previous = match item {
            // A blank already separates; remember it as "nothing to add".
            Item::Blank => None,
            other => Some(other),
        };
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn write_item(out: &mut String, item: &Item, depth: usize, key_width: usize) {
    match item {
        Item::Setting(setting) => write_setting(out, setting, depth, key_width),
        Item::Block(block) => write_block(out, block, depth),
        Item::Comment(comment) => {
            indent(out, depth);
            out.push_str(&comment.text);
            out.push('\n');
        }
        Item::Blank => out.push('\n'),
    }
}

fn write_block(out: &mut String, block: &Block, depth: usize) {
    indent(out, depth);
    out.push_str(&render_atom(&block.keyword));
    for label in &block.labels {
        out.push(' ');
        out.push_str(&render_atom(label));
    }
    out.push_str(" {");
    trailing(out, block.open_comment.as_ref());
    out.push('\n');
    let key_width = block
        .settings()
        .filter(|s| !s.values.is_empty())
        .map(|s| render_atom(&s.key).chars().count())
        .max()
        .unwrap_or(0);
    for item in &block.items {
        write_item(out, item, depth + 1, key_width);
    }
    indent(out, depth);
    out.push('}');
    trailing(out, block.close_comment.as_ref());
    out.push('\n');
}

fn write_setting(out: &mut String, setting: &Setting, depth: usize, key_width: usize) {
    indent(out, depth);
    let key = render_atom(&setting.key);
    out.push_str(&key);
    for (i, value) in setting.values.iter().enumerate() {
        if i == 0 {
            let pad = key_width.saturating_sub(key.chars().count()) + 1;
            out.push_str(&" ".repeat(pad));
        } else if value.comma_before {
            out.push_str(", ");
        } else {
            out.push(' ');
        }
        out.push_str(&render_atom(value));
    }
    trailing(out, setting.comment.as_ref());
    out.push('\n');
}

fn trailing(out: &mut String, comment: Option<&Comment>) {
    if let Some(comment) = comment {
        out.push_str("  ");
        out.push_str(&comment.text);
    }
}

fn indent(out: &mut String, depth: usize) {
    out.push_str(&"  ".repeat(depth));
}

/// A word as written, or a string re-quoted with its escapes.
fn render_atom(atom: &Atom) -> String {
    if !atom.quoted {
        return atom.text.clone();
    }
    let mut quoted = String::with_capacity(atom.text.len() + 2);
    quoted.push('"');
    for c in atom.text.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse;
    use super::*;

    fn fmt(text: &str) -> String {
        let (file, diagnostics) = parse(text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        format(&file)
    }

    #[test]
    fn canonical_layout() {
        let input = "# top\ncluster  demo{pod-network 10.0.0.0/16,fd00::/56 # pods\n\n\n  backend vxlan { vni 4096; port 4789 }\n}\nnode \"a\" {\n\tinterface \"Ethernet \\\"2\\\"\"\n os linux}\n";
        let expected = "\
# top
cluster demo {
  pod-network 10.0.0.0/16, fd00::/56  # pods

  backend vxlan {
    vni  4096
    port 4789
  }
}

node \"a\" {
  interface \"Ethernet \\\"2\\\"\"
  os        linux
}
";
        assert_eq!(fmt(input), expected);
        assert_eq!(fmt(expected), expected);
    }
}
