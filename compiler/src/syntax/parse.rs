//! Text to [`cst::File`](super::cst::File), with error recovery.
//!
//! Parsing never fails: a problem becomes a diagnostic and the parser resumes
//! at the next statement, so one run reports every broken line. The lexical
//! pieces (words, strings, comments, blanks) are nom parsers over
//! `nom_locate::LocatedSpan`, which gives every node its byte span; the
//! statement loop around them is a small recursive descent that decides where
//! to resynchronise.

use nom::bytes::complete::{take_till, take_while, take_while1};
use nom::character::complete::char;
use nom::{IResult, Parser};
use nom_locate::LocatedSpan;

use super::cst::{Atom, Block, Comment, File, Item, Setting};
use super::grammar::TOP_LEVEL;
use crate::diagnostic::{Diagnostic, Span};

type Input<'a> = LocatedSpan<&'a str>;

/// Deeper nesting than this is refused rather than recursed into, so a file of
/// ten thousand `{` cannot overflow the stack.
const MAX_DEPTH: usize = 16;

/// Blank characters within a line: any Unicode whitespace but the newline,
/// and the byte-order mark some editors put at the start of a file. (Were
/// these not blank, a no-break space would silently end a statement.)
fn is_blank(c: char) -> bool {
    c != '\n' && (c.is_whitespace() || c == '\u{feff}')
}

/// Characters that end a word.
fn is_special(c: char) -> bool {
    c == '\n' || is_blank(c) || matches!(c, '{' | '}' | ';' | ',' | '#' | '"')
}

fn inline_space(i: Input) -> IResult<Input, Input> {
    take_while(is_blank).parse(i)
}

fn word(i: Input) -> IResult<Input, Input> {
    take_while1(|c: char| !is_special(c)).parse(i)
}

fn comment(i: Input) -> IResult<Input, Input> {
    let (rest, _) = char('#').parse(i)?;
    let (rest, _) = take_till(|c| c == '\n').parse(rest)?;
    let len = rest.location_offset() - i.location_offset();
    Ok((rest, slice(i, len)))
}

/// A quoted string: `"..."` with `\"` and `\\` escapes, on one line. The
/// result is `(raw, text, terminated)`; an unterminated string runs to the end
/// of the line.
fn string(i: Input) -> IResult<Input, (Input, String, bool)> {
    let (body, _) = char('"').parse(i)?;
    let mut text = String::new();
    let mut consumed = body.fragment().len();
    let mut terminated = false;
    let mut chars = body.fragment().char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => {
                consumed = at + 1;
                terminated = true;
                break;
            }
            '\n' => {
                consumed = at;
                // A CRLF line ending is not part of an unterminated string.
                if text.ends_with('\r') {
                    text.pop();
                    consumed -= 1;
                }
                break;
            }
            // Only `\"` and `\\` are escapes; any other backslash is kept, so
            // a Windows path such as "C:\k" means what it says.
            '\\' => match chars.peek() {
                Some(&(_, escaped @ ('"' | '\\'))) => {
                    text.push(escaped);
                    chars.next();
                }
                _ => text.push('\\'),
            },
            other => text.push(other),
        }
    }
    let rest = take_n(body, consumed).0;
    let len = rest.location_offset() - i.location_offset();
    Ok((rest, (slice(i, len), text, terminated)))
}

fn take_n(i: Input, n: usize) -> (Input, Input) {
    use nom::Input as _;
    (i.take_from(n), i.take(n))
}

fn slice(i: Input, len: usize) -> Input {
    take_n(i, len).1
}

fn span_of(i: &Input) -> Span {
    let start = i.location_offset();
    Span::new(start, start + i.fragment().len())
}

fn peek(i: &Input) -> Option<char> {
    i.fragment().chars().next()
}

/// Parse a whole file. Never fails; problems come back as diagnostics.
pub fn parse(text: &str) -> (File, Vec<Diagnostic>) {
    let mut parser = StatementParser {
        diagnostics: Vec::new(),
    };
    let (_, items, _) = parser.items(Input::new(text), 0);
    (File { items }, parser.diagnostics)
}

struct StatementParser {
    diagnostics: Vec<Diagnostic>,
}

