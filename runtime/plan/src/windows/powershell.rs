//! The Windows driver's PowerShell: the script that observes a node
//! (`observe_script`, printing `WindowsObserved` as JSON) and the script
//! that applies a plan (`powershell`). Both are plain text, rendered
//! deterministically from data; netc never runs them itself.
//!
//! The commands are the ones `host.ps1` uses (compiler/templates/
//! host.ps1.j2), and the helper functions `Set-NetcFile`,
//! `Test-NetcCniPlugins`, `Test-NetcInSubnet`, `Get-NetcRecordedAddress` and
//! `Test-NetcProcess` are copies of its own, so both scripts agree on what
//! "the file holds exactly this", "the plugin is installed" and "the file
//! records an address in the subnet" mean:
//! - firewall rules: `Get-NetFirewallRule`, `Get-NetFirewallPortFilter`,
//!   `New-NetFirewallRule`, `Set-NetFirewallRule`, `Remove-NetFirewallRule`;
//! - HNS networks: `Get-HnsNetwork`, `New-HnsNetwork`, `Remove-HnsNetwork`
//!   from Microsoft's hns.psm1 (microsoft/SDN), imported from
//!   `C:\k\hns.psm1` when no such command is loaded;
//! - HNS host endpoints: hns.psm1's `Get-HnsEndpoint`, `New-HnsEndpoint`,
//!   `Attach-HnsHostEndpoint` (compartment 1, the host's) and
//!   `Remove-HnsEndpoint`, then `Set-NetIPInterface -Forwarding Enabled` on
//!   its `vEthernet (<name>)` interface, as flanneld's host-gw backend and
//!   Microsoft's SDN scripts do;
//! - files: written aside and renamed with `Move-Item -Force`;
//! - the source VIP: host-local run by hand with the request file, as
//!   Microsoft's `GetSourceVip` does.
//!
//! The apply script sets `$ErrorActionPreference = 'Stop'` (the first
//! failure ends it), refuses a plan with conflicts before anything else,
//! checks the CNI plugins before the first change (a missing plugin that
//! no DaemonSet installs stops it there), runs one block per step under a
//! `# <action> <object>: <reason> [<disruption>]` comment, and checks the
//! DaemonSets' processes after the last step (warnings only: they need the
//! source VIP the steps may have just reserved). Each block is guarded, so
//! running it twice is harmless.

use std::collections::BTreeSet;

use netc_compiler::emit::program::ps_quote;

use super::objects::{WindowsCheck, WindowsDesired, WindowsKey, WindowsObject};
use super::observed::WindowsInventory;
use super::plan::{one_line, WindowsPlan, WindowsStep};
use crate::engine::Action;

/// Run as Administrator, stop at the first error, no undefined variables.
const PREAMBLE: &str =
    "#Requires -RunAsAdministrator\nSet-StrictMode -Version Latest\n$ErrorActionPreference = 'Stop'\n";

/// hns.psm1's commands, loaded as `host.ps1` loads them.
const IMPORT_HNS: &str =
    "if (-not (Get-Command New-HnsNetwork -ErrorAction SilentlyContinue)) { Import-Module C:\\k\\hns.psm1 }\n";

const SET_FILE: &str = r#"# The file holds exactly $Content (UTF-8, no BOM; written aside, then renamed).
function Set-NetcFile([string]$Path, [string]$Content) {
    if ((Test-Path -LiteralPath $Path) -and ([IO.File]::ReadAllText($Path) -ceq $Content)) { return }
    New-Item -ItemType Directory -Force -Path (Split-Path -Parent $Path) | Out-Null
    [IO.File]::WriteAllText("$Path.netc-tmp", $Content)
    Move-Item -Force -LiteralPath "$Path.netc-tmp" -Destination $Path
}
"#;

