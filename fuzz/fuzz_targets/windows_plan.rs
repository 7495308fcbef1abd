//! The Windows driver's plan over arbitrary host state: desired objects
//! (unique keys), what `Get-HnsNetwork` and friends reported, and the
//! Windows inventory, each made from the fuzzer's bytes; then the observe
//! script and the apply script rendered. Oracles: nothing netc does not
//! own is deleted or recreated; every step is about a desired or an owned
//! object; the same input plans the same. Then the undo of that plan after
//! a failure left the host as `after`: it only touches the plan's keys,
//! deletes only what the host did not have before, and when nothing
//! happened (`after` is the host before) it plans and names nothing.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use netc_plan::engine::Action;
use netc_plan::windows::{self, WindowsDesired, WindowsInventory, WindowsKey, WindowsObserved};

#[derive(Arbitrary, Debug)]
struct Input {
    desired: WindowsDesired,
    observed: WindowsObserved,
    owned: WindowsInventory,
    after: WindowsObserved,
}

fuzz_target!(|input: Input| {
    let Input {
        mut desired,
        observed,
        owned,
        after,
    } = input;
    let mut seen = BTreeSet::new();
    desired.objects.retain(|o| seen.insert(o.key()));
    let wanted: BTreeSet<WindowsKey> = desired.objects.iter().map(|o| o.key()).collect();

    let plan = windows::plan(&desired, &observed, &owned);
    netc_fuzz::assert_only_owned_removed(plan.steps.iter().map(|s| (s.action, &s.key)), &wanted, &owned);
    assert_eq!(plan, windows::plan(&desired, &observed, &owned), "not deterministic");
    let _ = windows::powershell(&plan);
    let _ = windows::observe_script(&desired, &owned);

    let touched: BTreeSet<&WindowsKey> = plan.steps.iter().map(|s| &s.key).collect();
    let back = windows::undo(&plan, &observed, &after);
    let had = windows::present(&observed, &touched.iter().map(|k| (*k).clone()).collect());
    for step in &back.plan.steps {
        assert!(
            touched.contains(&step.key),
            "the undo touches {} the plan did not",
            step.key
        );
        if step.action == Action::Delete {
            assert!(
                !had.contains(&step.key),
                "the undo deletes {}, which the host had before",
                step.key
            );
        }
    }
    let _ = windows::powershell(&back.plan);
    let nothing_happened = windows::undo(&plan, &observed, &observed);
    assert!(nothing_happened.plan.is_empty(), "{}", nothing_happened.plan);
    assert!(
        nothing_happened.not_undone.is_empty(),
        "{:?}",
        nothing_happened.not_undone
    );
});
