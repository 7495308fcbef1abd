//! The `netc` command line. A thin layer: parse arguments, read files, call
//! the pure compiler, print reports, set the exit code.
//!
//! Exit codes: 0 clean (or warnings only), 1 the topology has errors (or,
//! with `fmt --check`, is not formatted), 2 usage or I/O errors.

mod commands;
mod report;

use netc_node::files;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// netc compiles a small topology language into everything a mixed
/// Linux/Windows Flannel cluster needs, and checks it against the interop
/// rules that break real clusters.
#[derive(Parser)]
#[command(name = "netc", version, propagate_version = true)]
#[command(after_help = "\
Examples:
  netc check examples/vxlan-mixed.netc
  netc compile examples/vxlan-mixed.netc -o out/  # manifests, CNI configs, host programs
  netc compile --locked topology.netc -o out/     # CI: fail if pod subnets would change
  netc check --format github topology.netc      # annotations in a GitHub Actions log
  netc fmt --check examples/*.netc              # CI: fail on unformatted files
  netc explain N0301                            # why a rule exists and how to fix it
  netc graph examples/tor-routed.netc           # Mermaid picture; --format dot for Graphviz
  netc plan --node node-1 --from out/           # what apply would change on this node
  sudo netc apply --node node-1 --from out/     # make this node match its program
  netc diff --base origin/main --format markdown  # pull request preview of HEAD's change
  sudo netc agent --repo https://git.example/net.git --path cluster.netc --node node-1
  netc status                                   # what the agent applied, attempted, held
  netc deploy out/                              # server-side apply the manifests, prune old ones
  netc adopt topology.netc                      # take the cluster's pod CIDRs into the lock file

Exit codes: 0 clean or warnings only, 1 errors in the topology, 2 usage or I/O errors
(`netc diff`: 0 no change, 1 error, 2 changes).")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print at most this many diagnostics per file (0: all); the summary
    /// still counts every one.
    #[arg(long, global = true, value_name = "N", default_value_t = report::DEFAULT_ERROR_LIMIT)]
    error_limit: usize,
    /// Refuse a topology or lock file larger than this, before reading it
    /// (bytes, or with a KiB, MiB or GiB suffix).
    #[arg(long, global = true, value_name = "SIZE", default_value = "8MiB", value_parser = parse_size)]
    max_input_size: u64,
}

/// `8MiB`, `512KiB`, `1GiB` or a number of bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        other => {
            return Err(format!(
                "unknown unit `{other}`: use bytes, KiB, MiB or GiB, as in `16MiB`"
            ))
        }
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: write a number of bytes, or one with KiB, MiB or GiB"))?;
    number
        .checked_mul(1 << shift)
        .filter(|&bytes| bytes > 0)
        .ok_or_else(|| format!("`{text}` is not a usable size (zero, or too large)"))
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check topologies; report every problem at once.
    Check {
        /// `.netc` files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<std::path::PathBuf>,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Treat warnings as errors (exit 1 when there are any).
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Check a topology and write everything the cluster needs into DIR.
    ///
    /// DIR is replaced as a whole, atomically, and only when the topology has
    /// no errors. Pod subnets are recorded in FILE.lock (created on the first
    /// compile; commit it) so that adding a node never moves another.
    Compile {
        /// The `.netc` topology.
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
        /// The output directory (replaced; must be empty, absent, or an
        /// earlier netc output).
        #[arg(short, long, value_name = "DIR")]
        output: std::path::PathBuf,
        /// Fail instead of changing the lock file (for CI).
        #[arg(long)]
        locked: bool,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Rewrite files in netc's one canonical layout (comments are kept).
    Fmt {
        /// `.netc` files to format; `-` reads standard input and writes the
        /// result to standard output.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<std::path::PathBuf>,
        /// Write nothing; list the files that are not formatted and exit 1
        /// if there are any.
        #[arg(long)]
        check: bool,
    },
    /// Explain a diagnostic code: what it means, why, and how to fix it.
    Explain {
        /// A code such as `N0301` (or its name, such as `windows-vxlan-vni`).
        code: String,
    },
    /// List every rule and diagnostic code with its severity and summary.
    Rules,
    /// Show what `apply` would change on this node (changes nothing).
    ///
    /// Compares the node's program (from FILE, compiled in memory, or from a
    /// `netc compile` output directory) with the live state of the network
    /// namespace and the files under --root, and the inventory in
    /// --state-dir. Prints one line per step with its disruption class and
    /// reason, then a summary. Exit 0 (also with changes), 1 on conflicts.
    Plan(commands::apply::Target),
    /// Make this node match its program (root only).
    ///
    /// Plans as `netc plan` does, then applies the steps in order. On the
    /// first failure the steps of this run are undone where possible and
    /// the exit code is 1; on success the host is observed again, must match,
    /// and the inventory and program are written to --state-dir.
    Apply(commands::apply::Target),
    /// Preview what a change does: compile two git revisions and compare.
    ///
    /// Reads the topology (and its lock file) at --base and --head straight
    /// from git objects: no checkout, works in a bare clone. Prints head's
    /// errors first, then a summary (nodes, routes, files, per node), the
    /// disruption each change causes (downtime, connectivity-risk, recreate,
    /// flap, hitless) and a unified diff of every artifact that differs.
    /// `--format markdown` fits a GitHub comment (65,536 characters).
    ///
    /// Exit codes: 0 no change, 1 error (head does not compile, unknown
    /// revision or path), 2 changes.
    Diff(commands::diff::DiffArgs),
    /// Follow a git branch and keep this node at its latest good commit.
    ///
    /// Every --interval (with jitter): fetch; a new commit is applied unless
    /// it does not compile, does not descend from the last applied one
    /// (anti-rollback), is not signed by an allowed key (when keys are
    /// given), or needs cluster downtime without --allow-disruption or a
    /// `Netc-Allow-Disruption: yes` trailer. In between, drift is corrected
    /// from the last good program. Status in --state-dir (`netc status`),
    /// /metrics and /healthz on --listen. Root only.
    Agent(commands::agent::AgentArgs),
    /// Print the agent's status: last applied and attempted revisions, the
    /// last five applies, the last error and the inventory size.
    Status(commands::agent::StatusArgs),
    /// Server-side apply a compiled output's manifests to the cluster.
    ///
    /// Every object of DIR/manifests/*.yaml is applied with field manager
    /// `netc` and labelled app.kubernetes.io/managed-by=netc; then objects
    /// with that label that the manifests no longer contain are deleted
    /// (namespaces last), unless --no-prune.
    Deploy(commands::deploy::DeployArgs),
    /// Take an existing cluster's pod CIDRs into the topology's lock file.
    ///
    /// For a cluster whose kube-controller-manager allocated the Nodes' pod
    /// CIDRs: every registered Node the topology names gets its cluster pod
    /// CIDRs in FILE.lock, if the topology can keep them (nothing is written
    /// otherwise). From then on netc owns them: commit the lock file and run
    /// kube-controller-manager with --allocate-node-cidrs=false.
    Adopt(commands::adopt::AdoptArgs),
    /// Draw the topology: segments, nodes, pod subnets and ToR routes.
    ///
    /// Prints a Mermaid flowchart (for a README or a pull request; GitHub
    /// renders ```mermaid blocks) or Graphviz DOT to standard output. Pod
    /// subnets are those of FILE.lock when it exists. A topology with errors
    /// is not drawn: its diagnostics go to standard error and the exit code
    /// is 1.
    Graph {
        /// The `.netc` topology.
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
        /// The picture format.
        #[arg(long, value_enum, default_value_t = commands::graph::GraphFormat::Mermaid)]
        format: commands::graph::GraphFormat,
    },
}

/// The diagnostic output formats.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// rustc-like text with the source line and a caret.
    Human,
    /// One JSON object per line and diagnostic.
    Json,
    /// GitHub Actions workflow commands (`::error file=...`).
    Github,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    report::set_error_limit(cli.error_limit);
    files::set_max_input(cli.max_input_size);
    let outcome = match cli.command {
        Command::Check {
            files,
            format,
            deny_warnings,
        } => commands::check::run(&files, format, deny_warnings),
        Command::Compile {
            file,
            output,
            locked,
            format,
        } => commands::compile::run(&file, &output, locked, format),
        Command::Fmt { files, check } => commands::fmt::run(&files, check),
        Command::Explain { code } => commands::explain::explain(&code),
        Command::Rules => commands::explain::rules(),
        Command::Plan(target) => commands::apply::plan(&target),
        Command::Apply(target) => commands::apply::apply(&target),
        Command::Diff(args) => commands::diff::run(&args),
        Command::Agent(args) => commands::agent::agent(&args),
        Command::Status(args) => commands::agent::status(&args),
        Command::Deploy(args) => commands::deploy::run(&args),
        Command::Adopt(args) => commands::adopt::run(&args),
        Command::Graph { file, format } => commands::graph::run(&file, format),
    };
    ExitCode::from(outcome.code())
}

/// What a command tells the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// 0: nothing to report (warnings at most).
    Clean,
    /// 1: the input has errors, or an apply or diff failed.
    Problems,
    /// 2: usage or I/O errors.
    Failure,
    /// 2 as well, for `netc diff`: the revisions differ.
    Changes,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Clean => 0,
            Outcome::Problems => 1,
            Outcome::Failure | Outcome::Changes => 2,
        }
    }
}
