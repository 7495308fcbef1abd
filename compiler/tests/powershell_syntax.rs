//! Every PowerShell script netc writes parses: each node's `host.ps1`, and
//! the scripts the Windows manifests' containers run (`powershell.exe ...
//! -Command SCRIPT`). There is no PowerShell to run here; tree-sitter's
//! PowerShell grammar checks the syntax offline (grammar only: no cmdlet,
//! parameter or type checking). Negative controls prove the checker sees
//! an unclosed brace, an unterminated string and a broken `if`.

#![allow(clippy::disallowed_methods)] // tests read fixtures; the purity rule is for the library

use netc_test_support as common;

use std::path::Path;

use common::powershell::{manifest_scripts, syntax_errors};
use common::*;
use netc_compiler::emit::Artifacts;
use netc_compiler::model::Lock;

/// Every valid example compiled with its committed lock file.
fn examples() -> Vec<(String, Artifacts)> {
    netc_files(&repo_root().join("examples"))
        .iter()
        .map(|path| {
            let source = source(path);
            let lock = lock_of(path);
            let compilation = netc_compiler::compile(&source, &lock);
            let artifacts = compilation
                .artifacts
                .unwrap_or_else(|| panic!("{} does not compile: {:?}", source.name(), compilation.diagnostics));
            (source.name().to_string(), artifacts)
        })
        .collect()
}

fn lock_of(path: &Path) -> Lock {
    let lock_path = path.with_extension("netc.lock");
    let Ok(text) = std::fs::read_to_string(&lock_path) else {
        return Lock::default();
    };
    let (lock, diagnostics) = Lock::parse(&text);
    assert!(diagnostics.is_empty(), "{}: {diagnostics:?}", lock_path.display());
    lock
}

#[test]
fn every_host_ps1_parses() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (example, artifacts) in examples() {
        for (path, bytes) in artifacts.files.iter().filter(|(p, _)| p.ends_with("/host.ps1")) {
            let script = std::str::from_utf8(bytes).expect("host.ps1 is UTF-8");
            for error in syntax_errors(script) {
                failures.push(format!("{example}: {path}:{error}"));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "PowerShell syntax errors:\n{}",
        failures.join("\n")
    );
    assert!(checked >= 3, "only {checked} host.ps1 files checked");
}

#[test]
fn every_windows_manifest_script_parses() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (example, artifacts) in examples() {
        for name in [
            "manifests/kube-flannel-windows.yaml",
            "manifests/kube-proxy-windows.yaml",
        ] {
            let Some(bytes) = artifacts.files.get(name) else {
                continue;
            };
            let scripts = manifest_scripts(std::str::from_utf8(bytes).expect("manifests are UTF-8"));
            assert!(!scripts.is_empty(), "{example}: {name} runs no PowerShell script");
            for (container, script) in scripts {
                for error in syntax_errors(&script) {
                    failures.push(format!("{example}: {name}: {container}: {error}"));
                }
                checked += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "PowerShell syntax errors:\n{}",
        failures.join("\n")
    );
    assert!(checked >= 2, "only {checked} manifest scripts checked");
}

#[test]
fn the_checker_accepts_valid_powershell() {
    let script = "$ErrorActionPreference = 'Stop'\n\
                  foreach ($prefix in @('10.244.1.0/24', '10.244.2.0/24')) {\n\
                  \x20   if (-not (Get-NetRoute -DestinationPrefix $prefix -ErrorAction SilentlyContinue)) {\n\
                  \x20       New-NetRoute -DestinationPrefix $prefix -InterfaceAlias 'vEthernet (flannel.4096)' | Out-Null\n\
                  \x20   }\n\
                  }\n";
    assert_eq!(syntax_errors(script), Vec::<String>::new());
}

#[test]
fn the_checker_reports_an_unclosed_brace() {
    let errors = syntax_errors("if ($true) {\n    Write-Output 'open'\n");
    assert!(!errors.is_empty(), "an unclosed brace went unnoticed");
    assert!(errors.iter().any(|e| e.contains("MISSING `}`")), "{errors:?}");
}

#[test]
fn the_checker_reports_an_unterminated_string() {
    let errors = syntax_errors("Set-NetcFile 'C:\\k\\a.json' 'unterminated\n$x = 1\n");
    assert!(!errors.is_empty(), "an unterminated string went unnoticed");
    assert!(errors.iter().all(|e| e.starts_with("1:")), "{errors:?}");
}

#[test]
fn the_checker_reports_a_broken_if_with_its_position() {
    let errors = syntax_errors("$x = 1\nif ($x -eq 1 { Write-Output 'one' }\n");
    assert!(!errors.is_empty(), "a broken `if` went unnoticed");
    assert!(errors.iter().any(|e| e.starts_with("2:")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("| if ($x -eq 1")), "{errors:?}");
}

#[test]
fn manifest_scripts_are_found_after_dash_command() {
    let manifest = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: ds\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        command: [powershell.exe, -NoLogo, -Command]\n        args: [\"if ($x) {\"]\n      - name: linux\n        command: [cp]\n        args: [-f, a, b]\n";
    let scripts = manifest_scripts(manifest);
    assert_eq!(
        scripts,
        vec![("DaemonSet ds, container c".to_string(), "if ($x) {".to_string())]
    );
    assert!(!syntax_errors(&scripts[0].1).is_empty());
}
