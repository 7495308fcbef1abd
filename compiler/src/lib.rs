//! netc's compiler core. Sources in; a typed, checked topology and
//! diagnostics out. The pipeline has one module per stage:
//!
//! 1. [`syntax`]: text to a typed syntax tree (`N01xx` diagnostics),
//! 2. [`model`]: names resolved, ranges expanded, defaults made explicit,
//!    pod subnets allocated (`N02xx`),
//! 3. [`check`]: the interop and addressing rules (`N03xx`, `N04xx`),
//! 4. [`emit`]: artifacts (manifests, CNI configs, host programs, ...).
//!
//! Invariant: this crate is pure. It does no I/O and reads no clock,
//! environment or process state, so the same source always gives the same
//! result; the `netc` binary does the effects.

pub mod check;
pub mod diagnostic;
pub mod emit;
pub mod graph;
pub mod model;
pub mod preview;
pub mod structured;
pub mod syntax;
pub mod yaml;

use diagnostic::{Diagnostic, SourceFile};

/// The outcome of checking one file.
#[derive(Debug)]
pub struct Analysis {
    /// The resolved topology, when the file was well-formed enough to build
    /// one. Present even when checks found errors.
    pub topology: Option<model::Topology>,
    /// Every diagnostic of every stage, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parse, resolve and check a source file, collecting all diagnostics.
pub fn analyze(source: &SourceFile) -> Analysis {
    analyze_with_lock(source, &model::Lock::default())
}

/// Like [`analyze`], keeping the pod subnets recorded in a lock file.
pub fn analyze_with_lock(source: &SourceFile, lock: &model::Lock) -> Analysis {
    let (_, document, diagnostics) = syntax::parse_document(source.text());
    analyze_document(&document, diagnostics, lock)
}

/// Like [`analyze_with_lock`], reading the file in the form its name says:
/// `.yaml`, `.yml` and `.json` are the structured form ([`structured`]),
/// anything else is `.netc`.
pub fn analyze_source(source: &SourceFile, lock: &model::Lock) -> Analysis {
    match structured::Format::of(source.name()) {
        Some(format) => {
            let (document, diagnostics) = structured::parse(source.text(), format);
            analyze_document(&document, diagnostics, lock)
        }
        None => analyze_with_lock(source, lock),
    }
}

fn analyze_document(
    document: &syntax::ast::Document,
    mut diagnostics: Vec<Diagnostic>,
    lock: &model::Lock,
) -> Analysis {
    let topology = model::build(document, lock, &mut diagnostics);
    if let Some(topology) = &topology {
        check::run(topology, &mut diagnostics);
    }
    diagnostic::sort(&mut diagnostics);
    Analysis { topology, diagnostics }
}

/// The result of compiling one file.
#[derive(Debug)]
pub struct Compilation {
    /// Every diagnostic, as [`analyze`] reports them.
    pub diagnostics: Vec<Diagnostic>,
    /// The files to write; `None` when there are errors.
    pub artifacts: Option<emit::Artifacts>,
    /// The lock file to keep beside the source (`None` with errors).
    pub lock: Option<model::Lock>,
    /// The resolved topology, when the file was well-formed enough to build
    /// one (also with errors); previews compare two of them.
    pub topology: Option<model::Topology>,
}

/// Check a topology (in the form its file name says, as
/// [`analyze_source`]) and, when it has no errors, produce its artifacts and
/// the lock file recording every node's pod subnets.
///
/// Every artifact is validated against its schema first; an invalid one is
/// a bug in netc, reported as `N0501`, and then nothing is produced.
pub fn compile(source: &SourceFile, lock: &model::Lock) -> Compilation {
    let mut analysis = analyze_source(source, lock);
    let has_errors = analysis.has_errors();
    let (artifacts, lock) = match (&analysis.topology, has_errors) {
        (Some(topology), false) => {
            let artifacts = emit::emit(topology);
            let problems = emit::validate::validate(&artifacts);
            if problems.is_empty() {
                (Some(artifacts), Some(model::lock_of(topology)))
            } else {
                analysis.diagnostics.push(invalid_artifact(topology, problems));
                (None, None)
            }
        }
        _ => (None, None),
    };
    Compilation {
        diagnostics: analysis.diagnostics,
        artifacts,
        lock,
        topology: analysis.topology,
    }
}

/// `N0501`: an emitter wrote something its schema rejects.
fn invalid_artifact(topology: &model::Topology, problems: Vec<String>) -> Diagnostic {
    let mut diagnostic = Diagnostic::error(
        "N0501",
        topology.cluster.header,
        "netc produced an invalid artifact: this is a bug in netc",
    )
    .label("while compiling this cluster")
    .help("nothing was written; please report this with the topology and the notes below");
    for problem in problems {
        diagnostic = diagnostic.note(problem);
    }
    diagnostic
}

/// Format a source file canonically, or return its syntax errors.
pub fn format(source: &SourceFile) -> Result<String, Vec<Diagnostic>> {
    let (file, _, mut diagnostics) = syntax::parse_document(source.text());
    diagnostics.retain(Diagnostic::is_error);
    if diagnostics.is_empty() {
        Ok(syntax::fmt::format(&file))
    } else {
        diagnostic::sort(&mut diagnostics);
        Err(diagnostics)
    }
}

/// The topology of a source text that must check without errors; for unit
/// tests of later stages.
#[cfg(test)]
pub(crate) fn topology_for_tests(text: &str) -> model::Topology {
    let analysis = analyze(&SourceFile::new("t.netc", text.to_string()));
    assert!(!analysis.has_errors(), "{:#?}", analysis.diagnostics);
    analysis.topology.expect("a topology without errors")
}
