//! `netc plan` for a Windows node: the Windows driver's plan, and the
//! PowerShell that carries it out. netc does not execute it (there is no
//! Windows here); an operator or a HostProcess pod runs the scripts:
//!
//! 1. `netc plan --node W --from out/ --format observe-script > observe.ps1`;
//!    on the node, `observe.ps1 > observed.json`;
//! 2. `netc plan --node W --from out/ --observed observed.json` shows the
//!    plan (`--format json` as JSON), and `--format powershell > apply.ps1`
//!    the script that applies it.
//!
//! Without `--observed` the plan is made against an empty host (a node
//! being set up), and says so. The inventory of what netc owns on the node
//! is `windows-inventory.json` in `--state-dir`, when there is one.

use std::fs;

use netc_compiler::emit::program::types::Program;
use netc_plan::windows::{self, WindowsObserved};

use super::apply::{PlanFormat, Target};
use crate::Outcome;

pub fn plan(target: &Target, program: &Program) -> Outcome {
    match run(target, program) {
        Ok(outcome) => outcome,
        Err(message) => {
            eprintln!("error: {message}");
            Outcome::Failure
        }
    }
}

fn run(target: &Target, program: &Program) -> Result<Outcome, String> {
    let desired = windows::desired(program).map_err(|e| e.0)?;
    let inventory = netc_node::windows::read_inventory(&target.state_dir)?;
    if let PlanFormat::ObserveScript = target.format {
        print!("{}", windows::observe_script(&desired, &inventory));
        return Ok(Outcome::Clean);
    }
    let observed: WindowsObserved = match &target.observed {
        Some(path) => {
            let bytes = fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            serde_json::from_slice(&bytes).map_err(|e| {
                format!(
                    "`{}` is not what the observe script prints: {e} (make it with `netc plan --format observe-script`)",
                    path.display()
                )
            })?
        }
        None => {
            eprintln!(
                "note: no --observed: planning node {} against an empty host (run the script of `--format observe-script` on the node for its real state)",
                program.node
            );
            WindowsObserved::default()
        }
    };
    let plan = windows::plan(&desired, &observed, &inventory);
    match target.format {
        PlanFormat::Human => {
            print!("{plan}");
            println!(
                "Plan: {} steps, {} conflicts (not executed here: run `--format powershell` on the node).",
                plan.steps.len(),
                plan.conflicts.len()
            );
        }
        PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&plan).map_err(|e| e.to_string())?),
        PlanFormat::Powershell => print!("{}", windows::powershell(&plan)),
        PlanFormat::ObserveScript => unreachable!("handled above"),
    }
    Ok(if plan.conflicts.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}