const TEST_CNI_PLUGINS: &str = r#"# Every one of $Plugins (the CNI config calls them) is in $Directory, or in
# $env:NETC_CNI_BIN when set; only checked, never installed. A missing one in
# $Later is installed by a DaemonSet when its pod starts: a warning. Any other
# missing one stops the script.
function Test-NetcCniPlugins([string]$Directory, [string[]]$Plugins, [string[]]$Later) {
    if ($env:NETC_CNI_BIN) { $Directory = $env:NETC_CNI_BIN }
    $absent = @($Plugins | Where-Object { -not (Test-Path -LiteralPath (Join-Path $Directory $_) -PathType Leaf) })
    $pending = @($absent | Where-Object { $Later -contains $_ })
    $missing = @($absent | Where-Object { $Later -notcontains $_ })
    if ($pending.Count -gt 0) {
        Write-Warning "CNI plugin(s) not in $Directory yet: $($pending -join ', ') (a DaemonSet of manifests/ installs them when its pod starts)"
    }
    if ($missing.Count -gt 0) {
        throw "CNI plugin(s) missing from ${Directory}: $($missing -join ', '); the CNI config calls them. Unpack the Windows release of https://github.com/containernetworking/plugins (host-local.exe, win-overlay.exe, win-bridge.exe) and flannel.exe from https://github.com/flannel-io/cni-plugin into $Directory."
    }
}
"#;

/// The argument is parenthesized for tree-sitter's PowerShell grammar, as
/// in `host.ps1` (a method call followed by an index is not one argument
/// there).
const TEST_IN_SUBNET: &str = r#"# Whether IPv4 $Address (a prefix length is ignored) lies in $Subnet (a.b.c.d/n).
function Test-NetcInSubnet([string]$Address, [string]$Subnet) {
    $net, $len = $Subnet.Split('/')
    $toInt = { param($ip) $b = ([Net.IPAddress]$ip).GetAddressBytes(); [Array]::Reverse($b); [BitConverter]::ToUInt32($b, 0) }
    # 4294967295 rather than 0xFFFFFFFF, which PowerShell reads as the Int32 -1.
    $ones = [uint64]4294967295
    $mask = [uint32](($ones -shl (32 - [int]$len)) -band $ones)
    ((& $toInt ($Address.Split('/')[0])) -band $mask) -eq ((& $toInt $net) -band $mask)
}
"#;

const GET_RECORDED_ADDRESS: &str = r#"# The first address a source-VIP file records: a CNI result (.ips[0].address,
# or .ip4.ip for CNI 0.2.0) or a host-local request (.ipam.ranges[0][0].subnet).
function Get-NetcRecordedAddress([string]$Path) {
    try { $json = Get-Content -Raw -LiteralPath $Path | ConvertFrom-Json } catch { return $null }
    foreach ($probe in { $json.ips[0].address }, { $json.ip4.ip }, { $json.ipam.ranges[0][0].subnet }) {
        try { $value = & $probe; if ($value) { return [string]$value } } catch { }
    }
    $null
}
"#;

const TEST_PROCESS: &str = r#"# $Binary is started by a DaemonSet (manifests/), never here: warn when it
# is not running yet, or runs without one of $Arguments.
function Test-NetcProcess([string]$Name, [string]$Binary, [string[]]$Arguments) {
    $running = @(Get-CimInstance Win32_Process -Filter "Name = '$Binary'")
    if ($running.Count -eq 0) { Write-Warning "$Name is not running yet (its DaemonSet starts it)"; return }
    foreach ($argument in $Arguments) {
        if (-not @($running | Where-Object { $_.CommandLine -and $_.CommandLine.Contains($argument) }).Count) {
            Write-Warning "$Name runs without $argument"
        }
    }
}
"#;

const GET_PROPERTY: &str = r#"# $Object's property $Name, or $null when it has none (strict mode would throw).
function Get-NetcProperty($Object, [string]$Name) {
    $property = $Object.PSObject.Properties[$Name]
    if ($property) { $property.Value } else { $null }
}
"#;

const WAIT_ADDRESS: &str = r#"# HNS moves the host's address between the adapter and a vSwitch when it
# creates or removes a network, and the node is offline meanwhile: wait (at
# most 60 s) until $Address is usable again, so later steps have a network.
function Wait-NetcAddress([string]$Address) {
    for ($second = 0; $second -lt 60; $second++) {
        $found = @(Get-NetIPAddress -IPAddress $Address -ErrorAction SilentlyContinue | Where-Object AddressState -eq 'Preferred')
        if ($found.Count -gt 0) { return }
        Start-Sleep -Seconds 1
    }
    throw "$Address is not back 60 s after the HNS change"
}
"#;

