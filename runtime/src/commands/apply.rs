//! `netc plan` and `netc apply`: make one Linux node match its program.
//!
//! Both take the node's `program.json` and the peer table either from a
//! topology (compiled in memory, with the lock file beside it, as `netc
//! compile` does; nothing is written) or from a compiled output directory
//! (`--from DIR`). Then: desired objects (`engine::desired`), the live
//! state of exactly those keys plus the inventory's (netlink driver and
//! host driver, in `--netns NS` or the current namespace; files under
//! `--root`), and the plan (`engine::plan`).
//!
//! `plan` prints the plan and changes nothing. `apply` refuses to run
//! without root (effective uid 0), then runs the apply transaction of
//! `netc_node::transaction` (refuse conflicts and missing CNI plugins, journal,
//! steps, undo on failure, verify, commit) and prints its outcome. Windows
//! nodes are planned by `commands::windows`; `apply` refuses them.
//!
//! Exit codes: 0 success (`plan` also with changes), 1 the topology has
//! errors, the plan has conflicts, or an apply failed or left drift, 2 usage,
//! I/O or privilege errors.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use netc_compiler::emit::program::bundle::CompiledNode;
use netc_compiler::emit::program::types::ProgramOs;
use netc_compiler::model::Lock;
use netc_node::state;
use netc_node::transaction;
#[cfg(target_os = "linux")]
use netc_node::transaction::{Failure, Session};
#[cfg(target_os = "linux")]
use netc_plan::engine::Plan;

use crate::commands::compile::read_lock;
use crate::{files, report, Format, Outcome};

/// The output formats of `plan` and `apply`.
#[derive(Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    /// One line per step, then a summary.
    Human,
    /// The plan as one JSON object (`steps`, `conflicts`).
    Json,
    /// Windows nodes: the PowerShell script that applies the plan.
    Powershell,
    /// Windows nodes: the PowerShell script that prints the node's state
    /// as the JSON `--observed` reads.
    ObserveScript,
}

#[derive(Args)]
pub struct Target {
    /// The node to plan for, as named in the topology.
    #[arg(long, value_name = "NAME")]
    node: String,
    /// The `.netc` topology (compiled in memory with FILE.lock).
    #[arg(
        value_name = "FILE",
        required_unless_present_any = ["from", "last_good"],
        conflicts_with_all = ["from", "last_good"]
    )]
    file: Option<PathBuf>,
    /// A directory written by `netc compile` instead of a topology.
    #[arg(long, value_name = "DIR", conflicts_with = "last_good")]
    from: Option<PathBuf>,
    /// The last program applied successfully on this host (kept in the
    /// state directory, with its peer table): roll back to it.
    #[arg(long)]
    last_good: bool,
    /// The network namespace (`/run/netns/NS`) to plan for; default: the
    /// current one.
    #[arg(long, value_name = "NS")]
    netns: Option<String>,
    /// The prefix under which the program's files live.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Where netc keeps its inventory and the last applied program.
    #[arg(long, value_name = "DIR", default_value = state::DEFAULT_DIR)]
    pub state_dir: PathBuf,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// Windows nodes: the node's state, as printed by the script of
    /// `--format observe-script` (default: an empty host).
    #[arg(long, value_name = "FILE")]
    pub observed: Option<PathBuf>,
}

#[cfg(target_os = "linux")]
impl Target {
    fn node_target(&self) -> transaction::Target {
        transaction::Target {
            node: self.node.clone(),
            netns: self.netns.clone(),
            root: self.root.clone(),
            state_dir: self.state_dir.clone(),
        }
    }
}

