#!/usr/bin/env bash
# Builds the real consumers of netc's flannel path from their published Go
# modules, at the versions pinned in the go.mod/go.sum files beside this
# script, into $NETC_TOOLS_DIR/bin (default /opt/netc-tools/bin):
#   etcd, kube-apiserver, kube-controller-manager  (control plane)
#   flanneld                                       (reads net-conf, writes subnet.env)
#   flannel                                        (the flannel CNI plugin)
#   flanneld.exe, kube-proxy.exe                   (Windows builds, run under Wine)
#   wincni.exe  (for Windows, run under Wine)      win-overlay/win-bridge reading
#                                                  netc's cni.conf (wincni/main.go)
# A stamp per binary records the hash of its go.mod, go.sum and Go sources
# (only wincni has any); a binary whose stamp matches is not rebuilt, so a
# warm machine spends no time here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools=${NETC_TOOLS_DIR:-/opt/netc-tools}
bin=$tools/bin
mkdir -p "$bin"
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0

# build DIR OUTPUT PACKAGE (GOOS and GOARCH from the environment)
build() {
  local dir=$1 out=$2 pkg=$3
  local stamp
  # The harness's own main.go is part of what it is; the other folders
  # hold no .go file, so their stamps are those of go.mod and go.sum.
  stamp=$({
    cat "$here/$dir/go.mod" "$here/$dir/go.sum"
    find "$here/$dir" -maxdepth 1 -name '*.go' -print0 | sort -z | xargs -0 -r cat
  } | sha256sum | cut -c1-16)
  if [ -x "$bin/$out" ] && [ "$(cat "$bin/$out.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "$out: up to date ($pkg)"
    return
  fi
  local start=$SECONDS
  # Build beside the target and rename, so an interrupted build never
  # leaves a half-written binary that a stamp vouches for.
  (cd "$here/$dir" && go build -trimpath -ldflags='-s -w' -o "$bin/.$out.tmp" "$pkg")
  mv -f "$bin/.$out.tmp" "$bin/$out"
  echo "$stamp" >"$bin/$out.stamp"
  echo "$out: built in $((SECONDS - start)) s ($pkg)"
}

total=$SECONDS
build etcd etcd go.etcd.io/etcd/server/v3
build kubernetes kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kubernetes kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
# flanneld links C code (its udp backend), as upstream builds it.
CGO_ENABLED=1 build flannel flanneld github.com/flannel-io/flannel
build flannel-cni flannel github.com/containernetworking/plugins/plugins/meta/flannel
# The Windows programs of the flannel path, from the same pinned modules:
# the tests run them under Wine with the generated DaemonSets' arguments.
GOOS=windows GOARCH=amd64 build flannel flanneld.exe github.com/flannel-io/flannel
GOOS=windows GOARCH=amd64 build kubernetes kube-proxy.exe k8s.io/kubernetes/cmd/kube-proxy
# The win-overlay/win-bridge harness is a Windows program: it links the
# plugins' Windows-only code (pkg/hns, hcsshim) and runs under Wine.
GOOS=windows GOARCH=amd64 build wincni wincni.exe netc.test/consumers/wincni
echo "real consumers ready in $bin ($((SECONDS - total)) s)"
