//! A preview as text (the terminal), GitHub markdown (a pull request
//! comment) or JSON (tools).
//!
//! Markdown must fit GitHub's comment limit of 65,536 characters, so it is
//! built against a budget: the heading, head's errors, the summary and the
//! disruption table come first (long lists are cut with "… and N more"),
//! then one collapsible `<details>` per group (cluster-wide artifacts, then
//! each node), each artifact's diff in its own code fence. An artifact whose
//! diff does not fit is left out whole, never cut in the middle, and a
//! notice at the end names what was left out. Fences are always closed and
//! are longer than any run of backticks inside them.

use std::fmt::Write;

use super::{Change, FileDiff, Preview};

/// GitHub's limit on the body of an issue or pull request comment.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

/// Room kept for the closing notice about left-out artifacts.
const NOTICE_RESERVE: usize = 3_000;

/// At most this many entries of a list (routes, disruptions) are shown.
const LIST_LIMIT: usize = 40;

/// What the preview compares, and head's diagnostics.
pub struct Context<'a> {
    pub path: &'a str,
    pub base: &'a str,
    pub head: &'a str,
    /// Head's diagnostics as rendered for humans (empty when there are none).
    pub head_report: &'a str,
    pub head_errors: usize,
}

fn change_word(change: Change) -> &'static str {
    match change {
        Change::Added => "added",
        Change::Removed => "removed",
        Change::Modified => "modified",
    }
}

fn summary_line(preview: &Preview) -> String {
    let s = &preview.summary;
    let mut nodes = Vec::new();
    for (sign, list) in [("+", &s.nodes_added), ("-", &s.nodes_removed), ("~", &s.nodes_changed)] {
        if !list.is_empty() {
            nodes.push(format!("{sign}{}", list.len()));
        }
    }
    format!(
        "nodes: {} ({} added, {} removed, {} changed); routes: {} added, {} removed; files: {} changed ({} added, {} removed, {} modified)",
        if nodes.is_empty() { "0".to_owned() } else { nodes.join(" ") },
        s.nodes_added.len(),
        s.nodes_removed.len(),
        s.nodes_changed.len(),
        s.routes_added.len(),
        s.routes_removed.len(),
        s.files_changed(),
        s.files_added,
        s.files_removed,
        s.files_modified,
    )
}

/// Up to `LIST_LIMIT` items, then "… and N more".
fn capped<'a>(items: impl ExactSizeIterator<Item = &'a String>) -> (Vec<&'a String>, usize) {
    let total = items.len();
    let shown: Vec<&String> = items.take(LIST_LIMIT).collect();
    let more = total - shown.len();
    (shown, more)
}

/// Plain text for a terminal: everything, no limit.
pub fn text(preview: &Preview, context: &Context<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "netc diff {}: {} → {}", context.path, context.base, context.head);
    if !context.head_report.is_empty() {
        out.push('\n');
        out.push_str(context.head_report);
    }
    if context.head_errors > 0 {
        let _ = writeln!(
            out,
            "\nhead does not compile ({} errors): it would never be applied",
            context.head_errors
        );
    }
    if !preview.base_compiled {
        let _ = writeln!(out, "\nbase does not compile: every artifact of head shows as added");
    }
    let _ = writeln!(out, "\nSummary: {}", summary_line(preview));
    let s = &preview.summary;
    for (word, list) in [("added", &s.routes_added), ("removed", &s.routes_removed)] {
        for route in list {
            let _ = writeln!(out, "  route {word}: {route}");
        }
    }
    for (node, paths) in &s.per_node {
        let _ = writeln!(out, "  node {node}: {}", paths.join(", "));
    }
    if !preview.disruptions.is_empty() {
        let _ = writeln!(out, "\nDisruption:");
        for d in &preview.disruptions {
            let _ = writeln!(out, "  [{}] {}: {}: {}", d.class.as_str(), d.subject, d.change, d.why);
        }
    }
    if !preview.files.is_empty() {
        let _ = writeln!(out, "\nChanges:");
        for file in &preview.files {
            out.push_str(&file.diff);
            if !file.diff.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    if !preview.has_changes() {
        let _ = writeln!(out, "\nNo changes.");
    }
    out
}

/// A code fence longer than any run of backticks in `body`.
fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

fn fenced(language: &str, body: &str) -> String {
    let fence = fence(body);
    let newline = if body.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{language}\n{body}{newline}{fence}\n")
}

/// Escape text for a markdown table cell or inline position.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('<', "&lt;").replace('>', "&gt;")
}