pub fn plan(target: &Target) -> Outcome {
    let loaded = match load(target) {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    if loaded.program.os == ProgramOs::Windows {
        return super::windows::plan(target, &loaded.program);
    }
    plan_linux(target, loaded)
}

#[cfg(not(target_os = "linux"))]
fn plan_linux(target: &Target, _loaded: CompiledNode) -> Outcome {
    fail(format!(
        "node {} runs Linux: netc plans Linux nodes only on Linux",
        target.node
    ))
}

#[cfg(not(target_os = "linux"))]
fn apply_linux(target: &Target, _loaded: CompiledNode) -> Outcome {
    fail(format!(
        "node {} runs Linux: netc applies Linux nodes only on Linux",
        target.node
    ))
}

#[cfg(target_os = "linux")]
fn plan_linux(target: &Target, loaded: CompiledNode) -> Outcome {
    let session = match Session::new(&target.node_target(), std::sync::Arc::new(loaded)) {
        Ok(session) => session,
        Err(message) => return fail(message),
    };
    let plan = match session.plan() {
        Ok(plan) => plan,
        Err(message) => return fail(message),
    };
    print_plan(&plan, target.format);
    report_missing_plugins(session.missing_plugins());
    if let Some(problem) = session.inventory_problem() {
        eprintln!("warning: {problem}");
    }
    for problem in session.interface_problems() {
        eprintln!("error: {problem}");
    }
    if plan.conflicts.is_empty() && session.missing_plugins().is_empty() && session.interface_problems().is_empty() {
        Outcome::Clean
    } else {
        Outcome::Problems
    }
}

pub fn apply(target: &Target) -> Outcome {
    // Privileges first: without them nothing is read or changed, whatever
    // the program.
    #[cfg(target_os = "linux")]
    {
        let euid = nix::unistd::geteuid();
        if !euid.is_root() {
            return fail(format!(
                "`netc apply` changes network devices, routes, sysctls and files, so it must run as root (effective uid is {euid}); nothing was changed"
            ));
        }
    }
    let loaded = match load(target) {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    if loaded.program.os == ProgramOs::Windows {
        return fail(format!(
            "node {} runs Windows, and netc does not execute the Windows driver: run `netc plan --node {} --format powershell` and the script it prints on the node",
            target.node, target.node
        ));
    }
    apply_linux(target, loaded)
}

#[cfg(target_os = "linux")]
fn apply_linux(target: &Target, loaded: CompiledNode) -> Outcome {
    let session = match Session::new(&target.node_target(), std::sync::Arc::new(loaded)) {
        Ok(session) => session,
        Err(message) => return fail(message),
    };
    let observed = match session.observe() {
        Ok(observed) => observed,
        Err(message) => return fail(message),
    };
    let plan = session.plan_from(&observed);
    print_plan(&plan, target.format);
    match session.apply(&observed, &plan) {
        Ok(applied) => {
            let summary = transaction::summary(&applied.plan, ["created", "updated", "recreated", "deleted"]);
            let writes = applied.writes;
            match target.format {
                PlanFormat::Json => eprintln!("applied: {summary} ({writes} netlink writes)"),
                _ => println!("Applied: {summary} ({writes} netlink writes)."),
            }
            Outcome::Clean
        }
        Err(failure) => {
            if let Failure::MissingPlugins(missing) = &failure {
                report_missing_plugins(missing);
            }
            eprintln!("error: {failure}");
            match &failure {
                Failure::Step { notes, .. } => {
                    for note in notes {
                        eprintln!("  {note}");
                    }
                }
                Failure::Drift(remaining) => eprint!("{remaining}"),
                _ => {}
            }
            match failure {
                Failure::Before(_) | Failure::Commit(_) => Outcome::Failure,
                _ => Outcome::Problems,
            }
        }
    }
}

fn fail(message: impl std::fmt::Display) -> Outcome {
    eprintln!("error: {message}");
    Outcome::Failure
}

/// Print the CNI plugin binaries the program needs but this host lacks.
#[cfg(target_os = "linux")]
fn report_missing_plugins(missing: &[String]) {
    for plugin in missing {
        eprintln!("error: CNI plugin `{plugin}` is missing: the node's CNI configuration calls it, and pods cannot start without it (install Debian's containernetworking-plugins or the CNI release into that directory)");
    }
}

/// Linux plans: `Human` or `Json` (`load` refuses the Windows formats).
#[cfg(target_os = "linux")]
fn print_plan(plan: &Plan, format: PlanFormat) {
    match format {
        PlanFormat::Json => match serde_json::to_string_pretty(plan) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("error: {e}"),
        },
        _ => {
            print!("{plan}");
            println!(
                "Plan: {}.",
                transaction::summary(plan, ["to create", "to update", "to recreate", "to delete"])
            );
        }
    }
}

fn load(target: &Target) -> Result<CompiledNode, Outcome> {
    let node = match (&target.file, &target.from) {
        _ if target.last_good => match state::read_last_good(&target.state_dir).map_err(fail)? {
            Some(node) => node.for_node(&target.node).map_err(fail)?,
            None => {
                return Err(fail(format!(
                    "`{}` has no last good program: nothing was ever applied successfully with this state directory",
                    state::last_good_path(&target.state_dir).display()
                )))
            }
        },
        (Some(file), _) => compiled(file, &target.node)?,
        (None, Some(dir)) => transaction::read_compiled(dir, &target.node).map_err(fail)?,
        (None, None) => return Err(fail("give a topology FILE or --from DIR")),
    };
    let linux_only = matches!(node.program.os, ProgramOs::Linux)
        && matches!(target.format, PlanFormat::Powershell | PlanFormat::ObserveScript);
    if linux_only {
        return Err(fail(format!(
            "node {} runs Linux: --format powershell and observe-script are for Windows nodes",
            target.node
        )));
    }
    Ok(node)
}

/// Compile `file` in memory: the node's program and the peer table.
fn compiled(file: &Path, node: &str) -> Result<CompiledNode, Outcome> {
    let source = files::read_source(file).map_err(|message| {
        eprintln!("error: {message}");
        Outcome::Failure
    })?;
    let lock = read_lock(file, Format::Human)?;
    let compilation = netc_compiler::compile(&source, lock.as_ref().unwrap_or(&Lock::default()));
    eprint!("{}", report::format(&source, &compilation.diagnostics, Format::Human));
    let Some(artifacts) = compilation.artifacts else {
        eprintln!("error: `{}` has errors", source.name());
        return Err(Outcome::Problems);
    };
    match CompiledNode::from_files(&artifacts.files, node) {
        Ok(Some(compiled)) => Ok(compiled),
        Ok(None) => {
            eprintln!("error: `{}` has no node `{node}`", source.name());
            Err(Outcome::Failure)
        }
        Err(message) => {
            eprintln!("error: {message}");
            Err(Outcome::Failure)
        }
    }
}
