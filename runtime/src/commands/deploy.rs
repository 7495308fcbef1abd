//! `netc deploy DIR`: server-side apply the manifests of a `netc compile`
//! output (`DIR/manifests/*.yaml`) with field manager `netc`, then prune
//! the netc-labelled objects they no longer contain
//! (`netc_runtime::cluster::deploy`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use netc_compiler::emit::program::types::PeerTable;
use netc_runtime::cluster;
use serde_json::Value;

use crate::Outcome;

#[derive(Args)]
pub struct DeployArgs {
    /// A directory written by `netc compile`.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// The kubeconfig to use; default: $KUBECONFIG, ~/.kube/config, or the
    /// in-cluster service account.
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Apply only; leave objects netc applied before and no longer emits.
    #[arg(long)]
    no_prune: bool,
    /// Ask the API server what the deploy would do (server-side dry run:
    /// admission and validation run, nothing is written) and print what
    /// would be created, changed and pruned.
    #[arg(long)]
    dry_run: bool,
}

/// The compiled nodes (address and pod subnets) by name, from
/// `DIR/peers.json`; empty when the output has no peer table.
fn compiled_nodes(dir: &std::path::Path) -> Result<BTreeMap<String, cluster::CompiledNode>, String> {
    let path = dir.join("peers.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
    };
    let table: PeerTable = serde_json::from_str(&text).map_err(|e| format!("`{}`: {e}", path.display()))?;
    let nodes = table
        .nodes
        .into_iter()
        .filter(|peer| !peer.subnets.is_empty())
        .map(|peer| {
            let node = cluster::CompiledNode {
                address: peer.address,
                subnets: peer.subnets,
            };
            (peer.name, node)
        })
        .collect();
    Ok(nodes)
}

/// Every document of every `DIR/manifests/*.yaml`, in file name order.
fn read_manifests(dir: &std::path::Path) -> Result<Vec<Value>, String> {
    let manifests = dir.join("manifests");
    if !dir.join("index.json").is_file() {
        return Err(format!(
            "`{}` is not a `netc compile` output directory (no index.json)",
            dir.display()
        ));
    }
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&manifests) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect(),
        // A topology without manifests (e.g. static dataplane, no agent
        // block): nothing to apply, everything netc applied before goes.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("cannot read `{}`: {e}", manifests.display())),
    };
    files.sort();
    let mut documents = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
        let parsed = netc_compiler::yaml::read_documents(&text)
            .map_err(|e| format!("{}:{}:{}: {}", file.display(), e.line, e.column, e.message))?;
        documents.extend(parsed);
    }
    Ok(documents)
}

/// One line per object (`+` create, `~` change, `=` unchanged, `-` prune),
/// then a summary.
fn print_dry_run(deployed: &cluster::Deployed) {
    let mut counts = [0usize; 3];
    for applied in &deployed.applied {
        let (sign, index) = match applied.change {
            Some(cluster::Change::Create) => ('+', 0),
            Some(cluster::Change::Change) => ('~', 1),
            Some(cluster::Change::Unchanged) | None => ('=', 2),
        };
        counts[index] += 1;
        println!("{sign} {}", applied.object);
    }
    for object in &deployed.pruned {
        println!("- {object}");
    }
    println!(
        "Dry run: {} to create, {} to change, {} unchanged, {} to prune; nothing was written.",
        counts[0],
        counts[1],
        counts[2],
        deployed.pruned.len()
    );
}

pub fn run(args: &DeployArgs) -> Outcome {
    let read = read_manifests(&args.dir).and_then(|d| Ok((d, compiled_nodes(&args.dir)?)));
    let (documents, subnets) = match read {
        Ok(read) => read,
        Err(message) => {
            eprintln!("error: {message}");
            return Outcome::Failure;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Outcome::Failure;
        }
    };
    type Done = (cluster::Deployed, Vec<(String, Vec<String>)>);
    let result: Result<Result<Done, Vec<String>>, String> = runtime.block_on(async {
        let client = cluster::client(args.kubeconfig.as_deref()).await?;
        // Pod CIDRs first: a Node that disagrees with the lock file stops
        // the deploy before anything is written.
        let cidrs = cluster::plan_pod_cidrs(&client, &subnets).await?;
        if !cidrs.conflicts.is_empty() {
            return Ok(Err(cidrs.conflicts));
        }
        let deployed = cluster::deploy(&client, &documents, !args.no_prune, args.dry_run).await?;
        cluster::assign_pod_cidrs(&client, &cidrs.assign, args.dry_run).await?;
        Ok(Ok((deployed, cidrs.assign)))
    });
    match result {
        Ok(Err(conflicts)) => {
            for conflict in &conflicts {
                eprintln!("error: {conflict}");
            }
            eprintln!(
                "error: {} problem(s) with registered Nodes (pod subnets, addresses); nothing was deployed",
                conflicts.len()
            );
            Outcome::Problems
        }
        Ok(Ok((deployed, assigned))) if args.dry_run => {
            print_dry_run(&deployed);
            for (node, subnets) in &assigned {
                println!("+ podCIDRs of Node {node}: {}", subnets.join(", "));
            }
            Outcome::Clean
        }
        Ok(Ok((deployed, assigned))) => {
            for (node, subnets) in &assigned {
                println!("assigned Node {node} pod CIDRs {}", subnets.join(", "));
            }
            for object in deployed.objects() {
                println!("applied {object}");
            }
            for object in &deployed.pruned {
                println!("pruned  {object}");
            }
            println!(
                "Deployed: {} applied, {} pruned.",
                deployed.applied.len(),
                deployed.pruned.len()
            );
            Outcome::Clean
        }
        Err(message) => {
            eprintln!("error: {message}");
            Outcome::Problems
        }
    }
}
