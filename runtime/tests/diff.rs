//! `netc diff` against real git repositories made here with the `git`
//! command: revisions read from objects (also in a bare clone), the
//! summary, disruption classes (cluster-wide changes, a new agent branch),
//! head's errors first, the three formats, a 200-node change within
//! GitHub's comment limit, bad revisions and paths, and the exit codes (0
//! no change, 1 error, 2 changes). The example workflow
//! (`examples/github/netc-preview.yml`) uses only flags `netc diff` has and
//! handles each exit code. Commit dates are fixed, so commit ids, and with
//! them the golden markdown in `golden/diff/`, are the same on every run
//! (`NETC_BLESS=1` rewrites it).

// The repositories are made with the host's `git` command: Linux only (the
// Windows build runs `netc diff` in `windows_exe.rs` instead).
#![cfg(unix)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::repo::{base_repo, example, Repo};
use common::text;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

impl Repo {
    fn diff(&self, args: &[&str]) -> Output {
        netc_diff(&self.dir, args)
    }
}

fn netc_diff(repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netc"))
        .arg("diff")
        .arg("--repo")
        .arg(repo)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn no_change_exits_0() {
    let (mut repo, base) = base_repo();
    let head = repo.commit(&[("README", "docs only\n")], "docs");
    let output = repo.diff(&["--base", &base, "--head", &head]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(stdout(&output).ends_with("No changes.\n"), "{}", text(&output));
}

#[test]
fn an_added_node_and_a_lower_mtu_in_every_format() {
    let (mut repo, _) = base_repo();
    let topology = example("static-vxlan.netc")
        .replace("count 3", "count 4")
        .replace("underlay-mtu     1500", "underlay-mtu     1400");
    repo.commit(&[("cluster.netc", &topology)], "node-4, MTU 1400");

    let output = repo.diff(&["--base", "main~1", "--head", "main"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let out = stdout(&output);
    assert!(
        out.contains("Summary: nodes: +1 ~3 (1 added, 0 removed, 3 changed); routes: 1 added, 0 removed"),
        "{out}"
    );
    assert!(
        out.contains("route added: 198.18.3.0/24 via 198.51.100.14 (node node-4)"),
        "{out}"
    );
    assert!(
        out.contains("[connectivity-risk] cluster: underlay MTU 1500 → 1400"),
        "{out}"
    );
    assert!(
        out.contains("[hitless] node node-4: added (pod subnet 198.18.3.0/24)"),
        "{out}"
    );
    assert!(
        out.contains("--- /dev/null\n+++ b/nodes/node-4/program.json\n"),
        "{out}"
    );
    assert!(out.contains("-      \"mtu\": 1450,\n+      \"mtu\": 1350,"), "{out}");
    assert!(
        !out.contains("a/index.json"),
        "index.json only repeats the other files' hashes"
    );

    let json = repo.diff(&["--base", "main~1", "--head", "main", "--format", "json"]);
    assert_eq!(json.status.code(), Some(2), "{}", text(&json));
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["preview"]["summary"]["nodes_added"], serde_json::json!(["node-4"]));
    assert_eq!(json["preview"]["disruptions"][0]["class"], "connectivity-risk");
    assert_eq!(json["head_errors"], 0);

    let markdown = repo.diff(&["--base", "main~1", "--head", "main", "--format", "markdown"]);
    assert_eq!(markdown.status.code(), Some(2), "{}", text(&markdown));
    golden("add-node-lower-mtu.md", &stdout(&markdown));
}

#[test]
fn head_errors_come_first_and_exit_1() {
    let (mut repo, base) = base_repo();
    let broken = example("static-vxlan.netc").replace("vni  4096", "vni  banana");
    repo.commit(&[("cluster.netc", &broken)], "broken");
    for format in ["text", "markdown"] {
        let output = repo.diff(&["--base", &base, "--format", format]);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        let out = stdout(&output);
        let error = out.find("error[").expect("head's diagnostics are printed");
        let summary = out.find("ummary:**").or_else(|| out.find("Summary:")).unwrap();
        assert!(error < summary, "errors before the summary:\n{out}");
        assert!(
            out.contains("cluster.netc@HEAD:12:"),
            "diagnostics name the file, line and column:\n{out}"
        );
    }
}

#[test]
fn cluster_wide_changes_are_classified() {
    let mut repo = Repo::new();
    repo.commit(
        &[
            ("cluster.netc", &example("vxlan-mixed.netc")),
            ("cluster.netc.lock", &example("vxlan-mixed.netc.lock")),
        ],
        "base",
    );
    let changed = example("vxlan-mixed.netc").replace("10.244.0.0/16", "10.245.0.0/16");
    assert_ne!(changed, example("vxlan-mixed.netc"));
    repo.commit(
        &[("cluster.netc", &changed), ("cluster.netc.lock", "")],
        "new pod network",
    );
    let output = repo.diff(&["--base", "main~1"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let out = stdout(&output);
    assert!(
        out.contains("[downtime] cluster: pod network 10.244.0.0/16 → 10.245.0.0/16"),
        "{out}"
    );
    assert!(out.contains("Rancher's guide Networking with Flannel"), "{out}");

    let mut repo = Repo::new();
    repo.commit(&[("cluster.netc", &example("static-vxlan.netc"))], "base");
    let vni = example("static-vxlan.netc").replace("vni  4096", "vni  4097");
    repo.commit(&[("cluster.netc", &vni)], "new VNI");
    let out = stdout(&repo.diff(&["--base", "main~1"]));
    assert!(
        out.contains("[recreate] cluster: vxlan VNI 4096 port 4789 → VNI 4097 port 4789"),
        "{out}"
    );
}

#[test]
fn works_in_a_bare_clone_without_a_work_tree() {
    let (mut repo, base) = base_repo();
    let topology = example("static-vxlan.netc").replace("count 3", "count 2");
    repo.commit(&[("cluster.netc", &topology)], "node-3 removed");
    let bare = repo.dir.parent().unwrap().join("bare.git");
    repo.git(&[
        "clone",
        "-q",
        "--bare",
        repo.dir.to_str().unwrap(),
        bare.to_str().unwrap(),
    ]);
    let output = netc_diff(&bare, &["--base", &base, "--head", "main", "--path", "cluster.netc"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let out = stdout(&output);
    assert!(
        out.contains("[connectivity-risk] node node-3: removed (pod subnet 198.18.2.0/24)"),
        "{out}"
    );
    assert!(
        out.contains("route removed: 198.18.2.0/24 via 198.51.100.13 (node node-3)"),
        "{out}"
    );
}

#[test]
fn a_large_change_fits_a_github_comment() {
    let (mut repo, _) = base_repo();
    let topology = example("static-vxlan.netc").replace("count 3", "count 200");
    repo.commit(&[("cluster.netc", &topology)], "200 nodes");
    let output = repo.diff(&["--base", "main~1", "--format", "markdown"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let out = stdout(&output);
    assert!(out.chars().count() <= 65_536, "{} characters", out.chars().count());
    assert!(out.contains("artifact diff(s) left out** to fit GitHub's 65536-character comment limit"));
    let fences = out.lines().filter(|l| l.starts_with("```")).count();
    assert_eq!(fences % 2, 0, "every code fence is closed");
    assert_eq!(out.matches("<details").count(), out.matches("</details>").count());
    // A smaller limit is honoured too.
    let small = repo.diff(&["--base", "main~1", "--format", "markdown", "--limit", "20000"]);
    assert!(stdout(&small).chars().count() <= 20_000);
}

#[test]
fn bad_revisions_and_paths_are_errors() {
    let (mut repo, base) = base_repo();
    let output = repo.diff(&["--base", "no-such-branch"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot resolve revision `no-such-branch`"));

    repo.commit(&[("other.netc", &example("tor-routed.netc"))], "a second topology");
    let output = repo.diff(&["--base", &base]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("several `.netc` files"));

    let output = repo.diff(&["--base", &base, "--path", "missing.netc"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("exists neither at"));

    let not_a_repo = tempfile::tempdir().unwrap();
    let output = netc_diff(not_a_repo.path(), &["--base", "main"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot open the git repository"));
}

/// Compare with `golden/diff/NAME`, or rewrite it under `NETC_BLESS=1`.
fn golden(name: &str, actual: &str) {
    let path = workspace().join("golden/diff").join(name);
    if std::env::var("NETC_BLESS").as_deref() == Ok("1") {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, actual).unwrap();
        return;
    }
    let expected = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with NETC_BLESS=1 to create it)", path.display()));
    assert_eq!(
        actual,
        expected,
        "{} differs (NETC_BLESS=1 rewrites it; review the diff)",
        path.display()
    );
}

/// The example workflow only uses flags `netc diff` has, and handles each
/// documented exit code.
#[test]
fn the_example_workflow_matches_the_command() {
    let workflow = fs::read_to_string(workspace().join("examples/github/netc-preview.yml")).unwrap();
    let help = Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(["diff", "--help"])
        .output()
        .unwrap();
    let help = stdout(&help);
    let start = workflow.find("netc diff --repo").expect("the workflow runs netc diff");
    let command: String = workflow[start..]
        .lines()
        .take_while(|line| !line.trim().is_empty() && !line.contains("code=$?"))
        .collect();
    let flags: Vec<&str> = command
        .split_whitespace()
        .filter(|word| word.starts_with("--"))
        .collect();
    assert!(flags.len() >= 5, "{command}");
    for flag in flags {
        assert!(help.contains(flag), "`{flag}` is not a flag of netc diff:\n{help}");
    }
    assert!(
        workflow.contains("fetch-depth: 0"),
        "the base commit must be in the clone"
    );
    assert!(workflow.contains("steps.preview.outputs.exit == '1'"));
}

#[test]
fn a_new_agent_branch_is_a_connectivity_risk() {
    let mut repo = Repo::new();
    let gitops = example("gitops-static.netc");
    repo.commit(
        &[
            ("cluster.netc", &gitops),
            ("cluster.netc.lock", &example("gitops-static.netc.lock")),
        ],
        "base",
    );
    assert!(gitops.contains("branch"), "the example names its branch");
    let moved = gitops.replacen("main", "release", 1);
    assert_ne!(moved, gitops);
    repo.commit(&[("cluster.netc", &moved)], "follow release");
    let output = repo.diff(&["--base", "main~1"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let out = stdout(&output);
    assert!(
        out.contains("[connectivity-risk] cluster: agent source") && out.contains("anti-rollback"),
        "{out}"
    );
}
