//! The apply script: a `WindowsPlan` as the PowerShell that carries it
//! out, one guarded block per step between the checks (see the
//! `powershell` header for its shape).

use netc_compiler::emit::program::ps_quote;

use super::functions::{
    GET_HNS_ADAPTER, GET_PROPERTY, GET_RECORDED_ADDRESS, SET_FILE, TEST_CNI_PLUGINS, TEST_IN_SUBNET, TEST_PROCESS,
    WAIT_ADDRESS,
};
use super::{comment, import_hns, ps_array, PREAMBLE};
use crate::engine::Action;
use crate::windows::objects::{WindowsCheck, WindowsKey, WindowsObject};
use crate::windows::plan::{one_line, WindowsPlan, WindowsStep};

/// The exact PowerShell the Windows driver runs to apply `plan`.
pub fn powershell(plan: &WindowsPlan) -> String {
    let has_step = |pred: fn(&WindowsStep) -> bool| plan.steps.iter().any(pred);
    let files = has_step(|s| {
        matches!(
            s.object,
            Some(WindowsObject::File { .. } | WindowsObject::SourceVip { .. })
        )
    });
    let hns = has_step(|s| matches!(s.key, WindowsKey::HnsNetwork(_) | WindowsKey::HnsEndpoint(_)));
    let hns_recreate = has_step(|s| s.action == Action::Recreate && matches!(s.key, WindowsKey::HnsNetwork(_)));
    let hns_made = has_step(|s| matches!(s.object, Some(WindowsObject::HnsNetwork(_))));
    let source_vip = has_step(|s| matches!(s.object, Some(WindowsObject::SourceVip { .. })));
    let cni_checks: Vec<&WindowsCheck> = plan
        .checks
        .iter()
        .filter(|c| matches!(c, WindowsCheck::CniPlugins { .. }))
        .collect();
    let service_checks: Vec<&WindowsCheck> = plan
        .checks
        .iter()
        .filter(|c| matches!(c, WindowsCheck::Service { .. }))
        .collect();

    let mut out = String::new();
    out.push_str(&comment(&format!(
        "Plan of node {} (windows), rendered by netc: what the Windows driver runs to",
        plan.node
    )));
    out.push_str(&format!(
        "# apply it ({} step{}). Run as Administrator; the first error stops it. CNI\n",
        plan.steps.len(),
        if plan.steps.len() == 1 { "" } else { "s" }
    ));
    out.push_str("# plugins are checked before the first change, the DaemonSets' processes\n");
    out.push_str("# after the last.\n");
    out.push_str(PREAMBLE);
    let helpers = [
        (files, SET_FILE),
        (!cni_checks.is_empty(), TEST_CNI_PLUGINS),
        (source_vip, TEST_IN_SUBNET),
        (source_vip, GET_RECORDED_ADDRESS),
        (!service_checks.is_empty(), TEST_PROCESS),
        (hns_recreate, GET_PROPERTY),
        (hns_recreate, GET_HNS_ADAPTER),
        (hns_made, WAIT_ADDRESS),
    ];
    for (_, text) in helpers.iter().filter(|(wanted, _)| *wanted) {
        out.push('\n');
        out.push_str(text);
    }
    if !plan.conflicts.is_empty() {
        out.push('\n');
        out.push_str("# The plan has conflicts: a driver must not apply it.\n");
        for conflict in &plan.conflicts {
            out.push_str(&comment(&format!("{}: {}", conflict.key, conflict.reason)));
        }
        let keys: Vec<String> = plan.conflicts.iter().map(|c| one_line(&c.key.to_string())).collect();
        out.push_str(&format!(
            "throw {}\n",
            ps_quote(&format!(
                "netc: the plan has conflicts ({}); nothing was changed",
                keys.join(", ")
            ))
        ));
    }
    if hns {
        out.push('\n');
        out.push_str(&import_hns("New-HnsNetwork"));
        out.push('\n');
    }
    if !cni_checks.is_empty() {
        out.push_str("\n# Before any change: the CNI plugins the CNI config calls are installed.\n");
        for check in cni_checks {
            out.push_str(&render_check(check));
        }
    }
    for step in &plan.steps {
        out.push('\n');
        out.push_str(&render_step(step));
    }
    if !service_checks.is_empty() {
        out.push_str("\n# After the last change: the processes the DaemonSets run (warnings only).\n");
        let mut source_vip_read = None;
        for check in service_checks {
            if let WindowsCheck::Service {
                args,
                source_vip: Some(path),
                ..
            } = check
            {
                if args.iter().any(|a| a.contains("$(SOURCE_VIP)")) && source_vip_read != Some(path) {
                    out.push_str(&format!(
                        "$SourceVip = ((Get-Content -Raw -LiteralPath {} | ConvertFrom-Json).ips[0].address -split '/')[0]\n",
                        ps_quote(path)
                    ));
                    source_vip_read = Some(path);
                }
            }
            out.push_str(&render_check(check));
        }
    }
    out
}

