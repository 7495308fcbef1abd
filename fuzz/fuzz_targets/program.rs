//! A node's `program.json` and the cluster's `peers.json` as the runtime
//! loads them (input: program, a NUL byte, peers), then everything built
//! from them: the Linux engine's desired objects and plan on an empty
//! host, the Windows driver's desired objects, observe script and plan
//! script, and the `host.sh` / `host.ps1` renderers.
//! Oracles: desired keys are unique; on an empty host every step creates.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use netc_compiler::emit::program::render_script;
use netc_compiler::emit::program::types::{PeerTable, Program, ProgramOs};
use netc_plan::engine::{self, Action, Inventory, Observed};
use netc_plan::windows;

fuzz_target!(|data: &[u8]| {
    let (program, peers) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(program) = serde_json::from_slice::<Program>(program) else {
        return;
    };
    let _ = render_script(&program);
    match program.os {
        ProgramOs::Linux => {
            let Ok(peers) = serde_json::from_slice::<PeerTable>(peers) else {
                return;
            };
            let Ok(desired) = engine::desired(&program, &peers) else {
                return;
            };
            let keys: BTreeSet<_> = desired.iter().map(|o| o.key()).collect();
            assert_eq!(keys.len(), desired.len(), "desired has a key twice");
            let plan = engine::plan(&desired, &Observed::default(), &Inventory::new());
            assert!(plan.steps.iter().all(|s| s.action == Action::Create));
            let _ = plan.to_string();
        }
        ProgramOs::Windows => {
            let Ok(desired) = windows::desired(&program) else {
                return;
            };
            let owned = windows::WindowsInventory::new();
            let _ = windows::observe_script(&desired, &owned);
            let plan = windows::plan(&desired, &windows::WindowsObserved::default(), &owned);
            let _ = windows::powershell(&plan);
        }
    }
});
