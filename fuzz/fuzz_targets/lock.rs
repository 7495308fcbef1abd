//! The lock file (`TOPOLOGY.lock`) as `netc compile` reads it, alone and
//! under a fixed topology. Oracle: a lock that parses without problems
//! renders to text that parses to the same lock.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netc_compiler::diagnostic::SourceFile;
use netc_compiler::model::Lock;

const TOPOLOGY: &str = include_str!("../../examples/vxlan-mixed.netc");

fuzz_target!(|text: &str| {
    let (lock, problems) = Lock::parse(text);
    if problems.is_empty() {
        let rendered = lock.render();
        let (again, problems) = Lock::parse(&rendered);
        assert!(
            problems.is_empty(),
            "a rendered lock does not parse: {problems:?}\n{rendered}"
        );
        assert_eq!(again.render(), rendered, "the lock does not round-trip");
    }
    let _ = netc_compiler::compile(&SourceFile::new("vxlan-mixed.netc", TOPOLOGY), &lock);
});