impl StatementParser {
    /// Items until end of input (depth 0) or the `}` closing this block.
    /// Returns the rest after that brace and the brace's span.
    fn items<'a>(&mut self, mut i: Input<'a>, depth: usize) -> (Input<'a>, Vec<Item>, Option<Span>) {
        let mut items = Vec::new();
        // Counts newlines since the last item, to keep one blank line where
        // the author left one or more.
        let mut newlines = 0usize;
        loop {
            i = inline_space(i).map_or(i, |(rest, _)| rest);
            let Some(c) = peek(&i) else {
                return (i, items, None);
            };
            if c == '\n' {
                newlines += 1;
                i = take_n(i, 1).0;
                continue;
            }
            // One blank item stands for any run of empty lines between two
            // items; empty lines at the start or end of a block are dropped.
            if newlines >= 2 && !items.is_empty() && !matches!(c, '}' | ';') {
                items.push(Item::Blank);
            }
            match c {
                '#' => {
                    let (rest, text) = comment(i).expect("starts with #");
                    items.push(Item::Comment(make_comment(&text)));
                    i = rest;
                }
                '}' => {
                    let (rest, brace) = take_n(i, 1);
                    if depth > 0 {
                        return (rest, items, Some(span_of(&brace)));
                    }
                    self.diagnostics.push(
                        Diagnostic::error("N0101", span_of(&brace), "unexpected `}`")
                            .label("no block is open here")
                            .help("remove this brace, or check that the `{` before it is where you meant it"),
                    );
                    i = rest;
                }
                ';' => i = take_n(i, 1).0,
                '{' | ',' => {
                    let (rest, token) = take_n(i, 1);
                    self.diagnostics.push(
                        Diagnostic::error(
                            "N0101",
                            span_of(&token),
                            format!("unexpected `{c}` at the start of a statement"),
                        )
                        .label("expected a keyword")
                        .help("a statement starts with a keyword, such as `node NAME {` or `address 192.168.10.10`"),
                    );
                    i = skip_to_line_end(rest);
                }
                // A top-level keyword at the start of a line inside a block
                // means a `}` was forgotten: close here, so that one missing
                // brace is one error and the rest of the file still parses.
                _ if depth > 0 && i.get_column() == 1 && starts_top_level_block(i) => {
                    return (i, items, None);
                }
                _ => {
                    let (rest, item) = self.statement(i, depth);
                    items.extend(item);
                    i = rest;
                }
            }
            newlines = 0;
        }
    }

    /// A setting or a block, starting at a word or a string.
    fn statement<'a>(&mut self, i: Input<'a>, depth: usize) -> (Input<'a>, Option<Item>) {
        let (mut i, key) = match self.atom(i, false) {
            Some(parsed) => parsed,
            None => return (skip_to_line_end(i), None),
        };
        let start = key.span;
        let mut values: Vec<Atom> = Vec::new();
        let mut comma_pending: Option<Span> = None;
        loop {
            i = inline_space(i).map_or(i, |(rest, _)| rest);
            match peek(&i) {
                // A trailing `,` continues a list on the next line.
                Some('\n') if comma_pending.is_some() => {
                    i = take_while::<_, Input, nom::error::Error<Input>>(char::is_whitespace)
                        .parse(i)
                        .map_or(i, |(rest, _)| rest);
                }
                // `node a` with its `{` on the next line is a block too.
                Some('\n') if next_line_opens_block(i) => {
                    let (rest, _) = take_while::<_, Input, nom::error::Error<Input>>(|c: char| c != '{')
                        .parse(i)
                        .expect("take_while cannot fail");
                    let (rest, brace) = take_n(rest, 1);
                    return self.block(rest, key, values, span_of(&brace), depth);
                }
                None | Some('\n') | Some('}') | Some(';') | Some('#') => {
                    if let Some(comma) = comma_pending {
                        self.dangling_comma(comma);
                    }
                    let mut setting = Setting {
                        span: values.last().map_or(start, |v| start.to(v.span)),
                        key,
                        values,
                        comment: None,
                    };
                    if peek(&i) == Some(';') {
                        i = take_n(i, 1).0;
                    }
                    let (rest, trailing) = trailing_comment(i);
                    setting.comment = trailing;
                    return (rest, Some(Item::Setting(setting)));
                }
                Some(',') => {
                    let (rest, token) = take_n(i, 1);
                    if comma_pending.is_some() || values.is_empty() {
                        self.dangling_comma(span_of(&token));
                    }
                    comma_pending = Some(span_of(&token));
                    i = rest;
                }
                Some('{') => {
                    if let Some(comma) = comma_pending {
                        self.dangling_comma(comma);
                    }
                    let (rest, brace) = take_n(i, 1);
                    return self.block(rest, key, values, span_of(&brace), depth);
                }
                Some(_) => match self.atom(i, comma_pending.take().is_some()) {
                    Some((rest, atom)) => {
                        values.push(atom);
                        i = rest;
                    }
                    None => return (skip_to_line_end(i), None),
                },
            }
        }
    }

    fn block<'a>(
        &mut self,
        i: Input<'a>,
        keyword: Atom,
        labels: Vec<Atom>,
        brace: Span,
        depth: usize,
    ) -> (Input<'a>, Option<Item>) {
        let header = keyword.span.to(brace);
        if depth + 1 > MAX_DEPTH {
            self.diagnostics.push(
                Diagnostic::error("N0101", brace, "blocks are nested too deeply").help(format!(
                    "netc blocks nest at most {MAX_DEPTH} levels; the language needs two"
                )),
            );
            return (skip_to_line_end(i), None);
        }
        let (i, open_comment) = trailing_comment(inline_space(i).map_or(i, |(rest, _)| rest));
        let (mut i, items, close) = self.items(i, depth + 1);
        let mut close_comment = None;
        if close.is_none() {
            self.diagnostics.push(
                Diagnostic::error("N0103", brace, format!("`{}` block is never closed", keyword.text))
                    .label("this `{` has no matching `}`")
                    .help("add a `}` after the block's last setting"),
            );
        } else {
            i = inline_space(i).map_or(i, |(rest, _)| rest);
            if peek(&i) == Some(';') {
                i = take_n(i, 1).0;
            }
            let (rest, comment) = trailing_comment(i);
            close_comment = comment;
            i = rest;
        }
        let block = Block {
            keyword,
            labels,
            items,
            open_comment,
            close_comment,
            header,
            close,
        };
        (i, Some(Item::Block(block)))
    }

    /// A word or a string. Reports an unterminated string and still returns
    /// its text, so the statement it is in can be checked.
    fn atom<'a>(&mut self, i: Input<'a>, comma_before: bool) -> Option<(Input<'a>, Atom)> {
        if let Ok((rest, w)) = word(i) {
            return Some((
                rest,
                Atom {
                    text: w.fragment().to_string(),
                    span: span_of(&w),
                    quoted: false,
                    comma_before,
                },
            ));
        }
        if let Ok((rest, (raw, text, terminated))) = string(i) {
            if !terminated {
                self.diagnostics.push(
                    Diagnostic::error("N0102", span_of(&raw), "unterminated string")
                        .label("this string has no closing `\"`")
                        .help("close the string with `\"` on the same line"),
                );
            }
            return Some((
                rest,
                Atom {
                    text,
                    span: span_of(&raw),
                    quoted: true,
                    comma_before,
                },
            ));
        }
        None
    }

    fn dangling_comma(&mut self, span: Span) {
        self.diagnostics.push(
            Diagnostic::error("N0101", span, "unexpected `,`")
                .label("a `,` goes between two values")
                .help("remove the extra `,`, or add the missing value after it"),
        );
    }
}

