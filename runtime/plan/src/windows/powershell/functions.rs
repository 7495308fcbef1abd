//! The PowerShell functions the observe and apply scripts define, each
//! with its comment, as text; a script includes only those it calls.
//! `Set-NetcFile`, `Test-NetcCniPlugins`, `Test-NetcInSubnet`,
//! `Get-NetcRecordedAddress` and `Test-NetcProcess` are copies of
//! `host.ps1`'s own (see the `powershell` header).

pub(super) const SET_FILE: &str = r#"# The file holds exactly $Content (UTF-8, no BOM; written aside, then renamed).
function Set-NetcFile([string]$Path, [string]$Content) {
    if ((Test-Path -LiteralPath $Path) -and ([IO.File]::ReadAllText($Path) -ceq $Content)) { return }
    New-Item -ItemType Directory -Force -Path (Split-Path -Parent $Path) | Out-Null
    [IO.File]::WriteAllText("$Path.netc-tmp", $Content)
    Move-Item -Force -LiteralPath "$Path.netc-tmp" -Destination $Path
}
"#;

pub(super) const TEST_CNI_PLUGINS: &str = r#"# Every one of $Plugins (the CNI config calls them) is in $Directory, or in
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
pub(super) const TEST_IN_SUBNET: &str = r#"# Whether IPv4 $Address (a prefix length is ignored) lies in $Subnet (a.b.c.d/n).
function Test-NetcInSubnet([string]$Address, [string]$Subnet) {
    $net, $len = $Subnet.Split('/')
    $toInt = { param($ip) $b = ([Net.IPAddress]$ip).GetAddressBytes(); [Array]::Reverse($b); [BitConverter]::ToUInt32($b, 0) }
    # 4294967295 rather than 0xFFFFFFFF, which PowerShell reads as the Int32 -1.
    $ones = [uint64]4294967295
    $mask = [uint32](($ones -shl (32 - [int]$len)) -band $ones)
    ((& $toInt ($Address.Split('/')[0])) -band $mask) -eq ((& $toInt $net) -band $mask)
}
"#;

pub(super) const GET_RECORDED_ADDRESS: &str = r#"# The first address a source-VIP file records: a CNI result (.ips[0].address,
# or .ip4.ip for CNI 0.2.0) or a host-local request (.ipam.ranges[0][0].subnet).
function Get-NetcRecordedAddress([string]$Path) {
    try { $json = Get-Content -Raw -LiteralPath $Path | ConvertFrom-Json } catch { return $null }
    foreach ($probe in { $json.ips[0].address }, { $json.ip4.ip }, { $json.ipam.ranges[0][0].subnet }) {
        try { $value = & $probe; if ($value) { return [string]$value } } catch { }
    }
    $null
}
"#;

pub(super) const TEST_PROCESS: &str = r#"# $Binary is started by a DaemonSet (manifests/), never here: warn when it
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

pub(super) const GET_PROPERTY: &str = r#"# $Object's property $Name, or $null when it has none (strict mode would throw).
function Get-NetcProperty($Object, [string]$Name) {
    $property = $Object.PSObject.Properties[$Name]
    if ($property) { $property.Value } else { $null }
}
"#;

pub(super) const WAIT_ADDRESS: &str = r#"# HNS moves the host's address between the adapter and a vSwitch when it
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
pub(super) const GET_HNS_ADAPTER: &str = r#"# The physical adapter under HNS network $Name (its NetworkAdapterName), or
# $null when there is no such network or it names none.
function Get-NetcHnsAdapter([string]$Name) {
    foreach ($network in @(Get-HnsNetwork | Where-Object Name -eq $Name)) {
        $adapter = Get-NetcProperty $network 'NetworkAdapterName'
        if ($adapter) { return [string]$adapter }
    }
    $null
}
"#;
