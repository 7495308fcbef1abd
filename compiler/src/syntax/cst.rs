//! The concrete syntax tree: blocks, settings, comments and blank lines, as
//! written. It knows nothing about which keywords exist; that is
//! [`super::grammar`]'s job. The formatter prints this tree back.

use crate::diagnostic::Span;

/// A whole file: top-level items in source order.
#[derive(Clone, Debug, Default)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug)]
pub enum Item {
    Setting(Setting),
    Block(Block),
    /// A comment on a line of its own.
    Comment(Comment),
    /// One or more empty lines between items.
    Blank,
}

/// A word or a quoted string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Atom {
    /// The text with quotes removed and escapes resolved.
    pub text: String,
    pub span: Span,
    pub quoted: bool,
    /// Whether a `,` separated this atom from the previous one.
    pub comma_before: bool,
}

/// `key value, value ...` ended by a newline, `;`, `}` or a comment.
#[derive(Clone, Debug)]
pub struct Setting {
    pub key: Atom,
    pub values: Vec<Atom>,
    pub comment: Option<Comment>,
    pub span: Span,
}

/// `keyword label ... { items }`.
#[derive(Clone, Debug)]
pub struct Block {
    pub keyword: Atom,
    pub labels: Vec<Atom>,
    pub items: Vec<Item>,
    /// A comment after the opening `{`.
    pub open_comment: Option<Comment>,
    /// A comment after the closing `}`.
    pub close_comment: Option<Comment>,
    /// From the keyword to the opening brace.
    pub header: Span,
    /// The closing brace, when there is one.
    pub close: Option<Span>,
}

impl Block {
    /// Settings directly inside this block.
    pub fn settings(&self) -> impl Iterator<Item = &Setting> {
        self.items.iter().filter_map(|item| match item {
            Item::Setting(setting) => Some(setting),
            _ => None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// The text from `#` to the end of the line, trailing spaces trimmed.
    pub text: String,
    pub span: Span,
}
