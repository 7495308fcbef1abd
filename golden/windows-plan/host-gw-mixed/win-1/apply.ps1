# Plan of node win-1 (windows), rendered by netc: what the Windows driver runs to
# apply it (2 steps). Run as Administrator; the first error stops it. CNI
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
Test-NetcCniPlugins 'C:\opt\cni\bin' @('flannel.exe', 'win-bridge.exe', 'host-local.exe') @()

# create file C:\etc\kube-flannel\net-conf.json: absent [hitless]
Set-NetcFile 'C:\etc\kube-flannel\net-conf.json' '{
  "Backend": {
    "Name": "cbr0",
    "Type": "host-gw"
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
              "10.96.0.0/12",
              "192.168.50.0/24"
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
      },
      {
        "name": "EndpointPolicy",
        "value": {
          "Settings": {
            "DestinationPrefix": "192.168.50.21/32",
            "NeedEncap": true
          },
          "Type": "SDNRoute"
        }
      }
    ],
    "type": "win-bridge"
  },
  "name": "cbr0",
  "type": "flannel"
}
'

# After the last change: the processes the DaemonSets run (warnings only).
Test-NetcProcess 'flanneld' 'flanneld.exe' @('--kube-subnet-mgr', '--subnet-file=C:\run\flannel\subnet.env', '--iface=192.168.50.21')
Test-NetcProcess 'kube-proxy' 'kube-proxy.exe' @('--proxy-mode=kernelspace', '--hostname-override=win-1', '--network-name=cbr0', '--cluster-cidr=10.244.0.0/16')
