//! The `netc` binary as a user runs it: exit codes, the three diagnostic
//! formats, `--deny-warnings`, `fmt` (and that it never damages a file),
//! `explain` and `rules` from one registry, `graph` (Mermaid or DOT; a
//! topology with errors is refused), a one-line summary per command in
//! `--help`, input bounded by the size and error limits, and the flags the
//! generated agent DaemonSets pass (`--flag=value`) accepted by the real
//! `netc agent` parser.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::is_root;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn netc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netc"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("netc runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn a_valid_example_checks_clean_with_exit_0() {
    let output = netc(&["check", "examples/vxlan-mixed.netc"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(stdout(&output), "");
    assert!(stderr(&output).contains("ok: examples/vxlan-mixed.netc (4 nodes)"));
}

#[test]
fn errors_exit_1_with_position_source_line_and_help() {
    let output = netc(&["check", "examples/invalid/windows-vni-1.netc"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("error[N0301]: Windows nodes need VNI 4096"), "{text}");
    assert!(text.contains("--> examples/invalid/windows-vni-1.netc:7:10"), "{text}");
    assert!(text.contains(" 7 |     vni  1\n"), "{text}");
    assert!(text.contains("= help: set `vni 4096`"), "{text}");
}

#[test]
fn json_format_is_one_object_per_diagnostic() {
    let output = netc(&["check", "--format", "json", "examples/invalid/syntax-errors.netc"]);
    assert_eq!(output.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 3);
    let positions: Vec<(u64, u64)> = lines
        .iter()
        .map(|d| (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()))
        .collect();
    assert_eq!(positions, [(3, 20), (5, 20), (14, 3)]);
    for d in &lines {
        assert_eq!(d["severity"], "error");
        assert_eq!(d["file"], "examples/invalid/syntax-errors.netc");
        assert!(d["code"].as_str().unwrap().starts_with("N01"));
        assert!(d["help"].is_string());
        assert!(d["message"].is_string());
    }
}

#[test]
fn github_format_writes_workflow_annotations() {
    let output = netc(&["check", "--format", "github", "examples/invalid/windows-port-8472.netc"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("::error file=examples/invalid/windows-port-8472.netc,line="),
        "{first}"
    );
    assert!(first.contains("title=netc N0303::"), "{first}");
}

#[test]
fn io_and_usage_errors_exit_2() {
    let missing = netc(&["check", "no/such/file.netc"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read `no/such/file.netc`"));

    let usage = netc(&["check"]);
    assert_eq!(usage.status.code(), Some(2));

    let unknown = netc(&["explain", "N9999"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("no diagnostic code `N9999`"));
}

#[test]
fn deny_warnings_turns_warnings_into_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warn.netc");
    // A Windows node without `build` only warns (the build gates cannot be verified).
    std::fs::write(
        &path,
        "cluster c {\n  pod-network 10.244.0.0/16\n  service-network 10.96.0.0/12\n}\nsegment s {\n  prefix 10.1.0.0/24\n}\nnode w {\n  os windows\n  address 10.1.0.5\n}\n",
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let relaxed = netc(&["check", path]);
    assert_eq!(relaxed.status.code(), Some(0), "{}", stdout(&relaxed));
    assert!(stdout(&relaxed).contains("warning["));
    let strict = netc(&["check", "--deny-warnings", path]);
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn explain_and_rules_come_from_one_registry() {
    let explain = netc(&["explain", "N0301"]);
    assert_eq!(explain.status.code(), Some(0));
    assert!(stdout(&explain).starts_with("# N0301: "));

    let by_name = netc(&["explain", "windows-vxlan-vni"]);
    assert_eq!(stdout(&by_name), stdout(&explain));

    let rules = stdout(&netc(&["rules"]));
    assert!(rules.lines().any(|l| l.starts_with("N0301  error")));
    assert!(rules.lines().count() >= 40, "{rules}");
}

#[test]
fn fmt_rewrites_checks_and_never_damages_files() {
    let dir = tempfile::tempdir().unwrap();
    let messy = dir.path().join("messy.netc");
    let original = "cluster demo {\npod-network 10.244.0.0/16 # pods\n   service-network    10.96.0.0/12\n}\n";
    std::fs::write(&messy, original).unwrap();
    let messy_arg = messy.to_str().unwrap();

    let check = netc(&["fmt", "--check", messy_arg]);
    assert_eq!(check.status.code(), Some(1));
    assert!(stdout(&check).contains("not formatted"));
    assert_eq!(
        std::fs::read_to_string(&messy).unwrap(),
        original,
        "--check writes nothing"
    );

    let write = netc(&["fmt", messy_arg]);
    assert_eq!(write.status.code(), Some(0), "{}", stderr(&write));
    let formatted = std::fs::read_to_string(&messy).unwrap();
    assert_eq!(
        formatted,
        "cluster demo {\n  pod-network     10.244.0.0/16  # pods\n  service-network 10.96.0.0/12\n}\n"
    );
    assert_eq!(netc(&["fmt", "--check", messy_arg]).status.code(), Some(0));

    // A file with syntax errors is reported and left byte for byte as it was.
    let broken = dir.path().join("broken.netc");
    let broken_text = "cluster demo {\n  pod-network 10.244.0.0/33\n";
    std::fs::write(&broken, broken_text).unwrap();
    let refused = netc(&["fmt", broken.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stdout(&refused).contains("error[N0103]"));
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), broken_text);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 2, "no temporary files are left behind");
}

#[test]
fn graph_draws_mermaid_or_dot_and_refuses_topologies_with_errors() {
    let output = netc(&["graph", "examples/tor-routed.netc"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let mermaid = stdout(&output);
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert!(
        mermaid.contains("subgraph s0[\"segment rack-a<br/>192.168.60.0/24"),
        "{mermaid}"
    );
    assert!(mermaid.contains("  t0 -->|\"10.244.200.0/24\"| h0\n"), "{mermaid}");
    // The README's picture is this command's output, not a hand-made copy.
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("```mermaid\n{mermaid}```")),
        "README's `## Graphs` is stale; paste the output of `netc graph examples/tor-routed.netc`"
    );

    let output = netc(&["graph", "--format", "dot", "examples/vxlan-mixed.netc"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let dot = stdout(&output);
    assert!(dot.starts_with("digraph netc {\n") && dot.ends_with("}\n"), "{dot}");
    assert!(dot.contains("10.127.130.22 on \\\"Ethernet 2\\\""), "{dot}");

    let output = netc(&["graph", "examples/invalid/windows-vni-1.netc"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "", "no graph on standard output");
    assert!(stderr(&output).contains("error[N0301]"), "{}", stderr(&output));

    let output = netc(&["graph", "--format", "svg", "examples/tor-routed.netc"]);
    assert_eq!(output.status.code(), Some(2));
    let output = netc(&["graph", "examples/no-such-file.netc"]);
    assert_eq!(output.status.code(), Some(2));
}

/// The agent DaemonSets `netc compile` writes call `netc agent` with flags
/// the real command line accepts: every argument of the Linux container and
/// of the Windows script, run through the binary's own parser. The agent
/// then stops at its root check (run as `nobody` when the test is root), so
/// nothing is fetched or changed.
// The agent's root check is Linux's: on Windows it would go on and fetch.
#[cfg(unix)]
#[test]
fn the_generated_agent_daemon_sets_pass_flags_netc_agent_accepts() {
    let linux = std::fs::read_to_string(repo().join("golden/gitops-mixed/manifests/netc-agent.yaml")).unwrap();
    let windows =
        std::fs::read_to_string(repo().join("golden/gitops-mixed/manifests/netc-agent-windows.yaml")).unwrap();
    let documents = netc_compiler::yaml::read_documents(&linux).unwrap();
    let daemon_set = documents.iter().find(|d| d["kind"] == "DaemonSet").unwrap();
    let container = &daemon_set["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["command"], serde_json::json!(["netc"]));
    let linux_args: Vec<String> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().replace("$(NODE_NAME)", "node-1"))
        .collect();
    // The Windows script's flags: the quoted strings of its `$flags` array.
    let start = windows.find("$flags = @(").expect("the Windows script builds $flags");
    let end = start + windows[start..].find("\n          )").expect("the array ends");
    let mut windows_args: Vec<String> = windows[start..end]
        .lines()
        .skip(1)
        .filter_map(|line| {
            let line = line.trim().trim_end_matches(',');
            line.strip_prefix('\'')
                .and_then(|l| l.strip_suffix('\''))
                .map(str::to_owned)
        })
        .collect();
    assert!(windows[start..end].contains("('--node=' + $env:NODE_NAME)"));
    windows_args.push("--node=win-1".into());
    // gitops-mixed has an `allowed-signer`: the Linux agent reads the
    // ConfigMap's mount, the Windows one the same file below its container's
    // mount point, which PowerShell joins at run time; the test stands in a
    // typical mount point for `$env:CONTAINER_SANDBOX_MOUNT_POINT`.
    assert!(
        linux_args.contains(&"--allowed-signers=/etc/netc/allowed_signers".to_string()),
        "{linux_args:?}"
    );
    let joined = "('--allowed-signers=' + (Join-Path $env:CONTAINER_SANDBOX_MOUNT_POINT 'etc\\netc\\allowed_signers'))";
    assert!(windows[start..end].contains(joined), "{}", &windows[start..end]);
    windows_args.push("--allowed-signers=C:\\C\\0123456789abcdef\\etc\\netc\\allowed_signers".into());
    // Its repository is ssh://: both agents read the Secret's key and
    // known_hosts from its mount.
    for (flag, file) in [("--ssh-key", "ssh-privatekey"), ("--known-hosts", "known_hosts")] {
        assert!(
            linux_args.contains(&format!("{flag}=/etc/netc-ssh/{file}")),
            "{linux_args:?}"
        );
        let joined = format!("('{flag}=' + (Join-Path $env:CONTAINER_SANDBOX_MOUNT_POINT 'etc\\netc-ssh\\{file}'))");
        assert!(windows[start..end].contains(&joined), "{}", &windows[start..end]);
        windows_args.push(format!("{flag}=C:\\C\\0123456789abcdef\\etc\\netc-ssh\\{file}"));
    }
    for args in [linux_args, windows_args] {
        assert_eq!(args[0], "agent");
        assert!(args.len() >= 6, "{args:?}");
        let mut command = if is_root() {
            let mut command = Command::new("setpriv");
            command.args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                env!("CARGO_BIN_EXE_netc"),
            ]);
            command
        } else {
            Command::new(env!("CARGO_BIN_EXE_netc"))
        };
        let output = command.args(&args).arg("--once").output().unwrap();
        let stderr = stderr(&output);
        assert!(
            stderr.contains("must run as root"),
            "netc rejected the DaemonSet's arguments {args:?}:\n{stderr}"
        );
    }
}

/// `netc --help` gives every command its own one-line summary.
#[test]
fn every_command_has_its_own_summary() {
    let help = stdout(&netc(&["--help"]));
    let commands: Vec<(&str, &str)> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.trim().split_once(char::is_whitespace))
        .map(|(name, summary)| (name, summary.trim()))
        .collect();
    assert!(commands.len() >= 12, "{help}");
    for (name, summary) in &commands {
        assert!(!summary.is_empty(), "`{name}` has no summary:\n{help}");
    }
    let summary = |name: &str| commands.iter().find(|(n, _)| *n == name).unwrap().1;
    assert!(summary("plan").contains("apply"), "{help}");
    assert!(summary("graph").starts_with("Draw"), "{help}");
}

/// Input that is not a topology at all is bounded: a file over the input
/// limit is refused before it is read (exit 2, with the limit and the flag
/// that raises it), and a file with thousands of errors prints the first
/// `--error-limit` (100 by default) and counts the rest.
#[test]
fn hostile_input_is_bounded_by_the_input_size_and_error_limits() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.netc");
    std::fs::write(&huge, "garbage\n".repeat((9 << 20) / 8)).unwrap();
    let refused = netc(&["check", huge.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    let message = stderr(&refused);
    assert!(message.contains("larger than netc's input limit of 8 MiB"), "{message}");
    assert!(message.contains("--max-input-size"), "{message}");
    // Raised, it is read (and is not a topology).
    let read = netc(&["check", "--max-input-size", "16MiB", huge.to_str().unwrap()]);
    assert_eq!(read.status.code(), Some(1), "{}", stderr(&read));
    for bad in ["0", "12XB", "lots"] {
        let usage = netc(&["check", "--max-input-size", bad, huge.to_str().unwrap()]);
        assert_eq!(usage.status.code(), Some(2), "--max-input-size {bad}");
    }

    let noisy = dir.path().join("noisy.netc");
    std::fs::write(&noisy, "garbage\n".repeat(500)).unwrap();
    let limited = netc(&["check", noisy.to_str().unwrap()]);
    let report = String::from_utf8_lossy(&limited.stdout).to_string();
    assert_eq!(report.matches("error[").count(), 100);
    // 500 settings outside a block, and no cluster at all.
    assert!(report.contains("... and 401 more not shown"), "{report}");
    assert!(
        report
            .trim_end()
            .ends_with(&format!("error: 501 errors in {}", noisy.display())),
        "{report}"
    );
    let all = netc(&["check", "--error-limit", "0", noisy.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&all.stdout).matches("error[").count(), 501);
    let json = netc(&[
        "check",
        "--format",
        "json",
        "--error-limit",
        "10",
        noisy.to_str().unwrap(),
    ]);
    assert_eq!(String::from_utf8_lossy(&json.stdout).lines().count(), 10);
    assert!(stderr(&json).contains("491 more diagnostics"), "{}", stderr(&json));
}
