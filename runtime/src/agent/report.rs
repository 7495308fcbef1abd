//! Reporting to the Kubernetes API: the agent's client (connected lazily,
//! retried next round), the Node annotations that say how each round went
//! (written only when they change), and the check of Kubernetes' pod CIDRs
//! against the compiled ones after a new apply.

use tracing::warn;

use super::{Agent, Kubernetes, Round};

/// A Kubernetes client and the runtime its calls run on.
pub(super) struct KubeLink {
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
}

impl Agent {
    /// Report to the API through `client` (tests pass kube-rs's mock).
    pub fn with_client(mut self, client: kube::Client) -> Result<Agent, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        self.kube = Some(KubeLink { runtime, client });
        Ok(self)
    }

    /// Connect to the API as configured, if not connected yet; a failure is
    /// logged and retried next round.
    pub(super) fn connect(&mut self) {
        if self.kube.is_some() {
            return;
        }
        let kubeconfig = match &self.config.kubernetes {
            Kubernetes::Off => return,
            Kubernetes::InCluster if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() => return,
            Kubernetes::InCluster => None,
            Kubernetes::Kubeconfig(path) => Some(path.clone()),
        };
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => return warn!(error = %e, "cannot start the async runtime"),
        };
        match runtime.block_on(crate::cluster::client(kubeconfig.as_deref())) {
            Ok(client) => self.kube = Some(KubeLink { runtime, client }),
            Err(e) => warn!(error = %e, "cannot reach the Kubernetes API; retrying next round"),
        }
    }

    /// Annotate this node with the round's outcome; after a new apply,
    /// compare Kubernetes' pod CIDRs with the compiled ones.
    pub(super) fn report(&mut self, round: Round) {
        self.connect();
        let Some(link) = &self.kube else {
            return;
        };
        let node = self.config.target.node.clone();
        let state = match round {
            Round::Unchanged => "in-sync",
            Round::Applied => "applied",
            Round::DriftCorrected => "drift-corrected",
            Round::NotApplied(result) => result.as_str(),
            Round::Unreachable => "source-unreachable",
            Round::Error => "error",
        };
        let revision = self
            .status
            .last_applied
            .as_ref()
            .map(|a| a.revision.clone())
            .unwrap_or_default();
        let message = match round {
            Round::NotApplied(_) => self.status.last_attempted.as_ref().map(|a| a.message.clone()),
            Round::Unreachable | Round::Error => self.status.last_error.clone(),
            _ => self.status.last_applied.as_ref().map(|a| a.message.clone()),
        }
        .unwrap_or_default();
        let report = [revision, state.to_owned(), message];
        if self.reported.as_ref() != Some(&report) {
            let [revision, state, message] = &report;
            match link.runtime.block_on(crate::cluster::annotate_node(
                &link.client,
                &node,
                revision,
                state,
                message,
            )) {
                Ok(()) => self.reported = Some(report),
                Err(e) => warn!(error = %e, "cannot annotate the node"),
            }
        }
        if round == Round::Applied {
            match link
                .runtime
                .block_on(crate::cluster::node_pod_cidrs(&link.client, &node))
            {
                Ok(assigned) => {
                    let warning = crate::cluster::pod_cidr_mismatch(&node, &assigned, &self.compiled_cidrs);
                    if let Some(warning) = &warning {
                        warn!(%warning, "pod CIDR mismatch");
                    }
                    self.status.pod_cidr_warning = warning;
                }
                Err(e) => warn!(error = %e, "cannot read the node's pod CIDR"),
            }
            self.save();
        }
    }
}