/// Whether the next line, after blank space, starts with `{`.
fn next_line_opens_block(i: Input) -> bool {
    let rest = i
        .fragment()
        .trim_start_matches(|c: char| c.is_whitespace() && c != '\n');
    rest.strip_prefix('\n')
        .is_some_and(|next| next.trim_start_matches(is_blank).starts_with('{'))
}

fn starts_top_level_block(i: Input) -> bool {
    word(i).is_ok_and(|(_, w)| TOP_LEVEL.contains(w.fragment()))
}

fn make_comment(text: &Input) -> Comment {
    let trimmed = text.fragment().trim_end();
    let start = text.location_offset();
    Comment {
        text: trimmed.to_string(),
        span: Span::new(start, start + trimmed.len()),
    }
}

/// A `# comment` ending the current line, if there is one.
fn trailing_comment(i: Input) -> (Input, Option<Comment>) {
    match comment(i) {
        Ok((rest, text)) => (rest, Some(make_comment(&text))),
        Err(_) => (i, None),
    }
}

fn skip_to_line_end(i: Input) -> Input {
    let rest: IResult<Input, Input> = take_till(|c| c == '\n').parse(i);
    rest.map_or(i, |(rest, _)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> File {
        let (file, diagnostics) = parse(text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        file
    }

    #[test]
    fn blocks_settings_lists_and_comments() {
        let file = parse_ok("# head\ncluster demo {\n  pod-network 10.0.0.0/16, fd00::/56  # two\n  backend vxlan { vni 4096; port 4789 }\n}\n");
        assert!(matches!(&file.items[0], Item::Comment(c) if c.text == "# head"));
        let Item::Block(cluster) = &file.items[1] else {
            panic!("not a block")
        };
        assert_eq!(cluster.keyword.text, "cluster");
        assert_eq!(cluster.labels[0].text, "demo");
        let Item::Setting(pods) = &cluster.items[0] else {
            panic!("not a setting")
        };
        assert_eq!(pods.values.len(), 2);
        assert!(pods.values[1].comma_before);
        assert_eq!(pods.comment.as_ref().unwrap().text, "# two");
        let Item::Block(backend) = &cluster.items[1] else {
            panic!("not a block")
        };
        assert_eq!(backend.settings().count(), 2);
    }

    #[test]
    fn quoted_strings_keep_spaces_and_escapes() {
        let file = parse_ok("node a { interface \"Ethernet \\\"2\\\"\" }");
        let Item::Block(node) = &file.items[0] else { panic!() };
        let setting = node.settings().next().unwrap();
        assert_eq!(setting.values[0].text, "Ethernet \"2\"");
        assert!(setting.values[0].quoted);
    }

    #[test]
    fn recovers_and_reports_every_problem() {
        let (file, diagnostics) = parse("}\nnode a {\n  interface \"open\n  os linux\n}\nnode b {\n  os linux\n");
        let codes: Vec<_> = diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["N0101", "N0102", "N0103"]);
        // Both nodes are still there, with the setting after the broken line.
        assert_eq!(file.items.iter().filter(|i| matches!(i, Item::Block(_))).count(), 2);
    }

    #[test]
    fn unicode_blanks_and_a_bom_separate_words() {
        let file = parse_ok("\u{feff}node a {\n  os\u{a0}linux\n}\n");
        let Item::Block(node) = &file.items[0] else {
            panic!("not a block")
        };
        assert_eq!(node.keyword.text, "node");
        let os = node.settings().next().unwrap();
        assert_eq!((os.key.text.as_str(), os.values[0].text.as_str()), ("os", "linux"));
    }

    #[test]
    fn brace_on_next_line_and_list_after_trailing_comma() {
        let file = parse_ok("cluster c\n{\n  pod-network 10.0.0.0/16,\n    fd00::/56\n}\n");
        let Item::Block(cluster) = &file.items[0] else {
            panic!("not a block")
        };
        let pods = cluster.settings().next().unwrap();
        assert_eq!(pods.values.len(), 2);
        assert!(pods.values[1].comma_before);
    }

    #[test]
    fn a_forgotten_brace_is_one_error_and_the_next_block_still_parses() {
        let (file, diagnostics) = parse("cluster c {\n  backend vxlan {\n    vni 4096\n}\nnode a {\n  os linux\n}\n");
        let codes: Vec<_> = diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["N0103"]);
        assert!(matches!(&file.items[1], Item::Block(b) if b.keyword.text == "node"));
    }

    #[test]
    fn only_quote_and_backslash_are_escapes() {
        let file = parse_ok("node a { interface \"C:\\k\\new \\\" x\" }");
        let Item::Block(node) = &file.items[0] else { panic!() };
        assert_eq!(node.settings().next().unwrap().values[0].text, "C:\\k\\new \" x");
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let text = "a {".repeat(10_000);
        let (_, diagnostics) = parse(&text);
        assert!(diagnostics.iter().any(|d| d.message.contains("nested too deeply")));
    }
}
