//! netc-test-support: the helpers the compiler's and the runtime's tests
//! share, as a crate both depend on (dev-dependency) rather than a file
//! each includes: repository paths, golden file comparison (`NETC_BLESS=1`
//! rewrites), `files_under`, span-free model dumps, external checkers
//! (`tool`: found through the environment variable `.ci/run` sets or on
//! `PATH`; missing, the test skips with a printed reason, or fails under
//! `NETC_REQUIRE_TOOLS=1`), `Scratch` directories, and (`powershell`) the
//! PowerShell syntax check. One crate, so both bless goldens one way.

pub mod powershell;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use netc_compiler::diagnostic::SourceFile;

/// The repository's top directory (this crate is `compiler/test-support`).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().and_then(Path::parent).unwrap().to_path_buf()
}

pub fn blessing() -> bool {
    std::env::var_os("NETC_BLESS").is_some_and(|v| v == "1")
}

/// Compare `actual` with the golden file at `path`; with `NETC_BLESS=1`
/// write it instead. Returns a failure message for the caller to collect,
/// so one run lists every stale golden.
pub fn check_golden(path: &Path, actual: &str) -> Option<String> {
    if blessing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return None;
    }
    match std::fs::read_to_string(path) {
        Ok(expected) if expected == actual => None,
        Ok(expected) => Some(format!(
            "golden mismatch: {}\n--- expected\n{expected}\n--- actual\n{actual}\n(run `NETC_BLESS=1 cargo test` and review the diff)",
            path.display()
        )),
        Err(_) => Some(format!(
            "missing golden: {} (run `NETC_BLESS=1 cargo test` to create it)",
            path.display()
        )),
    }
}

/// Every file below `dir`, as `/`-separated paths relative to it.
pub fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.insert(path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found
}

/// Read a `.netc` file with a stable, relative display name.
pub fn source(path: &Path) -> SourceFile {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.strip_prefix(repo_root()).unwrap_or(path);
    // `/` on every platform, so reports name files as the goldens do.
    SourceFile::new(name.display().to_string().replace('\\', "/"), text)
}

/// `.netc` files directly in `dir`, sorted.
pub fn netc_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "netc"))
        .collect();
    files.sort();
    files
}

/// The topology's debug dump with every span removed, so that two sources
/// that differ only in layout compare equal.
pub fn model_dump(source: &SourceFile) -> String {
    let analysis = netc_compiler::analyze(source);
    let dump = format!("{:#?}", analysis.topology);
    strip_spans(&dump)
}

fn strip_spans(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '@' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(|c| c.is_ascii_digit() || *c == '.') {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// An external checker named by the environment variable `var` (set by
/// `.ci/run`), or found on `PATH` as `program`. When it is missing the test
/// skips with a printed reason, except under `NETC_REQUIRE_TOOLS=1` (CI),
/// where a missing checker fails the test.
pub fn tool(var: &str, program: &str) -> Option<PathBuf> {
    // The checkers are Linux programs: a Windows build of the tests (run
    // under Wine in CI) cannot start them, whatever the environment says.
    if cfg!(not(unix)) {
        eprintln!("skipped: {program} is a Linux program and this is the Windows build");
        return None;
    }
    let from_env = std::env::var_os(var).map(PathBuf::from).filter(|p| p.exists());
    let on_path = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|candidate| candidate.exists())
        })
    };
    let found = from_env.or_else(on_path);
    if found.is_none() {
        let required = std::env::var_os("NETC_REQUIRE_TOOLS").is_some_and(|v| v == "1");
        assert!(
            !required,
            "{program} is required (NETC_REQUIRE_TOOLS=1) but was not found; set {var}"
        );
        eprintln!("skipped: {program} not found (set {var}; `.ci/run` installs it)");
    }
    found
}

/// A scratch directory removed on drop (the compiler crate has no
/// `tempfile`): `netc-NAME-PID` under the system's temporary directory.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("netc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
