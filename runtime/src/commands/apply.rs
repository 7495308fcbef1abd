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
//! without root (effective uid 0) or with conflicts, applies the steps in
//! order, and on the first failure undoes the steps this run applied, in
//! reverse (a create is deleted, an update, recreate or delete is undone
//! with the observed object; modules and sysctls created are left), then
//! exits 1 with the old inventory kept. On success it observes again and
//! requires an empty plan (a `best_effort` sysctl whose key does not exist
//! is tolerated), and only then writes the new inventory and the program to
//! the state directory.
//!
//! Exit codes: 0 success (`plan` also with changes), 1 the topology has
//! errors, the plan has conflicts, or an apply failed or left drift, 2 usage,
//! I/O or privilege errors.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use netc_compiler::emit::program::types::{PeerTable, Program, ProgramOs};
use netc_compiler::model::Lock;
use netc_runtime::driver::linux::host::Host;
use netc_runtime::driver::linux::netlink::Netlink;
use netc_runtime::engine::{self, Action, Inventory, Object, ObjectKey, Observed, Plan, Step};
use netc_runtime::state;

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

/// Everything a run needs.
struct Prepared {
    program: Vec<u8>,
    peers: Vec<u8>,
    missing_plugins: Vec<String>,
    desired: Vec<Object>,
    owned: Inventory,
    netlink: Netlink,
    host: Host,
}

impl Prepared {
    fn keys(&self) -> BTreeSet<ObjectKey> {
        self.desired
            .iter()
            .map(Object::key)
            .chain(self.owned.iter().cloned())
            .collect()
    }

    fn observe(&self) -> Result<Observed, String> {
        let keys = self.keys();
        let mut observed = self.netlink.observe(&keys).map_err(|e| e.0)?;
        let host = self.host.observe(&keys).map_err(|e| e.0)?;
        observed.0.extend(host.0);
        Ok(observed)
    }

    fn plan(&self) -> Result<Plan, String> {
        Ok(engine::plan(&self.desired, &self.observe()?, &self.owned))
    }

    fn apply(&self, step: &Step) -> Result<(), String> {
        match step.object {
            Object::VxlanLink { .. }
            | Object::Bridge { .. }
            | Object::Address { .. }
            | Object::Route { .. }
            | Object::Neighbour { .. }
            | Object::Fdb { .. } => self.netlink.apply(step).map_err(|e| e.0),
            _ => self.host.apply(step).map_err(|e| e.0),
        }
    }
}

pub fn plan(target: &Target) -> Outcome {
    let loaded = match load(target) {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    if loaded.2.os == ProgramOs::Windows {
        return super::windows::plan(target, &loaded.2);
    }
    let prepared = match prepare(target, loaded) {
        Ok(prepared) => prepared,
        Err(outcome) => return outcome,
    };
    let plan = match prepared.plan() {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("error: {message}");
            return Outcome::Failure;
        }
    };
    print_plan(&plan, target.format);
    report_missing_plugins(&prepared.missing_plugins);
    if plan.conflicts.is_empty() && prepared.missing_plugins.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Problems
    }
}

