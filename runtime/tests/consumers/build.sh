#!/usr/bin/env bash
# Builds the real consumers of netc's flannel path from their published Go
# modules, at the versions pinned in the go.mod/go.sum files beside this
# script, into $NETC_TOOLS_DIR/bin (default /opt/netc-tools/bin):
#   etcd, kube-apiserver, kube-controller-manager  (control plane)
#   flanneld                                       (reads net-conf, writes subnet.env)
#   flannel                                        (the flannel CNI plugin)
#   flanneld.exe, kube-proxy.exe                   (Windows builds, run under Wine)
# A stamp per binary records the hash of its go.mod and go.sum; a binary
# whose stamp matches is not rebuilt, so a warm machine spends no time here.
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
  stamp=$(cat "$here/$dir/go.mod" "$here/$dir/go.sum" | sha256sum | cut -c1-16)
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
echo "real consumers ready in $bin ($((SECONDS - total)) s)"
