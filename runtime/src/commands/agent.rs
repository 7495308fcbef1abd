//! `netc agent` and `netc status`: the command-line side of
//! `netc_runtime::agent` (argument parsing, logging setup, exit codes).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use netc_node::{state, transaction};
use netc_runtime::agent::ssh::SshAuth;
use netc_runtime::agent::status::Status;
use netc_runtime::agent::{verify, Agent, Config, Kubernetes, Round};

use crate::Outcome;

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line and event.
    Json,
}

#[derive(Args)]
pub struct AgentArgs {
    /// The git remote: a URL (git://, https://, ssh://, file://) or a path.
    #[arg(long, value_name = "URL")]
    repo: String,
    /// The branch to follow.
    #[arg(long, value_name = "BRANCH", default_value = "main")]
    branch: String,
    /// The topology's path in the repository (its lock file beside it).
    #[arg(long, value_name = "FILE")]
    path: String,
    /// This node's name in the topology.
    #[arg(long, value_name = "NAME")]
    node: String,
    /// Where netc keeps the clone, the inventory, the last good program and
    /// the agent's status.
    #[arg(long, value_name = "DIR", default_value = state::DEFAULT_DIR)]
    state_dir: PathBuf,
    /// Time between rounds (e.g. 30s, 1s, 500ms, 2m), with ±10% jitter.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    interval: Duration,
    /// The network namespace (`/run/netns/NS`) to manage; default: the
    /// current one.
    #[arg(long, value_name = "NS")]
    netns: Option<String>,
    /// The prefix under which the program's files live.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// One round, then exit: 0 when the host is where it should be, 1 when
    /// the new revision was not applied (invalid, refused, held, failed), 2
    /// when the remote could not be read.
    #[arg(long)]
    once: bool,
    /// Apply changes that need cluster downtime (a new pod network,
    /// service network, backend or dataplane) without the commit trailer
    /// `Netc-Allow-Disruption: yes`.
    #[arg(long)]
    allow_disruption: bool,
    /// Apply a commit that does not descend from the last applied one (a
    /// rewound history or an older commit).
    #[arg(long)]
    allow_rollback: bool,
    /// Require commits signed by an SSH key listed in this allowed_signers
    /// file (ssh-keygen's format, as git's gpg.ssh.allowedSignersFile).
    #[arg(long, value_name = "FILE")]
    allowed_signers: Option<PathBuf>,
    /// Require commits signed by an OpenPGP key in this keyring
    /// (`gpg --export > keyring.gpg`).
    #[arg(long, value_name = "FILE")]
    gpg_keyring: Option<PathBuf>,
    /// Log in to an ssh:// repository with this private key (a Secret's
    /// `ssh-privatekey` in the agent's pod); needs --known-hosts.
    #[arg(long, value_name = "FILE", requires = "known_hosts")]
    ssh_key: Option<PathBuf>,
    /// Accept an ssh:// server only if its host key is listed here
    /// (OpenSSH's known_hosts format; `ssh-keyscan -H HOST` writes it).
    #[arg(long, value_name = "FILE", requires = "ssh_key")]
    known_hosts: Option<PathBuf>,
    /// Where to serve /metrics and /healthz, or `off`.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    listen: String,
    /// How to write logs (to standard error).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Report to the Kubernetes API with this kubeconfig: annotations on
    /// this node (netc.dev/revision, netc.dev/state, netc.dev/message) and a
    /// warning when its pod CIDR differs from the topology's. Without it,
    /// the in-cluster service account is used when running in a pod.
    #[arg(long, value_name = "FILE", conflicts_with = "no_kubernetes")]
    kubeconfig: Option<PathBuf>,
    /// Never talk to the Kubernetes API.
    #[arg(long)]
    no_kubernetes: bool,
}

/// `30s`, `1s`, `500ms`, `2m`, `1h`; a bare number is seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. 30s, 500ms or 2m"))?;
    let duration = match unit {
        "" | "s" => Duration::from_secs(number),
        "ms" => Duration::from_millis(number),
        "m" => Duration::from_secs(number * 60),
        "h" => Duration::from_secs(number * 3600),
        _ => return Err(format!("`{unit}` is not a unit: use ms, s, m or h")),
    };
    if duration < Duration::from_millis(100) {
        return Err("the interval must be at least 100ms".into());
    }
    Ok(duration)
}