pub fn apply(target: &Target) -> Outcome {
    let loaded = match load(target) {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    if loaded.2.os == ProgramOs::Windows {
        eprintln!(
            "error: node {} runs Windows, and netc does not execute the Windows driver: run `netc plan --node {} --format powershell` and the script it prints on the node",
            target.node, target.node
        );
        return Outcome::Failure;
    }
    let euid = nix::unistd::geteuid();
    if !euid.is_root() {
        eprintln!(
            "error: `netc apply` changes network devices, routes, sysctls and files, so it must run as root (effective uid is {euid}); nothing was changed"
        );
        return Outcome::Failure;
    }
    let prepared = match prepare(target, loaded) {
        Ok(prepared) => prepared,
        Err(outcome) => return outcome,
    };
    let observed = match prepared.observe() {
        Ok(observed) => observed,
        Err(message) => {
            eprintln!("error: {message}");
            return Outcome::Failure;
        }
    };
    let plan = engine::plan(&prepared.desired, &observed, &prepared.owned);
    print_plan(&plan, target.format);
    if !plan.conflicts.is_empty() {
        eprintln!("error: the plan has conflicts; nothing was changed");
        return Outcome::Problems;
    }
    if !prepared.missing_plugins.is_empty() {
        report_missing_plugins(&prepared.missing_plugins);
        eprintln!("error: CNI plugins are missing; nothing was changed");
        return Outcome::Problems;
    }
    // Write-ahead: whatever this run creates is owned before it exists.
    let created: Inventory = plan
        .steps
        .iter()
        .filter(|step| step.action == Action::Create && !prepared.owned.contains(&step.key))
        .map(|step| step.key.clone())
        .collect();
    if let Err(message) = state::journal(&target.state_dir, &prepared.owned, created.iter().cloned()) {
        eprintln!("error: {message}; nothing was changed");
        return Outcome::Failure;
    }
    for (done, step) in plan.steps.iter().enumerate() {
        if let Err(message) = prepared.apply(step) {
            eprintln!("error: {message}");
            undo(&prepared, &plan.steps[..done], &observed);
            return settle_failed(&prepared, &created, &target.state_dir);
        }
    }
    // Verify: the host must now match the program.
    let remaining = match prepared.plan() {
        Ok(mut remaining) => {
            remaining.steps.retain(|step| !tolerated(step));
            remaining
        }
        Err(message) => {
            eprintln!("error: observing after apply: {message}");
            return Outcome::Problems;
        }
    };
    if !remaining.is_empty() {
        eprintln!("error: the host still differs from the program after apply:");
        eprint!("{remaining}");
        return Outcome::Problems;
    }
    let inventory = engine::plan::next_inventory(&prepared.desired);
    if let Err(message) = state::commit(&target.state_dir, &inventory, &prepared.program, &prepared.peers) {
        eprintln!("error: applied, but {message}");
        return Outcome::Failure;
    }
    let summary = summary(&plan, ["created", "updated", "recreated", "deleted"]);
    let writes = prepared.netlink.writes();
    match target.format {
        PlanFormat::Json => eprintln!("applied: {summary} ({writes} netlink writes)"),
        _ => println!("Applied: {summary} ({writes} netlink writes)."),
    }
    Outcome::Clean
}

/// After a failed apply and its undo: the inventory keeps what it owned
/// before plus whatever this run created that is still there (an undo that
/// failed), so nothing netc made is ever forgotten.
fn settle_failed(prepared: &Prepared, created: &Inventory, state_dir: &Path) -> Outcome {
    let mut inventory = prepared.owned.clone();
    match prepared.observe() {
        Ok(now) => inventory.extend(created.iter().filter(|key| now.get(key).is_some()).cloned()),
        // Cannot tell: keep every key this run may have created.
        Err(_) => inventory.extend(created.iter().cloned()),
    }
    let left = inventory.len() - prepared.owned.len();
    match state::write_inventory(state_dir, &inventory) {
        Ok(()) if left == 0 => eprintln!(
            "apply failed and was undone; the host is as before this run, and the inventory in `{}` as it was",
            state_dir.display()
        ),
        Ok(()) => eprintln!(
            "apply failed; {left} object(s) this run created could not be removed and stay in the inventory in `{}`, so the next apply prunes or keeps them",
            state_dir.display()
        ),
        Err(message) => eprintln!("error: {message}"),
    }
    Outcome::Problems
}

/// Print the CNI plugin binaries the program needs but this host lacks.
fn report_missing_plugins(missing: &[String]) {
    for plugin in missing {
        eprintln!("error: CNI plugin `{plugin}` is missing: the node's CNI configuration calls it, and pods cannot start without it (install Debian's containernetworking-plugins or the CNI release into that directory)");
    }
}
/// After apply, a create of a `best_effort` sysctl means its key does not
/// exist on this host: fine.
fn tolerated(step: &Step) -> bool {
    step.action == Action::Create && matches!(step.object, Object::Sysctl { best_effort: true, .. })
}

/// Undo `applied` in reverse, best effort, reporting what cannot be undone.
fn undo(prepared: &Prepared, applied: &[Step], observed: &Observed) {
    for step in applied.iter().rev() {
        let old = observed.get(&step.key).cloned();
        let reverse = match (step.action, old) {
            (Action::Create, _) if matches!(step.key, ObjectKey::Module(_) | ObjectKey::Sysctl(_)) => None,
            (Action::Create, _) => Some((Action::Delete, step.object.clone())),
            (Action::Update, Some(old)) => Some((Action::Update, old)),
            (Action::Recreate, Some(old)) => Some((Action::Recreate, old)),
            (Action::Delete, Some(old)) => Some((Action::Create, old)),
            _ => None,
        };
        let Some((action, object)) = reverse else {
            eprintln!("  not undone: {}", step.object);
            continue;
        };
        let reverse = Step {
            action,
            key: step.key.clone(),
            object,
            reason: "undo".into(),
            disruption: step.disruption,
        };
        match prepared.apply(&reverse) {
            Ok(()) => eprintln!("  undone: {}", step.object),
            Err(message) => eprintln!("  cannot undo {}: {message}", step.object),
        }
    }
}

/// Linux plans: `Human` or `Json` (`load` refuses the Windows formats).
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
                summary(plan, ["to create", "to update", "to recreate", "to delete"])
            );
        }
    }
}