fn render_check(check: &WindowsCheck) -> String {
    match check {
        WindowsCheck::CniPlugins {
            dir,
            plugins,
            installed_by_daemon_set,
        } => format!(
            "Test-NetcCniPlugins {} {} {}\n",
            ps_quote(dir),
            ps_array(plugins),
            ps_array(installed_by_daemon_set)
        ),
        WindowsCheck::Service {
            name,
            binary,
            args,
            source_vip,
        } => {
            let args: Vec<String> = args
                .iter()
                .map(|arg| {
                    if source_vip.is_some() && arg.contains("$(SOURCE_VIP)") {
                        format!("{}.Replace('$(SOURCE_VIP)', $SourceVip)", ps_quote(arg))
                    } else {
                        ps_quote(arg)
                    }
                })
                .collect();
            format!(
                "Test-NetcProcess {} {} @({})\n",
                ps_quote(name),
                ps_quote(binary),
                args.join(", ")
            )
        }
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Recreate => "recreate",
        Action::Delete => "delete",
    }
}

fn render_step(step: &WindowsStep) -> String {
    let mut out = comment(&format!(
        "{} {}: {} [{}]",
        action_name(step.action),
        step.key,
        step.reason,
        step.disruption
    ));
    let body = match (&step.object, &step.key) {
        (None, key) => delete(key),
        (Some(object), _) => make_so(object, step.action),
    };
    out.push_str(&body);
    out
}

/// The guarded removal of what `key` names.
fn delete(key: &WindowsKey) -> String {
    match key {
        WindowsKey::FirewallRule(name) => format!(
            "if (Get-NetFirewallRule -Name {name} -ErrorAction SilentlyContinue) {{ Remove-NetFirewallRule -Name {name} }}\n",
            name = ps_quote(name)
        ),
        WindowsKey::File(path) | WindowsKey::SourceVip(path) => format!(
            "if (Test-Path -LiteralPath {path} -PathType Leaf) {{ Remove-Item -Force -LiteralPath {path} }}\n",
            path = ps_quote(path)
        ),
        WindowsKey::HnsNetwork(name) => remove_hns_network(name),
        WindowsKey::HnsEndpoint(name) => remove_hns_endpoint(name),
    }
}

