//! `netc deploy DIR`: server-side apply the manifests of a `netc compile`
//! output (`DIR/manifests/*.yaml`) with field manager `netc`, then prune
//! the netc-labelled objects they no longer contain
//! (`netc_runtime::cluster::deploy`).

use std::path::PathBuf;

use clap::Args;
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

pub fn run(args: &DeployArgs) -> Outcome {
    let documents = match read_manifests(&args.dir) {
        Ok(documents) => documents,
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
    let result = runtime.block_on(async {
        let client = cluster::client(args.kubeconfig.as_deref()).await?;
        cluster::deploy(&client, &documents, !args.no_prune).await
    });
    match result {
        Ok(deployed) => {
            for object in &deployed.applied {
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
