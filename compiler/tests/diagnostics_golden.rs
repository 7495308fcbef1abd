//! Every diagnostic code has a directory `golden/diagnostics/<CODE>-<name>/`
//! with `fail.netc` (must raise the code; its rendered diagnostics are
//! compared with `fail.txt`) and, for rules, `pass.netc` (a near miss that
//! must check clean). `NETC_BLESS=1 cargo test` rewrites `fail.txt`.
//! A code about the YAML/JSON form has `fail.yaml` and `pass.yaml` instead.

#![allow(clippy::disallowed_methods)] // tests read fixtures and the environment; the purity rule is for the library

use netc_test_support as common;

use std::collections::BTreeSet;

use common::*;
use netc_compiler::diagnostic::{codes, render};
use netc_compiler::model::Lock;

/// Analyze `source` with the lock file at `lock_path`, if there is one.
/// Returns the analysis and the rendered diagnostics of the lock file.
fn analyze_beside_lock(
    source: &netc_compiler::diagnostic::SourceFile,
    lock_path: &std::path::Path,
) -> (netc_compiler::Analysis, String) {
    if !lock_path.exists() {
        return (netc_compiler::analyze_source(source, &Lock::default()), String::new());
    }
    let lock_source = common::source(lock_path);
    let (lock, diagnostics) = Lock::parse(lock_source.text());
    let report = render::render_all(&lock_source, &diagnostics);
    (netc_compiler::analyze_source(source, &lock), report)
}

#[test]
fn every_code_fails_and_passes_as_its_golden_says() {
    let root = repo_root().join("golden/diagnostics");
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let dir_name = dir.file_name().unwrap().to_string_lossy().to_string();
        let Some(info) = codes::find(dir_name.split('-').next().unwrap()) else {
            failures.push(format!("{dir_name}: no such code"));
            continue;
        };
        let expected_name = format!("{}-{}", info.code, info.name);
        if dir_name != expected_name {
            failures.push(format!("{dir_name}: should be named {expected_name}"));
        }
        seen.insert(info.code);

        let fail_name = case_file(&dir, "fail");
        let fail = source(&dir.join(&fail_name));
        let (analysis, lock_report) = analyze_beside_lock(&fail, &dir.join(format!("{fail_name}.lock")));
        if !analysis.diagnostics.iter().any(|d| d.code == info.code)
            && !lock_report.contains(&format!("[{}]", info.code))
        {
            failures.push(format!("{dir_name}/{fail_name} does not raise {}", info.code));
        }
        for d in analysis.diagnostics.iter().filter(|d| d.code == info.code) {
            if d.severity != info.severity {
                failures.push(format!(
                    "{dir_name}: {} raised as {:?}, registered as {:?}",
                    info.code, d.severity, info.severity
                ));
            }
        }
        let rendered = lock_report + &render::render_all(&fail, &analysis.diagnostics);
        failures.extend(check_golden(&dir.join("fail.txt"), &rendered));

        let pass_name = case_file(&dir, "pass");
        let pass_path = dir.join(&pass_name);
        if pass_path.exists() {
            let pass = source(&pass_path);
            let (analysis, lock_report) = analyze_beside_lock(&pass, &dir.join(format!("{pass_name}.lock")));
            if !analysis.diagnostics.is_empty() || !lock_report.is_empty() {
                failures.push(format!(
                    "{dir_name}/{pass_name} is not clean:\n{}",
                    render::render_all(&pass, &analysis.diagnostics)
                ));
            }
        } else if info.code.starts_with("N03") || info.code.starts_with("N04") {
            failures.push(format!("{dir_name}: rules need a pass.netc"));
        }
    }
    // These codes report bugs in netc's own output (N0501: an artifact its
    // schema rejects); no topology should raise them, so they have no golden
    // directory. compile_golden and the schema tests guard them instead.
    const CANNOT_BE_TRIGGERED: &[&str] = &["N0501"];
    for info in codes::all() {
        if !seen.contains(info.code) && !CANNOT_BE_TRIGGERED.contains(&info.code) {
            failures.push(format!(
                "{}: no golden/diagnostics/{}-{}/ directory",
                info.code, info.code, info.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `fail.netc` or `pass.netc`, or the YAML form (`fail.yaml`, `pass.yaml`)
/// when that is what the directory has.
fn case_file(dir: &std::path::Path, case: &str) -> String {
    let yaml = format!("{case}.yaml");
    if dir.join(&yaml).exists() {
        yaml
    } else {
        format!("{case}.netc")
    }
}