/// The block that makes `object` so: a create, update or recreate.
fn make_so(object: &WindowsObject, action: Action) -> String {
    match object {
        WindowsObject::FirewallRule {
            name,
            protocol,
            port,
            direction,
        } => {
            let (name, protocol, direction) = (ps_quote(name), ps_quote(protocol), ps_quote(direction));
            format!(
                "if (Get-NetFirewallRule -Name {name} -ErrorAction SilentlyContinue) {{\n    \
                 Set-NetFirewallRule -Name {name} -Direction {direction} -Protocol {protocol} -LocalPort {port} -Action Allow -Enabled True\n\
                 }} else {{\n    \
                 New-NetFirewallRule -Name {name} -DisplayName {name} -Direction {direction} -Protocol {protocol} -LocalPort {port} -Action Allow -Enabled True | Out-Null\n\
                 }}\n"
            )
        }
        WindowsObject::File { path, content } => format!("Set-NetcFile {} {}\n", ps_quote(path), ps_quote(content)),
        WindowsObject::HnsNetwork(network) => {
            let (name, adapter) = (&network.name, &network.adapter);
            let (q_name, q_address) = (ps_quote(name), ps_quote(&network.address));
            let new = format!(
                "New-HnsNetwork -Type {} -Name {q_name} -AddressPrefix {} -Gateway {} -AdapterName $adapter | Out-Null\n\
                 Wait-NetcAddress {q_address}\n",
                ps_quote(&network.kind),
                ps_quote(&network.subnet),
                ps_quote(&network.gateway)
            );
            let by_address = format!("(Get-NetIPAddress -IPAddress {q_address}).InterfaceAlias");
            match (action, adapter) {
                (Action::Recreate, adapter) => {
                    let first = match adapter {
                        Some(adapter) => format!("$adapter = {}\n", ps_quote(adapter)),
                        None => format!("$adapter = Get-NetcHnsAdapter {q_name}\n"),
                    };
                    let remove = remove_hns_network(name);
                    format!(
                        "{first}{remove}\
                         Wait-NetcAddress {q_address}\n\
                         if (-not $adapter) {{ $adapter = {by_address} }}\n\
                         {new}"
                    )
                }
                (_, adapter) => {
                    let adapter = match adapter {
                        Some(adapter) => ps_quote(adapter),
                        None => by_address,
                    };
                    let new = new.replace('\n', "\n    ");
                    format!(
                        "if (-not (Get-HnsNetwork | Where-Object Name -eq {q_name})) {{\n    \
                         $adapter = {adapter}\n    \
                         {}\n}}\n",
                        new.trim_end()
                    )
                }
            }
        }
        WindowsObject::HnsEndpoint { name, network, address } => {
            let (q_name, q_network, q_address) = (ps_quote(name), ps_quote(network), ps_quote(address));
            let q_interface = ps_quote(&format!("vEthernet ({name})"));
            let mut out = String::new();
            if action == Action::Recreate {
                out.push_str(&remove_hns_endpoint(name));
            }
            out.push_str(&format!(
                "$endpoint = Get-HnsEndpoint | Where-Object Name -eq {q_name}\n\
                 if (-not $endpoint) {{\n    \
                 $network = Get-HnsNetwork | Where-Object Name -eq {q_network}\n    \
                 if (-not $network) {{ throw (\"no HNS network \" + {q_network} + \" for the host endpoint \" + {q_name}) }}\n    \
                 $endpoint = New-HnsEndpoint -NetworkId $network.Id -Name {q_name} -IPAddress {q_address} -Gateway '0.0.0.0'\n\
                 }}\n\
                 if (-not (Get-NetIPInterface -InterfaceAlias {q_interface} -AddressFamily IPv4 -ErrorAction SilentlyContinue)) {{\n    \
                 Attach-HnsHostEndpoint -EndpointID $endpoint.Id -CompartmentID 1\n\
                 }}\n\
                 Set-NetIPInterface -InterfaceAlias {q_interface} -AddressFamily IPv4 -Forwarding Enabled\n"
            ));
            out
        }
        WindowsObject::SourceVip {
            path,
            network,
            subnet,
            plugin,
            request,
            stale_files,
        } => {
            let mut out = String::new();
            if !stale_files.is_empty() {
                out.push_str(&format!(
                    "foreach ($path in {}) {{\n    \
                     if (-not (Test-Path -LiteralPath $path)) {{ continue }}\n    \
                     $recorded = Get-NetcRecordedAddress $path\n    \
                     if (-not $recorded -or -not (Test-NetcInSubnet $recorded {})) {{ Remove-Item -Force -LiteralPath $path }}\n\
                     }}\n",
                    ps_array(stale_files),
                    ps_quote(subnet)
                ));
            }
            // The request host.ps1 writes: the same keys and values.
            let request_json = serde_json::json!({
                "cniVersion": "0.3.0",
                "name": network,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]], "dataDir": "/var/lib/cni/networks"},
            })
            .to_string();
            // The pod subnet HNS has (flanneld made the network from the
            // Node's spec.podCIDR), checked against the compiled one before
            // a source VIP is reserved from it, as host.ps1 does.
            let (q_network, q_subnet) = (ps_quote(network), ps_quote(subnet));
            out.push_str(&import_hns("Get-HnsNetwork"));
            out.push('\n');
            out.push_str(&format!(
                "$hnsSubnet = @((Get-HnsNetwork | Where-Object Name -eq {q_network}).Subnets | ForEach-Object {{ $_.AddressPrefix }})[0]\n\
                 if (-not $hnsSubnet) {{ throw (\"no HNS network \" + {q_network} + \" yet: flanneld creates it when it starts; run this again once flanneld runs\") }}\n\
                 if ($hnsSubnet -ne {q_subnet}) {{ throw (\"HNS network \" + {q_network} + \" has pod subnet $hnsSubnet, but the topology gives this node \" + {q_subnet} + \": flanneld took the Node's spec.podCIDR, which differs from netc's lock file (run netc deploy, which refuses such Nodes, or netc adopt)\") }}\n"
            ));
            let (path, request, plugin) = (ps_quote(path), ps_quote(request), ps_quote(plugin));
            out.push_str(&format!(
                "if (-not (Test-Path -LiteralPath {path})) {{\n    \
                 Set-NetcFile {request} {}\n    \
                 $env:CNI_COMMAND = 'ADD'; $env:CNI_CONTAINERID = 'dummy'; $env:CNI_NETNS = 'dummy'; $env:CNI_IFNAME = 'dummy'; $env:CNI_PATH = (Split-Path -Parent {plugin})\n    \
                 $result = Get-Content -Raw -LiteralPath {request} | & {plugin}\n    \
                 if ($LASTEXITCODE -ne 0) {{ throw \"host-local failed to reserve the source VIP: $result\" }}\n    \
                 Set-NetcFile {path} ($result -join \"`n\")\n\
                 }}\n",
                ps_quote(&request_json)
            ));
            out
        }
    }
}

/// Removes every HNS network named `name`; none is no error.
fn remove_hns_network(name: &str) -> String {
    format!(
        "Get-HnsNetwork | Where-Object Name -eq {} | Remove-HnsNetwork\n",
        ps_quote(name)
    )
}

/// Removes every HNS endpoint named `name`; none is no error.
fn remove_hns_endpoint(name: &str) -> String {
    format!(
        "Get-HnsEndpoint | Where-Object Name -eq {} | Remove-HnsEndpoint\n",
        ps_quote(name)
    )
}
