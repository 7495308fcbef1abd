//! `netc diff`: what a change to a topology does, for a pull request.
//!
//! Both revisions are read straight from git objects (git2: no checkout, no
//! work tree needed, so a bare clone works): the topology at `--path` and
//! its lock file beside it, each compiled in memory. The pure preview
//! (`netc_compiler::preview`) compares the two; this module resolves the
//! revisions, reads the blobs and prints.
//!
//! Exit codes, like `terraform plan -detailed-exitcode`: 0 no change, 1 an
//! error (head does not compile, a revision or path cannot be read), 2
//! changes.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use git2::{ObjectType, Repository, Tree};
use netc_compiler::diagnostic::{Diagnostic, SourceFile};
use netc_compiler::preview::{self, render, Side};
use netc_compiler::Compilation;
use netc_runtime::git::{Committed, NotCompiled};

use crate::{report, Format, Outcome};

#[derive(Clone, Copy, ValueEnum)]
pub enum DiffFormat {
    /// Plain text with unified diffs, for a terminal.
    Text,
    /// GitHub markdown for a pull request comment, within GitHub's 65,536
    /// characters (collapsible per node; whole artifacts left out with a
    /// notice when it would not fit).
    Markdown,
    /// One JSON object: head's diagnostics, summary, disruptions, files.
    Json,
}

#[derive(Args)]
pub struct DiffArgs {
    /// The git repository (a work tree or a bare clone).
    #[arg(long, value_name = "DIR", default_value = ".")]
    repo: PathBuf,
    /// The base revision (a branch, tag, commit or any `git rev-parse`
    /// expression, e.g. `origin/main`).
    #[arg(long, value_name = "REV")]
    base: String,
    /// The head revision.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    head: String,
    /// The topology's path inside the repository; default: the only `.netc`
    /// file at the top of head's tree.
    #[arg(long, value_name = "FILE")]
    path: Option<String>,
    /// How to print the preview.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
    /// Character limit of the markdown output.
    #[arg(long, value_name = "CHARS", default_value_t = render::GITHUB_COMMENT_LIMIT)]
    limit: usize,
}

/// One revision's topology, read from git and compiled.
struct Revision {
    label: String,
    /// `None` when the file does not exist at this revision.
    source: Option<SourceFile>,
    compilation: Option<Compilation>,
}

pub fn run(args: &DiffArgs) -> Outcome {
    match diff(args) {
        Ok(outcome) => outcome,
        Err(message) => {
            eprintln!("error: {message}");
            Outcome::Problems
        }
    }
}

fn diff(args: &DiffArgs) -> Result<Outcome, String> {
    let repo = Repository::open(&args.repo).map_err(|e| {
        format!(
            "cannot open the git repository `{}`: {}",
            args.repo.display(),
            e.message()
        )
    })?;
    let head_tree = tree(&repo, &args.head)?;
    let path = match &args.path {
        Some(path) => path.clone(),
        None => only_topology(&head_tree, &args.head)?,
    };
    let base = revision(&repo, &args.base, &path)?;
    let head = revision(&repo, &args.head, &path)?;
    if base.source.is_none() && head.source.is_none() {
        return Err(format!(
            "`{path}` exists neither at {} nor at {}; give the topology's path with --path",
            args.base, args.head
        ));
    }
    fn side(revision: &Revision) -> Side<'_> {
        Side {
            topology: revision.compilation.as_ref().and_then(|c| c.topology.as_ref()),
            files: revision
                .compilation
                .as_ref()
                .and_then(|c| c.artifacts.as_ref())
                .map(|a| &a.files),
        }
    }
    let preview = preview::preview(side(&base), side(&head));
    let diagnostics: &[Diagnostic] = head.compilation.as_ref().map_or(&[], |c| &c.diagnostics);
    let head_errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let rendered = |format| match &head.source {
        Some(source) => report::format(source, diagnostics, format),
        None => String::new(),
    };
    let human_report = rendered(Format::Human);
    let context = render::Context {
        path: &path,
        base: &base.label,
        head: &head.label,
        head_report: &human_report,
        head_errors,
    };
    match args.format {
        DiffFormat::Text => print!("{}", render::text(&preview, &context)),
        DiffFormat::Markdown => print!("{}", render::markdown(&preview, &context, args.limit)),
        DiffFormat::Json => {
            let diagnostics: Vec<serde_json::Value> = rendered(Format::Json)
                .lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect();
            let json = serde_json::json!({
                "path": path,
                "base": base.label,
                "head": head.label,
                "head_errors": head_errors,
                "diagnostics": diagnostics,
                "preview": preview,
            });
            println!("{}", serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?);
        }
    }
    if head.source.is_some() && head.compilation.as_ref().is_none_or(|c| c.artifacts.is_none()) {
        return Ok(Outcome::Problems);
    }
    Ok(if preview.has_changes() {
        Outcome::Changes
    } else {
        Outcome::Clean
    })
}

/// The tree of `rev`.
fn tree<'r>(repo: &'r Repository, rev: &str) -> Result<Tree<'r>, String> {
    let object = repo
        .revparse_single(rev)
        .map_err(|e| format!("cannot resolve revision `{rev}`: {}", e.message()))?;
    let commit = object
        .peel_to_commit()
        .map_err(|e| format!("revision `{rev}` is not a commit: {}", e.message()))?;
    commit
        .tree()
        .map_err(|e| format!("cannot read the tree of `{rev}`: {}", e.message()))
}

/// The single `.netc` file at the top of `tree`.
fn only_topology(tree: &Tree<'_>, rev: &str) -> Result<String, String> {
    let found: Vec<String> = tree
        .iter()
        .filter(|entry| entry.kind() == Some(ObjectType::Blob))
        .filter_map(|entry| entry.name().ok().map(str::to_owned))
        .filter(|name| name.ends_with(".netc"))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "no `.netc` file at the top of `{rev}`; give the topology's path with --path"
        )),
        many => Err(format!(
            "several `.netc` files at the top of `{rev}` ({}); choose one with --path",
            many.join(", ")
        )),
    }
}

/// Read and compile the topology (with its lock file) at `rev`.
fn revision(repo: &Repository, rev: &str, path: &str) -> Result<Revision, String> {
    let tree = tree(repo, rev)?;
    let label = match repo.revparse_single(rev).and_then(|o| o.peel_to_commit()) {
        Ok(commit) => format!("{rev} ({})", &commit.id().to_string()[..12]),
        Err(_) => rev.to_owned(),
    };
    let committed = Committed::read(repo, &tree, path, rev)?;
    match committed.compile(path, &format!("@{rev}")) {
        None => Ok(Revision {
            label,
            source: None,
            compilation: None,
        }),
        Some(Err(NotCompiled::NotText)) => Err(format!("`{path}` at `{rev}` is not UTF-8 text")),
        Some(Err(NotCompiled::BadLock { lock, problems })) => {
            eprint!("{}", report::format(&lock, &problems, Format::Human));
            Err(format!(
                "`{path}.lock` at `{rev}` is not a valid lock file: {}",
                problems[0].message
            ))
        }
        Some(Ok((source, compilation))) => Ok(Revision {
            label,
            source: Some(source),
            compilation: Some(compilation),
        }),
    }
}
