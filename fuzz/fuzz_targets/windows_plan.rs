//! The Windows driver's plan over arbitrary host state: desired objects
//! (unique keys), what `Get-HnsNetwork` and friends reported, and the
//! Windows inventory, each made from the fuzzer's bytes; then the observe
//! script and the apply script rendered. Oracles: nothing netc does not
//! own is deleted or recreated; every step is about a desired or an owned
//! object; the same input plans the same.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use netc_plan::windows::{self, WindowsDesired, WindowsInventory, WindowsKey, WindowsObserved};

#[derive(Arbitrary, Debug)]
struct Input {
    desired: WindowsDesired,
    observed: WindowsObserved,
    owned: WindowsInventory,
}

fuzz_target!(|input: Input| {
    let Input {
        mut desired,
        observed,
        owned,
    } = input;
    let mut seen = BTreeSet::new();
    desired.objects.retain(|o| seen.insert(o.key()));
    let wanted: BTreeSet<WindowsKey> = desired.objects.iter().map(|o| o.key()).collect();

    let plan = windows::plan(&desired, &observed, &owned);
    netc_fuzz::assert_only_owned_removed(plan.steps.iter().map(|s| (s.action, &s.key)), &wanted, &owned);
    assert_eq!(plan, windows::plan(&desired, &observed, &owned), "not deterministic");
    let _ = windows::powershell(&plan);
    let _ = windows::observe_script(&desired, &owned);
});
