//! PowerShell syntax checking with tree-sitter's PowerShell grammar (there
//! is no PowerShell to run here). Shared by the compiler's tests of the
//! scripts it writes (`powershell_syntax.rs`) and the runtime's tests of
//! the Windows driver's scripts (`runtime/tests/windows_plan.rs`).

/// Every syntax error in `script`, one line each: `LINE:COLUMN` (1-based,
/// the column in characters), the kind (`ERROR`, or `MISSING` and what is
/// missing), the offending text and the whole source line.
pub fn syntax_errors(script: &str) -> Vec<String> {
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_powershell::LANGUAGE.into())
        .expect("the PowerShell grammar loads");
    let tree = parser.parse(script, None).expect("the parser returns a tree");
    let mut errors = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.is_error() || node.is_missing() {
            errors.push(describe(script, node));
            // The error's own children only repeat it.
            continue;
        }
        if !node.has_error() {
            continue;
        }
        let mut cursor = node.walk();
        let children: Vec<_> = node.children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    errors
}

fn describe(script: &str, node: tree_sitter::Node) -> String {
    let start = node.start_byte();
    let line_start = script[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = script[start..].find('\n').map_or(script.len(), |i| start + i);
    let line = node.start_position().row + 1;
    let column = script[line_start..start].chars().count() + 1;
    let kind = if node.is_missing() {
        format!("MISSING `{}`", node.kind())
    } else {
        "ERROR".to_string()
    };
    let mut text: String = script[start..node.end_byte()].chars().take(80).collect();
    if text.len() < node.end_byte() - start {
        text.push_str("...");
    }
    format!(
        "{line}:{column}: {kind} at {text:?}\n    | {}",
        &script[line_start..line_end]
    )
}

/// The source-VIP guard of a Windows script (`host.ps1` or the driver's
/// apply script): it reads the pod subnet of the HNS network `network`,
/// compares it with `subnet`, and only then runs host-local for the VIP.
/// Text and order only: there is no PowerShell here.
pub fn assert_source_vip_guard(name: &str, script: &str, network: &str, subnet: &str) {
    let read = script
        .find(&format!("(Get-HnsNetwork | Where-Object Name -eq '{network}').Subnets"))
        .unwrap_or_else(|| panic!("{name}: no read of the HNS subnet"));
    let compare = script
        .find(&format!("if ($hnsSubnet -ne '{subnet}') {{ throw"))
        .unwrap_or_else(|| panic!("{name}: no comparison with {subnet}"));
    let reservation = script
        .find("$env:CNI_COMMAND = 'ADD'")
        .unwrap_or_else(|| panic!("{name}: no source-VIP reservation"));
    assert!(read < compare && compare < reservation, "{name}: out of order");
}