/// The physical adapter of the network being replaced: once a network
/// exists the host's address sits on its `vEthernet (...)` adapter, which
/// goes with it, so the address cannot name the adapter for the new one.
const GET_HNS_ADAPTER: &str = r#"# The physical adapter under HNS network $Name (its NetworkAdapterName), or
# $null when there is no such network or it names none.
function Get-NetcHnsAdapter([string]$Name) {
    foreach ($network in @(Get-HnsNetwork | Where-Object Name -eq $Name)) {
        $adapter = Get-NetcProperty $network 'NetworkAdapterName'
        if ($adapter) { return [string]$adapter }
    }
    $null
}
"#;

/// `@('a', 'b')`: a PowerShell array of string literals.
fn ps_array<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| ps_quote(item.as_ref())).collect();
    format!("@({})", quoted.join(", "))
}

/// A `#` comment: one line whatever the text holds.
fn comment(text: &str) -> String {
    format!("# {}\n", one_line(text))
}

/// The script that prints, as one line of JSON (`WindowsObserved`), the
/// state of every object `desired` names or `owned` lists. It changes
/// nothing.
pub fn observe_script(desired: &WindowsDesired, owned: &WindowsInventory) -> String {
    let mut firewall_rules = BTreeSet::new();
    let mut files = BTreeSet::new();
    let mut hns_networks = BTreeSet::new();
    let mut hns_endpoints = BTreeSet::new();
    let mut source_vip_files = BTreeSet::new();
    let desired_keys = desired.objects.iter().map(WindowsObject::key);
    for key in desired_keys.chain(owned.iter().cloned()) {
        match key {
            WindowsKey::FirewallRule(name) => firewall_rules.insert(name),
            WindowsKey::File(path) => files.insert(path),
            WindowsKey::HnsNetwork(name) => hns_networks.insert(name),
            WindowsKey::HnsEndpoint(name) => hns_endpoints.insert(name),
            WindowsKey::SourceVip(path) => source_vip_files.insert(path),
        };
    }
    for object in &desired.objects {
        if let WindowsObject::SourceVip { stale_files, .. } = object {
            source_vip_files.extend(stale_files.iter().cloned());
        }
    }
    let list = |set: BTreeSet<String>| ps_array(&set.into_iter().collect::<Vec<_>>());

    let mut out = String::new();
    out.push_str(&comment(&format!(
        "Observe script of node {} (windows), rendered by netc: prints the state of the",
        desired.node
    )));
    out.push_str("# objects the node's program names or netc's inventory lists, as one line of\n");
    out.push_str("# JSON (WindowsObserved in runtime/plan/src/windows/observed.rs). It changes\n");
    out.push_str("# nothing.\n");
    out.push_str(PREAMBLE);
    out.push('\n');
    out.push_str(GET_PROPERTY);
    out.push('\n');
    out.push_str(GET_RECORDED_ADDRESS);
    out.push_str(&format!(
        r#"
$firewallRules = [Collections.Generic.List[object]]::new()
foreach ($name in {}) {{
    $rule = Get-NetFirewallRule -Name $name -ErrorAction SilentlyContinue
    if (-not $rule) {{ continue }}
    $filter = $rule | Get-NetFirewallPortFilter
    $firewallRules.Add([ordered]@{{
        name = $name
        direction = [string]$rule.Direction
        protocol = [string]$filter.Protocol
        local_port = (@($filter.LocalPort) -join ',')
        action = [string]$rule.Action
        enabled = ([string]$rule.Enabled -eq 'True')
    }})
}}

$files = [ordered]@{{}}
foreach ($path in {}) {{
    if (Test-Path -LiteralPath $path -PathType Leaf) {{ $files[$path] = [IO.File]::ReadAllText($path) }}
}}

$hnsNetworks = [Collections.Generic.List[object]]::new()
$hnsNames = {}
if ($hnsNames.Count -gt 0) {{
    if (-not (Get-Command Get-HnsNetwork -ErrorAction SilentlyContinue)) {{ Import-Module C:\k\hns.psm1 }}
    $all = @(Get-HnsNetwork)
    foreach ($name in $hnsNames) {{
        foreach ($network in @($all | Where-Object Name -eq $name)) {{
            $subnets = @(foreach ($subnet in @(Get-NetcProperty $network 'Subnets')) {{
                [ordered]@{{ address_prefix = [string]$subnet.AddressPrefix; gateway = (Get-NetcProperty $subnet 'GatewayAddress') }}
            }})
            $hnsNetworks.Add([ordered]@{{
                name = $name
                type = [string]$network.Type
                subnets = $subnets
                adapter = (Get-NetcProperty $network 'NetworkAdapterName')
            }})
        }}
    }}
}}

$hnsEndpoints = [Collections.Generic.List[object]]::new()
$endpointNames = {}
if ($endpointNames.Count -gt 0) {{
    if (-not (Get-Command Get-HnsEndpoint -ErrorAction SilentlyContinue)) {{ Import-Module C:\k\hns.psm1 }}
    $all = @(Get-HnsEndpoint)
    foreach ($name in $endpointNames) {{
        foreach ($endpoint in @($all | Where-Object Name -eq $name)) {{
            $interface = Get-NetIPInterface -InterfaceAlias "vEthernet ($name)" -AddressFamily IPv4 -ErrorAction SilentlyContinue
            $hnsEndpoints.Add([ordered]@{{
                name = $name
                network = (Get-NetcProperty $endpoint 'VirtualNetworkName')
                address = (Get-NetcProperty $endpoint 'IPAddress')
                forwarding = ($null -ne $interface -and [string]$interface.Forwarding -eq 'Enabled')
            }})
        }}
    }}
}}

$sourceVipFiles = [ordered]@{{}}
foreach ($path in {}) {{
    if (Test-Path -LiteralPath $path -PathType Leaf) {{ $sourceVipFiles[$path] = Get-NetcRecordedAddress $path }}
}}

[ordered]@{{
    firewall_rules = @($firewallRules)
    files = $files
    hns_networks = @($hnsNetworks)
    hns_endpoints = @($hnsEndpoints)
    source_vip_files = $sourceVipFiles
}} | ConvertTo-Json -Depth 6 -Compress
"#,
        list(firewall_rules),
        list(files),
        list(hns_networks),
        list(hns_endpoints),
        list(source_vip_files),
    ));
    out
}

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
    let hns_made = has_step(|s| matches!(s.object, Some(WindowsObject::HnsNetwork { .. })));
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
        out.push_str(IMPORT_HNS);
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
        WindowsKey::HnsNetwork(name) => {
            format!("Get-HnsNetwork | Where-Object Name -eq {} | Remove-HnsNetwork\n", ps_quote(name))
        }
        WindowsKey::HnsEndpoint(name) => {
            format!("Get-HnsEndpoint | Where-Object Name -eq {} | Remove-HnsEndpoint\n", ps_quote(name))
        }
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
        WindowsObject::HnsNetwork {
            name,
            kind,
            subnet,
            gateway,
            adapter,
            address,
        } => {
            let (q_name, q_address) = (ps_quote(name), ps_quote(address));
            let new = format!(
                "New-HnsNetwork -Type {} -Name {q_name} -AddressPrefix {} -Gateway {} -AdapterName $adapter | Out-Null\n\
                 Wait-NetcAddress {q_address}\n",
                ps_quote(kind),
                ps_quote(subnet),
                ps_quote(gateway)
            );
            let by_address = format!("(Get-NetIPAddress -IPAddress {q_address}).InterfaceAlias");
            match (action, adapter) {
                (Action::Recreate, adapter) => {
                    let first = match adapter {
                        Some(adapter) => format!("$adapter = {}\n", ps_quote(adapter)),
                        None => format!("$adapter = Get-NetcHnsAdapter {q_name}\n"),
                    };
                    format!(
                        "{first}Get-HnsNetwork | Where-Object Name -eq {q_name} | Remove-HnsNetwork\n\
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
                out.push_str(&format!(
                    "Get-HnsEndpoint | Where-Object Name -eq {q_name} | Remove-HnsEndpoint\n"
                ));
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
            out.push_str(&format!(
                "if (-not (Get-Command Get-HnsNetwork -ErrorAction SilentlyContinue)) {{ Import-Module C:\\k\\hns.psm1 }}\n\
                 $hnsSubnet = @((Get-HnsNetwork | Where-Object Name -eq {q_network}).Subnets | ForEach-Object {{ $_.AddressPrefix }})[0]\n\
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
