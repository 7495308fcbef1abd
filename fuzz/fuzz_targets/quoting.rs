//! The quoting every string setting goes through on its way into `host.sh`
//! (`sh_quote`) and `host.ps1` and the Windows driver's scripts
//! (`ps_quote`). Oracle: reading the quoted text back as bash and as
//! PowerShell read a single-quoted word gives exactly the original string,
//! and the word ends where the quoting ends (nothing can break out).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netc_compiler::emit::program::{ps_quote, sh_quote};

/// One bash word made of single-quoted parts and `\'` escapes, as bash
/// reads it; `None` if anything else is in it (an unquoted character).
fn bash_word(word: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    c => out.push(c),
                }
            },
            '\\' => out.push(chars.next().filter(|&c| c == '\'')?),
            _ => return None,
        }
    }
    Some(out)
}

/// PowerShell's single-quoted string: every one of `'`, `‘`, `’`, `‚`,
/// `‛` opens and closes it, and two of them in a row stand for the first.
fn powershell_literal(word: &str) -> Option<String> {
    let quote = |c: char| matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}');
    let mut chars = word.chars().peekable();
    if !quote(chars.next()?) {
        return None;
    }
    let mut out = String::new();
    while let Some(c) = chars.next() {
        if quote(c) {
            match chars.peek() {
                Some(&next) if quote(next) => {
                    chars.next();
                    out.push(c);
                }
                // The literal ended: it must be the end of the word.
                _ => return chars.next().is_none().then_some(out),
            }
        } else {
            out.push(c);
        }
    }
    None
}

fuzz_target!(|text: &str| {
    assert_eq!(bash_word(&sh_quote(text)).as_deref(), Some(text), "sh_quote");
    assert_eq!(powershell_literal(&ps_quote(text)).as_deref(), Some(text), "ps_quote");
});
