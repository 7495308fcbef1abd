//! The observe script: prints, as one line of JSON (`WindowsObserved`),
//! the state of every object a program names or the inventory lists.

use std::collections::BTreeSet;

use super::functions::{GET_PROPERTY, GET_RECORDED_ADDRESS};
use super::{comment, import_hns, ps_array, PREAMBLE};
use crate::windows::objects::{WindowsDesired, WindowsKey, WindowsObject};
use crate::windows::observed::WindowsInventory;

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
    {import_networks}
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
    {import_endpoints}
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
        import_networks = import_hns("Get-HnsNetwork"),
        import_endpoints = import_hns("Get-HnsEndpoint"),
    ));
    out
}
