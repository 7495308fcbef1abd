//! PowerShell syntax checking with tree-sitter's PowerShell grammar (there
//! is no PowerShell to run here). Shared by the compiler's tests of the
//! scripts it writes (`powershell_syntax.rs`) and the runtime's tests of
//! the Windows driver's scripts (`runtime/tests/windows_plan.rs`) and of
//! hostile strings in every script (`runtime/tests/injection.rs`).

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

/// The parts of a script PowerShell never runs or expands: single-quoted
/// strings and here-strings, and comments.
const INERT: [&str; 3] = [
    "verbatim_string_characters",
    "verbatim_here_string_characters",
    "comment",
];

/// Every place `marker` occurs in `script` outside an inert part (a
/// single-quoted string, a single-quoted here-string or a comment), as
/// `LINE: SOURCE LINE`: a string that reached the script there is code,
/// or could be.
pub fn outside_inert_parts(script: &str, marker: &str) -> Vec<String> {
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_powershell::LANGUAGE.into())
        .expect("the PowerShell grammar loads");
    let tree = parser.parse(script, None).expect("the parser returns a tree");
    let mut found = Vec::new();
    for (at, _) in script.match_indices(marker) {
        let mut node = tree.root_node().descendant_for_byte_range(at, at + marker.len());
        let mut inert = false;
        while let Some(n) = node {
            if INERT.contains(&n.kind()) {
                inert = true;
                break;
            }
            node = n.parent();
        }
        if !inert {
            let line_start = script[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = script[at..].find('\n').map_or(script.len(), |i| at + i);
            let line = script[..at].matches('\n').count() + 1;
            found.push(format!("{line}: {}", &script[line_start..line_end]));
        }
    }
    found
}

/// The scripts of a manifest stream: for every container and init container
/// of every pod template (or pod) whose command line runs `powershell.exe`
/// or `pwsh`, the argument after `-Command`, named by object and container.
pub fn manifest_scripts(text: &str) -> Vec<(String, String)> {
    let mut scripts = Vec::new();
    for document in netc_compiler::yaml::parse_documents(text) {
        let object = format!(
            "{} {}",
            document["kind"].as_str().unwrap_or("?"),
            document["metadata"]["name"].as_str().unwrap_or("?")
        );
        let pod = if document["spec"]["template"]["spec"].is_object() {
            &document["spec"]["template"]["spec"]
        } else {
            &document["spec"]
        };
        for list in ["initContainers", "containers"] {
            for container in pod[list].as_array().into_iter().flatten() {
                let words: Vec<&str> = ["command", "args"]
                    .iter()
                    .flat_map(|key| container[*key].as_array().into_iter().flatten())
                    .map(|word| word.as_str().expect("command and args are strings"))
                    .collect();
                let shell = words
                    .first()
                    .map(|w| w.rsplit(['\\', '/']).next().unwrap_or(w).to_lowercase());
                if !matches!(
                    shell.as_deref(),
                    Some("powershell.exe" | "powershell" | "pwsh" | "pwsh.exe")
                ) {
                    continue;
                }
                let name = container["name"].as_str().unwrap_or("?");
                let at = words
                    .iter()
                    .position(|w| w.eq_ignore_ascii_case("-Command") || w.eq_ignore_ascii_case("-c"))
                    .unwrap_or_else(|| panic!("{object}: container {name} runs PowerShell without -Command"));
                // PowerShell joins everything after -Command into the script.
                let script = words[at + 1..].join(" ");
                assert!(!script.trim().is_empty(), "{object}: container {name}: empty script");
                scripts.push((format!("{object}, container {name}"), script));
            }
        }
    }
    scripts
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
