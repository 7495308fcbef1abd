# Plan of node win-1 (windows), rendered by netc: what the Windows driver runs to
# apply it (4 steps). Run as Administrator; the first error stops it. CNI
# plugins are checked before the first change, the DaemonSets' processes
# after the last.
#Requires -RunAsAdministrator
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# The file holds exactly $Content (UTF-8, no BOM; written aside, then renamed).
function Set-NetcFile([string]$Path, [string]$Content) {
    if ((Test-Path -LiteralPath $Path) -and ([IO.File]::ReadAllText($Path) -ceq $Content)) { return }
    New-Item -ItemType Directory -Force -Path (Split-Path -Parent $Path) | Out-Null
    [IO.File]::WriteAllText("$Path.netc-tmp", $Content)
    Move-Item -Force -LiteralPath "$Path.netc-tmp" -Destination $Path
}

# Every one of $Plugins (the CNI config calls them) is in $Directory, or in
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

# Whether IPv4 $Address (a prefix length is ignored) lies in $Subnet (a.b.c.d/n).
function Test-NetcInSubnet([string]$Address, [string]$Subnet) {
    $net, $len = $Subnet.Split('/')
    $toInt = { param($ip) $b = ([Net.IPAddress]$ip).GetAddressBytes(); [Array]::Reverse($b); [BitConverter]::ToUInt32($b, 0) }
    # 4294967295 rather than 0xFFFFFFFF, which PowerShell reads as the Int32 -1.
    $ones = [uint64]4294967295
    $mask = [uint32](($ones -shl (32 - [int]$len)) -band $ones)
    ((& $toInt ($Address.Split('/')[0])) -band $mask) -eq ((& $toInt $net) -band $mask)
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

# $Binary is started by a DaemonSet (manifests/), never here: warn when it
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

# Before any change: the CNI plugins the CNI config calls are installed.
Test-NetcCniPlugins 'C:\opt\cni\bin' @('flannel.exe', 'win-overlay.exe', 'host-local.exe') @()

# create firewall-rule OverlayTraffic4789UDP: absent [hitless]
if (Get-NetFirewallRule -Name 'OverlayTraffic4789UDP' -ErrorAction SilentlyContinue) {
    Set-NetFirewallRule -Name 'OverlayTraffic4789UDP' -Direction 'Inbound' -Protocol 'UDP' -LocalPort 4789 -Action Allow -Enabled True
} else {
    New-NetFirewallRule -Name 'OverlayTraffic4789UDP' -DisplayName 'OverlayTraffic4789UDP' -Direction 'Inbound' -Protocol 'UDP' -LocalPort 4789 -Action Allow -Enabled True | Out-Null
}

# create file C:\etc\kube-flannel\net-conf.json: absent [hitless]
Set-NetcFile 'C:\etc\kube-flannel\net-conf.json' '{
  "Backend": {
    "MTU": 1500,
    "Name": "flannel.4096",
    "Port": 4789,
    "Type": "vxlan",
    "VNI": 4096
  },
  "EnableNFTables": false,
  "Network": "10.244.0.0/16"
}
'

# create file C:\etc\cni\net.d\10-flannel.conf: absent [hitless]
Set-NetcFile 'C:\etc\cni\net.d\10-flannel.conf' '{
  "capabilities": {
    "dns": true,
    "portMappings": true
  },
  "cniVersion": "0.3.0",
  "delegate": {
    "apiVersion": 2,
    "dns": {
      "nameservers": [
        "10.96.0.10"
      ],
      "search": [
        "svc.cluster.local"
      ]
    },
    "policies": [
      {
        "name": "EndpointPolicy",
        "value": {
          "Settings": {
            "Exceptions": [
              "10.244.0.0/16",
              "10.96.0.0/12"
            ]
          },
          "Type": "OutBoundNAT"
        }
      },
      {
        "name": "EndpointPolicy",
        "value": {
          "Settings": {
            "DestinationPrefix": "10.96.0.0/12",
            "NeedEncap": true
          },
          "Type": "SDNRoute"
        }
      }
    ],
    "type": "win-overlay"
  },
  "name": "flannel.4096",
  "type": "flannel"
}
'

# create source-vip C:\k\sourcevip.json: absent [hitless]
foreach ($path in @('C:\k\sourcevip.json', 'C:\k\SourceVipRequest.json')) {
    if (-not (Test-Path -LiteralPath $path)) { continue }
    $recorded = Get-NetcRecordedAddress $path
    if (-not $recorded -or -not (Test-NetcInSubnet $recorded '10.244.2.0/24')) { Remove-Item -Force -LiteralPath $path }
}
if (-not (Get-Command Get-HnsNetwork -ErrorAction SilentlyContinue)) { Import-Module C:\k\hns.psm1 }
$hnsSubnet = @((Get-HnsNetwork | Where-Object Name -eq 'flannel.4096').Subnets | ForEach-Object { $_.AddressPrefix })[0]
if (-not $hnsSubnet) { throw ("no HNS network " + 'flannel.4096' + " yet: flanneld creates it when it starts; run this again once flanneld runs") }
if ($hnsSubnet -ne '10.244.2.0/24') { throw ("HNS network " + 'flannel.4096' + " has pod subnet $hnsSubnet, but the topology gives this node " + '10.244.2.0/24' + ": flanneld took the Node's spec.podCIDR, which differs from netc's lock file (run netc deploy, which refuses such Nodes, or netc adopt)") }
if (-not (Test-Path -LiteralPath 'C:\k\sourcevip.json')) {
    Set-NetcFile 'C:\k\SourceVipRequest.json' '{"cniVersion":"0.3.0","ipam":{"dataDir":"/var/lib/cni/networks","ranges":[[{"subnet":"10.244.2.0/24"}]],"type":"host-local"},"name":"flannel.4096"}'
    $env:CNI_COMMAND = 'ADD'; $env:CNI_CONTAINERID = 'dummy'; $env:CNI_NETNS = 'dummy'; $env:CNI_IFNAME = 'dummy'; $env:CNI_PATH = (Split-Path -Parent 'C:\opt\cni\bin\host-local.exe')
    $result = Get-Content -Raw -LiteralPath 'C:\k\SourceVipRequest.json' | & 'C:\opt\cni\bin\host-local.exe'
    if ($LASTEXITCODE -ne 0) { throw "host-local failed to reserve the source VIP: $result" }
    Set-NetcFile 'C:\k\sourcevip.json' ($result -join "`n")
}

# After the last change: the processes the DaemonSets run (warnings only).
Test-NetcProcess 'flanneld' 'flanneld.exe' @('--kube-subnet-mgr', '--subnet-file=C:\run\flannel\subnet.env', '--iface=10.127.130.21')
$SourceVip = ((Get-Content -Raw -LiteralPath 'C:\k\sourcevip.json' | ConvertFrom-Json).ips[0].address -split '/')[0]
Test-NetcProcess 'kube-proxy' 'kube-proxy.exe' @('--proxy-mode=kernelspace', '--hostname-override=win-1', '--network-name=flannel.4096', '--cluster-cidr=10.244.0.0/16', '--source-vip=$(SOURCE_VIP)'.Replace('$(SOURCE_VIP)', $SourceVip))
