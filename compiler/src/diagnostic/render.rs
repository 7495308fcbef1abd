//! Human rendering in the style of rustc: `error[CODE]: message`, the file
//! position, the source lines with carets, then `help:` and notes.
//!
//! Pure and colourless on purpose: the same bytes go to terminals, CI logs
//! and golden files.

use std::fmt::Write;

use super::{Diagnostic, SourceFile};

/// Characters of one source line shown in a snippet: a longer line is cut
/// to a window around its labels, so a minified or generated file does not
/// print a 200,000-character line under every diagnostic.
pub const MAX_LINE_CHARS: usize = 120;
/// Characters kept before the first label of a cut line.
const CONTEXT_CHARS: usize = 40;

/// Render every diagnostic, separated by blank lines, plus a summary line
/// (`error: 2 errors, 1 warning in FILE`) when there is anything to report.
pub fn render_all(file: &SourceFile, diagnostics: &[Diagnostic]) -> String {
    render_limited(file, diagnostics, 0)
}

/// As [`render_all`], but only the first `limit` diagnostics (all of them
/// when `limit` is 0), then one line saying how many more there are; the
/// summary still counts every one.
pub fn render_limited(file: &SourceFile, diagnostics: &[Diagnostic], limit: usize) -> String {
    let mut out = String::new();
    let shown = if limit == 0 {
        diagnostics.len()
    } else {
        limit.min(diagnostics.len())
    };
    for diagnostic in &diagnostics[..shown] {
        out.push_str(&render(file, diagnostic));
        out.push('\n');
    }
    if shown < diagnostics.len() {
        let _ = writeln!(
            out,
            "... and {} more not shown (the first {shown} are; `--error-limit 0` shows all)\n",
            diagnostics.len() - shown
        );
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    if !diagnostics.is_empty() {
        let _ = writeln!(
            out,
            "{}: {} in {}",
            if errors > 0 { "error" } else { "warning" },
            summary(errors, warnings),
            file.name()
        );
    }
    out
}

/// `2 errors, 1 warning`.
pub fn summary(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, w) => plural(w, "warning"),
        (e, 0) => plural(e, "error"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

/// Render one diagnostic.
pub fn render(file: &SourceFile, diagnostic: &Diagnostic) -> String {
    let mut out = String::new();
    let primary = file.line_col(diagnostic.primary.span.start);
    let _ = writeln!(
        out,
        "{}[{}]: {}",
        diagnostic.severity.as_str(),
        diagnostic.code,
        diagnostic.message
    );

    // Every label, primary first, ordered by line for display.
    let mut labels: Vec<(usize, usize, usize, char, &str)> = Vec::new();
    let all = std::iter::once((&diagnostic.primary, '^')).chain(diagnostic.secondary.iter().map(|l| (l, '-')));
    for (label, mark) in all {
        let start = file.line_col(label.span.start);
        let end = file.line_col(label.span.end);
        // Multi-line spans are underlined to the end of their first line.
        let line_len = file.line_text(start.line).chars().count();
        let end_col = if end.line == start.line {
            end.column
        } else {
            line_len + 1
        };
        let width = end_col.saturating_sub(start.column).max(1);
        labels.push((start.line, start.column, width, mark, &label.message));
    }
    labels.sort_by_key(|&(line, column, _, mark, _)| (line, column, mark != '^'));

    // Per line, the window of its text that is shown: (first char, end).
    let mut windows: std::collections::BTreeMap<usize, (usize, usize)> = std::collections::BTreeMap::new();
    for &(line, column, width, _, _) in &labels {
        let span = windows.entry(line).or_insert((column - 1, column - 1 + width));
        span.0 = span.0.min(column - 1);
        span.1 = span.1.max(column - 1 + width);
    }
    for (line, window) in windows.iter_mut() {
        *window = shown_window(file.line_text(*line).chars().count(), window.0);
    }
    let gutter = labels.iter().map(|l| l.0).max().unwrap_or(1).to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{pad}--> {}:{}:{}", file.name(), primary.line, primary.column);
    let _ = writeln!(out, "{pad} |");
    let mut last_line: Option<usize> = None;
    for (line, column, width, mark, message) in &labels {
        if last_line != Some(*line) {
            if let Some(previous) = last_line {
                if *line > previous + 1 {
                    let _ = writeln!(out, "{pad}...");
                }
            }
            let text = file.line_text(*line).replace('\t', " ");
            let (from, to) = windows[line];
            let cut: String = text.chars().skip(from).take(to - from).collect();
            let before = if from > 0 { "..." } else { "" };
            let after = if to < text.chars().count() { "..." } else { "" };
            let _ = writeln!(out, "{line:>gutter$} | {before}{cut}{after}");
            last_line = Some(*line);
        }
        let (from, to) = windows[line];
        let shift = if from > 0 { 3 } else { 0 };
        // A label starting past the window is drawn at its end.
        let start = (column - 1).clamp(from, to);
        let width = (*width).min(to.saturating_sub(start)).max(1);
        let underline = mark.to_string().repeat(width);
        let indent = " ".repeat(start - from + shift);
        let message = if message.is_empty() {
            String::new()
        } else {
            format!(" {message}")
        };
        let _ = writeln!(out, "{pad} | {indent}{underline}{message}");
    }
    let _ = writeln!(out, "{pad} |");
    if let Some(help) = &diagnostic.help {
        let _ = writeln!(out, "{pad} = help: {help}");
    }
    for note in &diagnostic.notes {
        let _ = writeln!(out, "{pad} = note: {note}");
    }
    let _ = writeln!(
        out,
        "{pad} = note: for more information, run `netc explain {}`",
        diagnostic.code
    );
    out
}

/// The part of a line of `len` characters shown when its first label starts
/// at character `first` (0-based): all of it when it is short enough, else
/// [`MAX_LINE_CHARS`] characters from a little before that label.
fn shown_window(len: usize, first: usize) -> (usize, usize) {
    if len <= MAX_LINE_CHARS {
        return (0, len);
    }
    let from = first.saturating_sub(CONTEXT_CHARS).min(len - MAX_LINE_CHARS);
    (from, from + MAX_LINE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Span;

    #[test]
    fn a_long_line_is_cut_around_its_label_with_the_caret_kept_under_it() {
        let long = format!("[{}]", "[".repeat(100_000));
        let text = format!("cluster c {{\n  pod-network {long}\n}}\n");
        let file = SourceFile::new("long.json", text.clone());
        let at = text.find("[[").unwrap() + 50_000;
        let diagnostic = Diagnostic::error("N0109", Span::new(at, at + 1), "too deep").label("here");
        let rendered = render(&file, &diagnostic);
        let source_line = rendered.lines().find(|l| l.starts_with("2 | ")).unwrap();
        assert!(
            source_line.len() <= 4 + 3 + MAX_LINE_CHARS + 3,
            "{} chars",
            source_line.len()
        );
        assert!(
            source_line.starts_with("2 | ...") && source_line.ends_with("..."),
            "{source_line}"
        );
        // The caret sits under the character the span starts at.
        let caret = rendered.lines().find(|l| l.contains('^')).unwrap();
        let column = caret.find('^').unwrap();
        assert_eq!(source_line.as_bytes()[column], b'[');
        assert_eq!(column - 7, CONTEXT_CHARS);
    }

    #[test]
    fn a_limit_shows_the_first_diagnostics_and_counts_the_rest() {
        let file = SourceFile::new("x.netc", "a\nb\nc\n");
        let diagnostics: Vec<Diagnostic> = (0..3)
            .map(|i| Diagnostic::error("N0104", Span::new(2 * i, 2 * i + 1), format!("bad {i}")))
            .collect();
        let limited = render_limited(&file, &diagnostics, 2);
        assert!(limited.contains("bad 0") && limited.contains("bad 1") && !limited.contains("bad 2"));
        assert!(limited.contains("... and 1 more not shown"), "{limited}");
        assert!(limited.ends_with("error: 3 errors in x.netc\n"), "{limited}");
        assert_eq!(render_limited(&file, &diagnostics, 0), render_all(&file, &diagnostics));
        assert_eq!(render_limited(&file, &diagnostics, 3), render_all(&file, &diagnostics));
    }

    #[test]
    fn renders_code_position_caret_and_help() {
        let file = SourceFile::new("demo.netc", "node a {\n  adress 10.0.0.1\n}\n");
        let diagnostic = Diagnostic::error("N0104", Span::new(11, 17), "unknown setting `adress`")
            .label("not a `node` setting")
            .with_secondary(Span::new(5, 6), "in this node")
            .help("did you mean `address`?");
        let expected = "\
error[N0104]: unknown setting `adress`
 --> demo.netc:2:3
  |
1 | node a {
  |      - in this node
2 |   adress 10.0.0.1
  |   ^^^^^^ not a `node` setting
  |
  = help: did you mean `address`?
  = note: for more information, run `netc explain N0104`
";
        assert_eq!(render(&file, &diagnostic), expected);
    }

    #[test]
    fn summary_counts_errors_and_warnings() {
        assert_eq!(summary(1, 0), "1 error");
        assert_eq!(summary(2, 1), "2 errors, 1 warning");
        assert_eq!(summary(0, 3), "3 warnings");
    }
}
