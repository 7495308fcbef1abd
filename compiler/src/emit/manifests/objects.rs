//! Small builders for the Kubernetes objects the manifests share, on top of
//! k8s-openapi's types so that every field name is checked by the compiler.
//! Each builder adds what netc needs everywhere (the `managed-by` label that
//! `netc deploy` prunes by) and nothing else.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::core::v1::{
    Affinity, ConfigMapVolumeSource, EnvVar, EnvVarSource, HostPathVolumeSource, NodeAffinity, NodeSelector,
    NodeSelectorRequirement, NodeSelectorTerm, ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec,
    Toleration, Volume, VolumeMount, WindowsSecurityContextOptions,
};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

/// The label every object netc generates carries; `netc deploy` prunes
/// objects with it that a new compile no longer produces.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "netc");

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Object metadata with the given labels plus [`MANAGED_BY`].
pub fn meta(name: &str, namespace: Option<&str>, pairs: &[(&str, &str)]) -> ObjectMeta {
    let mut labels = labels(pairs);
    labels.insert(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string());
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

/// A ServiceAccount, labelled like every netc object.
pub fn service_account(name: &str, namespace: &str, pairs: &[(&str, &str)]) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(name, Some(namespace), pairs),
        ..ServiceAccount::default()
    }
}

/// A ClusterRoleBinding `name` of the ClusterRole `role` to the
/// ServiceAccount `namespace/account`.
pub fn cluster_role_binding(
    name: &str,
    role: &str,
    (namespace, account): (&str, &str),
    pairs: &[(&str, &str)],
) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(name, None, pairs),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_string(),
            kind: "ClusterRole".to_string(),
            name: role.to_string(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            name: account.to_string(),
            namespace: Some(namespace.to_string()),
            ..Subject::default()
        }]),
    }
}

/// A DaemonSet whose pods carry `pod_labels` and are selected by `selector`
/// (a subset of them). Pod labels do not get [`MANAGED_BY`]: pods belong to
/// their DaemonSet, and pruning works on the objects netc applies.
pub fn daemon_set(
    meta: ObjectMeta,
    selector: &[(&str, &str)],
    pod_labels: &[(&str, &str)],
    spec: PodSpec,
) -> DaemonSet {
    DaemonSet {
        metadata: meta,
        spec: Some(DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(labels(selector)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(pod_labels)),
                    ..ObjectMeta::default()
                }),
                spec: Some(spec),
            },
            ..DaemonSetSpec::default()
        }),
        ..DaemonSet::default()
    }
}

/// Required node affinity: every `(label, value)` must match (`In [value]`).
pub fn node_affinity(requirements: &[(&str, &str)]) -> Affinity {
    let match_expressions = requirements
        .iter()
        .map(|(key, value)| NodeSelectorRequirement {
            key: key.to_string(),
            operator: "In".to_string(),
            values: Some(vec![value.to_string()]),
        })
        .collect();
    Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(match_expressions),
                    ..NodeSelectorTerm::default()
                }],
            }),
            ..NodeAffinity::default()
        }),
        ..Affinity::default()
    }
}

/// A toleration with `operator: Exists` for `key` and/or `effect`.
pub fn tolerate(key: Option<&str>, effect: Option<&str>) -> Toleration {
    Toleration {
        key: key.map(str::to_string),
        effect: effect.map(str::to_string),
        operator: Some("Exists".to_string()),
        ..Toleration::default()
    }
}

/// An environment variable from the downward API (`metadata.name`,
/// `spec.nodeName`, `status.hostIP`, ...).
pub fn field_env(name: &str, field_path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: field_path.to_string(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

pub fn value_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        ..EnvVar::default()
    }
}

pub fn host_path(name: &str, path: &str, type_: Option<&str>) -> Volume {
    Volume {
        name: name.to_string(),
        host_path: Some(HostPathVolumeSource {
            path: path.to_string(),
            type_: type_.map(str::to_string),
        }),
        ..Volume::default()
    }
}

pub fn config_map_volume(name: &str, config_map: &str) -> Volume {
    Volume {
        name: name.to_string(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map.to_string(),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

pub fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        ..VolumeMount::default()
    }
}

/// The pod security context of a Windows HostProcess pod, as the
/// sig-windows-tools manifests set it (`hostprocess/flannel/`).
pub fn host_process() -> PodSecurityContext {
    PodSecurityContext {
        windows_options: Some(WindowsSecurityContextOptions {
            host_process: Some(true),
            run_as_user_name: Some("NT AUTHORITY\\system".to_string()),
            ..WindowsSecurityContextOptions::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// `command` and `args` running a PowerShell script in a HostProcess
/// container (Windows PowerShell ships with every Windows Server). The
/// script goes in `args` so that the kubelet expands `$(VAR)` references to
/// the container's environment before PowerShell sees it.
pub fn powershell(script: String) -> (Vec<String>, Vec<String>) {
    let command = ["powershell.exe", "-NoLogo", "-NoProfile", "-NonInteractive", "-Command"];
    (strings(&command), vec![script])
}

/// A PowerShell single-quoted string literal (no expansion; `'` doubled).
pub fn ps_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