/// GitHub markdown of at most `limit` characters.
pub fn markdown(preview: &Preview, context: &Context<'_>, limit: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### netc diff `{}`: `{}` → `{}`\n",
        cell(context.path),
        cell(context.base),
        cell(context.head)
    );
    if context.head_errors > 0 {
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> **Head does not compile: {} error(s).** netc never applies it; the last good program stays in force.\n",
            context.head_errors
        );
    }
    if !context.head_report.is_empty() {
        let report = fit(context.head_report, limit / 4);
        let _ = writeln!(
            out,
            "<details open><summary>diagnostics</summary>\n\n{}\n</details>\n",
            fenced("text", &report)
        );
    }
    if !preview.base_compiled {
        let _ = writeln!(out, "Base does not compile: every artifact of head shows as added.\n");
    }
    let _ = writeln!(out, "**Summary:** {}\n", summary_line(preview));
    let s = &preview.summary;
    for (word, list) in [("Routes added", &s.routes_added), ("Routes removed", &s.routes_removed)] {
        if list.is_empty() {
            continue;
        }
        let (shown, more) = capped(list.iter());
        let mut items: Vec<String> = shown.iter().map(|r| format!("`{}`", cell(r))).collect();
        if more > 0 {
            items.push(format!("… and {more} more"));
        }
        let _ = writeln!(out, "- {word}: {}", items.join(", "));
    }
    if !s.routes_added.is_empty() || !s.routes_removed.is_empty() {
        out.push('\n');
    }
    if !preview.disruptions.is_empty() {
        out.push_str("| disruption | subject | change | why |\n|---|---|---|---|\n");
        for d in preview.disruptions.iter().take(LIST_LIMIT) {
            let _ = writeln!(
                out,
                "| **{}** | {} | {} | {} |",
                d.class.as_str(),
                cell(&d.subject),
                cell(&d.change),
                cell(&d.why)
            );
        }
        if preview.disruptions.len() > LIST_LIMIT {
            let _ = writeln!(out, "| … | {} more | | |", preview.disruptions.len() - LIST_LIMIT);
        }
        out.push('\n');
    }
    if !preview.has_changes() {
        out.push_str("No changes.\n");
        return out;
    }

    // Artifacts, grouped: cluster-wide first, then per node.
    let budget = limit.saturating_sub(NOTICE_RESERVE);
    let mut used = out.chars().count();
    let mut left_out: Vec<&str> = Vec::new();
    let mut groups: Vec<(String, Vec<&FileDiff>)> = Vec::new();
    for file in &preview.files {
        let group = file
            .node
            .as_ref()
            .map_or_else(|| "cluster-wide".to_owned(), |n| format!("node {n}"));
        match groups.iter_mut().find(|(name, _)| *name == group) {
            Some((_, files)) => files.push(file),
            None => groups.push((group, vec![file])),
        }
    }
    // Cluster-wide first, then nodes in name order.
    groups.sort_by(|a, b| (a.0 != "cluster-wide", &a.0).cmp(&(b.0 != "cluster-wide", &b.0)));
    for (group, files) in groups {
        let open = format!(
            "<details><summary><b>{}</b>: {} file(s)</summary>\n\n",
            cell(&group),
            files.len()
        );
        let close = "</details>\n\n";
        let frame = open.chars().count() + close.len();
        if used + frame > budget {
            left_out.extend(files.iter().map(|f| f.path.as_str()));
            continue;
        }
        let mut body = String::new();
        let mut body_len = 0;
        for file in files {
            let block = format!(
                "`{}` ({})\n\n{}\n",
                cell(&file.path),
                change_word(file.change),
                fenced("diff", &file.diff)
            );
            let len = block.chars().count();
            if used + frame + body_len + len > budget {
                left_out.push(&file.path);
                continue;
            }
            body.push_str(&block);
            body_len += len;
        }
        if body.is_empty() {
            continue;
        }
        out.push_str(&open);
        out.push_str(&body);
        out.push_str(close);
        used += frame + body_len;
    }
    if !left_out.is_empty() {
        out.push_str(&notice(&left_out));
    }
    out
}

/// The notice naming the artifacts left out, itself within the reserve.
fn notice(left_out: &[&str]) -> String {
    let mut names = String::new();
    let mut named = 0;
    for path in left_out {
        let item = format!("`{}`, ", cell(path));
        if names.len() + item.len() > NOTICE_RESERVE - 600 {
            break;
        }
        names.push_str(&item);
        named += 1;
    }
    let names = names.trim_end_matches(", ");
    let more = if named < left_out.len() {
        format!(" and {} more", left_out.len() - named)
    } else {
        String::new()
    };
    format!(
        "> [!WARNING]\n> **{} artifact diff(s) left out** to fit GitHub's {GITHUB_COMMENT_LIMIT}-character comment limit: {names}{more}. Run `netc diff` locally for the full diff.\n",
        left_out.len()
    )
}

