//! The Linux engine's plan over arbitrary host state: desired objects
//! (unique keys), what a driver observed and the inventory of what netc
//! owns, each made from the fuzzer's bytes. Oracles, the engine's
//! invariants: nothing netc does not own is deleted or recreated; every
//! step is about a desired or an owned object; the same input plans the
//! same; a host that already matches plans nothing.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use netc_plan::engine::{self, Inventory, Object, ObjectKey, Observed};

#[derive(Arbitrary, Debug)]
struct Input {
    desired: Vec<Object>,
    /// Observed: each desired object kept as it is (`true`) or not there,
    /// then some foreign or drifted objects.
    keep: Vec<bool>,
    extra: Vec<Object>,
    owned: BTreeSet<ObjectKey>,
}

fuzz_target!(|input: Input| {
    let mut seen = BTreeSet::new();
    let desired: Vec<Object> = input.desired.into_iter().filter(|o| seen.insert(o.key())).collect();
    let mut observed = Observed::default();
    for (object, keep) in desired.iter().zip(input.keep.iter().chain(std::iter::repeat(&true))) {
        if *keep {
            observed.0.insert(object.key(), object.clone());
        }
    }
    for object in input.extra {
        observed.0.insert(object.key(), object);
    }
    let owned: Inventory = input.owned;

    let plan = engine::plan(&desired, &observed, &owned);
    let wanted: BTreeSet<ObjectKey> = desired.iter().map(Object::key).collect();
    netc_fuzz::assert_only_owned_removed(plan.steps.iter().map(|s| (s.action, &s.key)), &wanted, &owned);
    assert_eq!(plan, engine::plan(&desired, &observed, &owned), "not deterministic");
    let _ = plan.to_string();

    let matching = Observed(desired.iter().map(|o| (o.key(), o.clone())).collect());
    let settled = engine::plan(&desired, &matching, &engine::plan::next_inventory(&desired));
    assert!(settled.is_empty(), "a host that matches still plans:\n{settled}");
});
