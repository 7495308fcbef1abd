//! `netc adopt FILE`: take an existing cluster's pod CIDRs into the lock
//! file, so that netc owns them from then on.
//!
//! For a cluster whose kube-controller-manager allocated the Nodes' pod
//! CIDRs (`--allocate-node-cidrs`) before netc managed it: every registered
//! Node that the topology names and that has pod CIDRs gets exactly those in
//! `FILE.lock`; other lock lines stay. The new lock file is written only if
//! the topology compiles with it and keeps every adopted subnet (a subnet
//! outside the pod network, of another size or taken by a pin is reported,
//! and nothing is written). Then `netc compile` emits `subnet.env`, the
//! Windows source VIPs and the ToR routes with the cluster's subnets, and
//! `netc deploy` finds nothing to disagree with.

use std::path::PathBuf;

use clap::Args;
use netc_node::files;
use netc_runtime::cluster;

use crate::commands::compile::{lock_path, read_lock};
use crate::{report, Format, Outcome};

#[derive(Args)]
pub struct AdoptArgs {
    /// The topology (`.netc`, YAML or JSON); its lock file is FILE.lock.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The kubeconfig to use; default: $KUBECONFIG, ~/.kube/config, or the
    /// in-cluster service account.
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
}

pub fn run(args: &AdoptArgs) -> Outcome {
    let source = match files::read_source(&args.file) {
        Ok(source) => source,
        Err(message) => {
            eprintln!("error: {message}");
            return Outcome::Failure;
        }
    };
    let previous = match read_lock(&args.file, Format::Human) {
        Ok(lock) => lock.unwrap_or_default(),
        Err(outcome) => return outcome,
    };
    let analysis = netc_compiler::analyze_with_lock(&source, &previous);
    let Some(topology) = analysis.topology.as_ref().filter(|_| !analysis.has_errors()) else {
        print!("{}", report::format(&source, &analysis.diagnostics, Format::Human));
        eprintln!("error: `{}` has errors; fix them before adopting", source.name());
        return Outcome::Problems;
    };
    let names: std::collections::BTreeSet<&String> = topology.nodes.iter().map(|n| &n.name.value).collect();

    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Outcome::Failure;
        }
    };
    let registered = runtime.block_on(async {
        let client = cluster::client(args.kubeconfig.as_deref()).await?;
        cluster::registered_pod_cidrs(&client).await
    });
    // Registered Nodes the topology names and that have pod CIDRs; nodes
    // that have not registered yet keep their lock lines.
    let found: Vec<(String, Vec<String>)> = match registered {
        Ok(registered) => registered
            .into_iter()
            .filter(|(name, cidrs)| names.contains(name) && !cidrs.is_empty())
            .collect(),
        Err(message) => {
            eprintln!("error: {message}");
            return Outcome::Problems;
        }
    };

    let mut lock = previous.clone();
    for (name, cidrs) in &found {
        let parsed: Result<Vec<ipnet::IpNet>, _> = cidrs.iter().map(|c| c.parse()).collect();
        match parsed {
            Ok(subnets) => {
                lock.nodes.insert(name.clone(), subnets);
            }
            Err(e) => {
                eprintln!(
                    "error: node {name} has pod CIDRs {} that are not prefixes: {e}",
                    cidrs.join(", ")
                );
                return Outcome::Problems;
            }
        }
    }
    // The topology must compile with the adopted lock and keep every
    // adopted subnet; otherwise the lock file would not say what the
    // cluster does.
    let compilation = netc_compiler::compile(&source, &lock);
    print!("{}", report::format(&source, &compilation.diagnostics, Format::Human));
    let Some(kept) = compilation.lock else {
        eprintln!(
            "error: `{}` does not compile with the cluster's pod CIDRs; nothing was written",
            source.name()
        );
        return Outcome::Problems;
    };
    let mut refused = 0;
    for (name, _) in &found {
        if kept.nodes.get(name) != lock.nodes.get(name) {
            refused += 1;
            let wanted: Vec<String> = lock.nodes[name].iter().map(ToString::to_string).collect();
            let got: Vec<String> = kept
                .nodes
                .get(name)
                .into_iter()
                .flatten()
                .map(ToString::to_string)
                .collect();
            eprintln!(
                "error: node {name} has pod CIDRs {} in the cluster, which the topology cannot keep (it allocates {}): a subnet outside the pod network, of another size than node-subnet-len, or pinned to another node\n  = help: change the topology (pod-network, node-subnet-len, pod-subnet pins) so that it holds the cluster's subnets, or re-register the Node",
                wanted.join(", "),
                got.join(", ")
            );
        }
    }
    if refused > 0 {
        eprintln!("error: nothing was written");
        return Outcome::Problems;
    }
    if kept == previous {
        println!(
            "{} already holds the cluster's pod CIDRs.",
            lock_path(&args.file).display()
        );
        return Outcome::Clean;
    }
    if let Err(message) = files::write_atomic(&lock_path(&args.file), kept.render().as_bytes()) {
        eprintln!("error: {message}");
        return Outcome::Failure;
    }
    for (name, cidrs) in &found {
        println!("adopted {name} {}", cidrs.join(" "));
    }
    println!(
        "updated {}: {} node(s) adopted from the cluster; commit it, and run kube-controller-manager with --allocate-node-cidrs=false from now on",
        lock_path(&args.file).display(),
        found.len()
    );
    Outcome::Clean
}