/// `N to create, N to update, N to recreate, N to delete` (with `words`).
fn summary(plan: &Plan, words: [&str; 4]) -> String {
    let count = |action| plan.steps.iter().filter(|s| s.action == action).count();
    [Action::Create, Action::Update, Action::Recreate, Action::Delete]
        .iter()
        .zip(words)
        .map(|(action, word)| format!("{} {word}", count(*action)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The program (bytes and parsed) and the peer table (bytes).
type Loaded = (Vec<u8>, Vec<u8>, Program);

fn load(target: &Target) -> Result<Loaded, Outcome> {
    let fail = |message: String| {
        eprintln!("error: {message}");
        Outcome::Failure
    };
    let (program, peers) = match (&target.file, &target.from) {
        _ if target.last_good => match state::read_last_good(&target.state_dir).map_err(fail)? {
            Some(pair) => pair,
            None => {
                return Err(fail(format!(
                    "`{}` has no last good program: nothing was ever applied successfully with this state directory",
                    state::last_good_path(&target.state_dir).display()
                )))
            }
        },
        (Some(file), _) => compiled(file, &target.node)?,
        (None, Some(dir)) => {
            let read = |path: PathBuf| fs::read(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()));
            let program = read(dir.join("nodes").join(&target.node).join("program.json")).map_err(fail)?;
            let peers = read(dir.join("peers.json")).map_err(fail)?;
            (program, peers)
        }
        (None, None) => return Err(fail("give a topology FILE or --from DIR".into())),
    };
    let parsed: Program =
        serde_json::from_slice(&program).map_err(|e| fail(format!("program.json of node {}: {e}", target.node)))?;
    if parsed.node != target.node {
        return Err(fail(format!(
            "the program is node `{}`'s, not `{}`'s",
            parsed.node, target.node
        )));
    }
    let linux_only = matches!(parsed.os, ProgramOs::Linux)
        && matches!(target.format, PlanFormat::Powershell | PlanFormat::ObserveScript);
    if linux_only {
        return Err(fail(format!(
            "node {} runs Linux: --format powershell and observe-script are for Windows nodes",
            target.node
        )));
    }
    Ok((program, peers, parsed))
}

fn prepare(target: &Target, (program, peers, parsed): Loaded) -> Result<Prepared, Outcome> {
    let fail = |message: String| {
        eprintln!("error: {message}");
        Outcome::Failure
    };
    let peer_table: PeerTable = serde_json::from_slice(&peers).map_err(|e| fail(format!("peers.json: {e}")))?;
    let desired = engine::desired(&parsed, &peer_table).map_err(|e| fail(e.0))?;
    let owned = state::read_inventory(&target.state_dir).map_err(fail)?;
    let netlink = Netlink::in_namespace(target.netns.as_deref()).map_err(|e| fail(e.0))?;
    let host = Host::new(&target.root, target.netns.as_deref());
    let missing_plugins = host.missing_cni_plugins(&parsed);
    Ok(Prepared {
        program,
        peers,
        missing_plugins,
        desired,
        owned,
        netlink,
        host,
    })
}

/// Compile `file` in memory: the node's `program.json` and `peers.json`.
fn compiled(file: &Path, node: &str) -> Result<(Vec<u8>, Vec<u8>), Outcome> {
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
    let program = artifacts.files.get(&format!("nodes/{node}/program.json")).cloned();
    let peers = artifacts.files.get("peers.json").cloned();
    match (program, peers) {
        (Some(program), Some(peers)) => Ok((program, peers)),
        _ => {
            eprintln!("error: `{}` has no node `{node}`", source.name());
            Err(Outcome::Failure)
        }
    }
}
