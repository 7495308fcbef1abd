//! What the fuzz targets share: the planning engine's ownership invariant,
//! checked over the Linux and the Windows plan alike.

use std::collections::BTreeSet;
use std::fmt::Debug;

use netc_plan::engine::Action;

/// Every step is about a desired (`wanted`) or an owned object, and only
/// owned objects are deleted or recreated: netc never removes what it did
/// not create.
pub fn assert_only_owned_removed<'a, K: Ord + Debug + 'a>(
    steps: impl IntoIterator<Item = (Action, &'a K)>,
    wanted: &BTreeSet<K>,
    owned: &BTreeSet<K>,
) {
    for (action, key) in steps {
        if matches!(action, Action::Delete | Action::Recreate) {
            assert!(
                owned.contains(key),
                "plans to {action:?} {key:?}, which netc does not own"
            );
        }
        assert!(
            wanted.contains(key) || owned.contains(key),
            "a step about a stranger: {key:?}"
        );
    }
}