pub fn agent(args: &AgentArgs) -> Outcome {
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match args.log_format {
        LogFormat::Text => tracing::subscriber::set_global_default(subscriber.with_ansi(false).finish()),
        LogFormat::Json => tracing::subscriber::set_global_default(subscriber.json().finish()),
    };
    // On Windows the HostProcess pod runs as SYSTEM, and the apply script
    // itself requires an elevated PowerShell.
    #[cfg(target_os = "linux")]
    {
        let euid = nix::unistd::geteuid();
        if !euid.is_root() {
            eprintln!("error: `netc agent` changes network devices, routes, sysctls and files, so it must run as root (effective uid is {euid})");
            return Outcome::Failure;
        }
    }
    let listen = match args.listen.as_str() {
        "off" | "none" => None,
        address => match address.parse::<SocketAddr>() {
            Ok(address) => Some(address),
            Err(_) => {
                eprintln!("error: --listen `{address}` is not an address like 127.0.0.1:9464 (or `off`)");
                return Outcome::Failure;
            }
        },
    };
    let config = Config {
        repo: args.repo.clone(),
        branch: args.branch.clone(),
        path: args.path.clone(),
        target: transaction::Target {
            node: args.node.clone(),
            netns: args.netns.clone(),
            root: args.root.clone(),
            state_dir: args.state_dir.clone(),
        },
        interval: args.interval,
        allow_disruption: args.allow_disruption,
        allow_rollback: args.allow_rollback,
        keys: verify::Keys {
            allowed_signers: args.allowed_signers.clone(),
            gpg_keyring: args.gpg_keyring.clone(),
        },
        ssh: match (&args.ssh_key, &args.known_hosts) {
            (Some(key), Some(known_hosts)) => Some(SshAuth {
                key: key.clone(),
                known_hosts: known_hosts.clone(),
            }),
            _ => None,
        },
        listen,
        kubernetes: match (&args.kubeconfig, args.no_kubernetes) {
            (_, true) => Kubernetes::Off,
            (Some(path), false) => Kubernetes::Kubeconfig(path.clone()),
            (None, false) => Kubernetes::InCluster,
        },
    };
    let mut agent = match Agent::new(config) {
        Ok(agent) => agent,
        Err(message) => {
            eprintln!("error: {message}");
            return Outcome::Failure;
        }
    };
    match agent.run(args.once) {
        round if round.ok() => Outcome::Clean,
        Round::Unreachable | Round::Error => Outcome::Failure,
        _ => Outcome::Problems,
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum StatusFormat {
    Human,
    Json,
}

#[derive(Args)]
pub struct StatusArgs {
    /// The agent's state directory.
    #[arg(long, value_name = "DIR", default_value = state::DEFAULT_DIR)]
    state_dir: PathBuf,
    #[arg(long, value_enum, default_value_t = StatusFormat::Human)]
    format: StatusFormat,
}

pub fn status(args: &StatusArgs) -> Outcome {
    let inventory = state::read_inventory(&args.state_dir);
    let (status, inventory) = match (Status::read(&args.state_dir), inventory) {
        (Ok(status), Ok(inventory)) => (status, inventory),
        (Err(message), _) | (_, Err(message)) => {
            eprintln!("error: {message}");
            return Outcome::Failure;
        }
    };
    match args.format {
        StatusFormat::Json => {
            let json = serde_json::json!({"status": status, "inventory": inventory});
            match serde_json::to_string_pretty(&json) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("error: {e}"),
            }
        }
        StatusFormat::Human => {
            let line = |attempt: &Option<netc_runtime::agent::status::Attempt>| match attempt {
                Some(a) => format!("{} at {} ({}): {}", a.revision, a.at, a.result.as_str(), a.message),
                None => "none".to_owned(),
            };
            println!(
                "node:           {}",
                if status.node.is_empty() { "?" } else { &status.node }
            );
            println!("last applied:   {}", line(&status.last_applied));
            println!("last attempted: {}", line(&status.last_attempted));
            if let Some(error) = &status.last_error {
                println!("last error:     {error}");
            }
            if let Some(warning) = &status.pod_cidr_warning {
                println!("warning:        {warning}");
            }
            println!("history (newest first):");
            for attempt in &status.history {
                println!("  {} at {}: {}", attempt.revision, attempt.at, attempt.message);
            }
            println!("inventory:      {} objects owned", inventory.len());
        }
    }
    Outcome::Clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("5x").unwrap_err().contains("not a unit"));
        assert!(parse_duration("fast").unwrap_err().contains("not a duration"));
        assert!(parse_duration("10ms").is_err());
    }
}
