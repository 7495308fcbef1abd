//! `netc explain CODE` and `netc rules`: the code registry, printed.

use netc_compiler::diagnostic::codes;

use crate::Outcome;

pub fn explain(code: &str) -> Outcome {
    match codes::find(code) {
        Some(info) => {
            println!("{}", info.explanation.trim_end());
            Outcome::Clean
        }
        None => {
            eprintln!("error: no diagnostic code `{code}`");
            eprintln!("help: `netc rules` lists every code");
            Outcome::Failure
        }
    }
}

pub fn rules() -> Outcome {
    for info in codes::all() {
        println!(
            "{}  {:<7}  {:<34}  {}",
            info.code,
            info.severity.as_str(),
            info.name,
            info.summary
        );
    }
    Outcome::Clean
}