/// At most `limit` characters of `text`, cut at a line end, with a note.
fn fit(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut kept = String::new();
    for line in text.lines() {
        if kept.chars().count() + line.chars().count() + 1 > limit.saturating_sub(80) {
            break;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    kept.push_str("… (more diagnostics left out; run `netc check` locally)\n");
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preview::{Preview, Summary};

    fn file(path: &str, lines: usize) -> FileDiff {
        let body: String = (0..lines).map(|i| format!("+line {i} with ``` inside\n")).collect();
        FileDiff {
            path: path.to_owned(),
            change: Change::Added,
            node: path
                .strip_prefix("nodes/")
                .and_then(|r| r.split_once('/'))
                .map(|(n, _)| n.to_owned()),
            diff: format!("--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{lines} @@\n{body}"),
        }
    }

    fn preview(files: Vec<FileDiff>) -> Preview {
        Preview {
            base_compiled: true,
            head_compiled: true,
            summary: Summary::default(),
            disruptions: Vec::new(),
            files,
        }
    }

    const CONTEXT: Context<'static> = Context {
        path: "cluster.netc",
        base: "main",
        head: "HEAD",
        head_report: "",
        head_errors: 0,
    };

    /// Fences balanced: every opening fence has its closing one.
    fn fences_closed(markdown: &str) -> bool {
        let mut open: Option<String> = None;
        for line in markdown.lines() {
            let ticks: String = line.chars().take_while(|c| *c == '`').collect();
            if ticks.len() < 3 {
                continue;
            }
            match &open {
                None => open = Some(ticks),
                Some(fence) if line == fence => open = None,
                Some(_) => {}
            }
        }
        open.is_none()
    }

    #[test]
    fn a_big_preview_fits_the_limit_leaving_out_whole_artifacts() {
        let files: Vec<FileDiff> = (0..60)
            .map(|i| file(&format!("nodes/n{i:02}/program.json"), 60))
            .collect();
        let full: usize = files.iter().map(|f| f.diff.len()).sum();
        assert!(full > GITHUB_COMMENT_LIMIT);
        let markdown = markdown(&preview(files.clone()), &CONTEXT, GITHUB_COMMENT_LIMIT);
        assert!(markdown.chars().count() <= GITHUB_COMMENT_LIMIT);
        assert!(fences_closed(&markdown));
        assert!(markdown.contains("left out** to fit GitHub's 65536-character comment limit"));
        // Whole artifacts: each one is either complete or absent.
        for f in &files {
            let shown = markdown.contains(&format!("+++ b/{}", f.path));
            if shown {
                assert!(markdown.contains(&f.diff), "{} cut in the middle", f.path);
            } else {
                assert!(
                    markdown.contains(&format!("`{}`", f.path)),
                    "{} left out without a notice",
                    f.path
                );
            }
        }
        // Fences are longer than the backtick runs inside.
        assert!(markdown.contains("````diff\n"));
    }

    #[test]
    fn a_small_preview_is_complete_and_collapsible_per_node() {
        let files = vec![
            file("peers.json", 3),
            file("nodes/a/program.json", 2),
            file("nodes/b/host.sh", 2),
        ];
        let markdown = markdown(&preview(files), &CONTEXT, GITHUB_COMMENT_LIMIT);
        assert!(!markdown.contains("left out"));
        let cluster = markdown.find("<b>cluster-wide</b>: 1 file(s)").unwrap();
        let a = markdown.find("<b>node a</b>: 1 file(s)").unwrap();
        let b = markdown.find("<b>node b</b>: 1 file(s)").unwrap();
        assert!(cluster < a && a < b);
        assert_eq!(
            markdown.matches("<details").count(),
            markdown.matches("</details>").count()
        );
        assert!(fences_closed(&markdown));
    }

    #[test]
    fn no_changes_says_so() {
        let markdown = markdown(&preview(Vec::new()), &CONTEXT, GITHUB_COMMENT_LIMIT);
        assert!(markdown.ends_with("No changes.\n"));
        assert!(text(&preview(Vec::new()), &CONTEXT).ends_with("No changes.\n"));
    }
}
