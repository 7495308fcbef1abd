# Observe script of node win-2 (windows), rendered by netc: prints the state of the
# objects the node's program names or netc's inventory lists, as one line of
# JSON (WindowsObserved in runtime/plan/src/windows/observed.rs). It changes
# nothing.
#Requires -RunAsAdministrator
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# $Object's property $Name, or $null when it has none (strict mode would throw).
function Get-NetcProperty($Object, [string]$Name) {
    $property = $Object.PSObject.Properties[$Name]
    if ($property) { $property.Value } else { $null }
}

# The first address a source-VIP file records: a CNI result (.ips[0].address,
# or .ip4.ip for CNI 0.2.0) or a host-local request (.ipam.ranges[0][0].subnet).
function Get-NetcRecordedAddress([string]$Path) {
    try { $json = Get-Content -Raw -LiteralPath $Path | ConvertFrom-Json } catch { return $null }
    foreach ($probe in { $json.ips[0].address }, { $json.ip4.ip }, { $json.ipam.ranges[0][0].subnet }) {
        try { $value = & $probe; if ($value) { return [string]$value } } catch { }
    }
    $null
}

$firewallRules = [Collections.Generic.List[object]]::new()
foreach ($name in @('OverlayTraffic4789UDP')) {
    $rule = Get-NetFirewallRule -Name $name -ErrorAction SilentlyContinue
    if (-not $rule) { continue }
    $filter = $rule | Get-NetFirewallPortFilter
    $firewallRules.Add([ordered]@{
        name = $name
        direction = [string]$rule.Direction
        protocol = [string]$filter.Protocol
        local_port = (@($filter.LocalPort) -join ',')
        action = [string]$rule.Action
        enabled = ([string]$rule.Enabled -eq 'True')
    })
}

$files = [ordered]@{}
foreach ($path in @('C:\etc\cni\net.d\10-flannel.conf', 'C:\etc\kube-flannel\net-conf.json')) {
    if (Test-Path -LiteralPath $path -PathType Leaf) { $files[$path] = [IO.File]::ReadAllText($path) }
}

$hnsNetworks = [Collections.Generic.List[object]]::new()
$hnsNames = @()
if ($hnsNames.Count -gt 0) {
    if (-not (Get-Command Get-HnsNetwork -ErrorAction SilentlyContinue)) { Import-Module C:\k\hns.psm1 }
    $all = @(Get-HnsNetwork)
    foreach ($name in $hnsNames) {
        foreach ($network in @($all | Where-Object Name -eq $name)) {
            $subnets = @(foreach ($subnet in @(Get-NetcProperty $network 'Subnets')) {
                [ordered]@{ address_prefix = [string]$subnet.AddressPrefix; gateway = (Get-NetcProperty $subnet 'GatewayAddress') }
            })
            $hnsNetworks.Add([ordered]@{
                name = $name
                type = [string]$network.Type
                subnets = $subnets
                adapter = (Get-NetcProperty $network 'NetworkAdapterName')
            })
        }
    }
}

$hnsEndpoints = [Collections.Generic.List[object]]::new()
$endpointNames = @()
if ($endpointNames.Count -gt 0) {
    if (-not (Get-Command Get-HnsEndpoint -ErrorAction SilentlyContinue)) { Import-Module C:\k\hns.psm1 }
    $all = @(Get-HnsEndpoint)
    foreach ($name in $endpointNames) {
        foreach ($endpoint in @($all | Where-Object Name -eq $name)) {
            $interface = Get-NetIPInterface -InterfaceAlias "vEthernet ($name)" -AddressFamily IPv4 -ErrorAction SilentlyContinue
            $hnsEndpoints.Add([ordered]@{
                name = $name
                network = (Get-NetcProperty $endpoint 'VirtualNetworkName')
                address = (Get-NetcProperty $endpoint 'IPAddress')
                forwarding = ($null -ne $interface -and [string]$interface.Forwarding -eq 'Enabled')
            })
        }
    }
}

$sourceVipFiles = [ordered]@{}
foreach ($path in @('C:\k\SourceVipRequest.json', 'C:\k\sourcevip.json')) {
    if (Test-Path -LiteralPath $path -PathType Leaf) { $sourceVipFiles[$path] = Get-NetcRecordedAddress $path }
}

[ordered]@{
    firewall_rules = @($firewallRules)
    files = $files
    hns_networks = @($hnsNetworks)
    hns_endpoints = @($hnsEndpoints)
    source_vip_files = $sourceVipFiles
} | ConvertTo-Json -Depth 6 -Compress
