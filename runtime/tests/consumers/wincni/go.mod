// The win-overlay/win-bridge harness (main.go), built for Windows and run
// under Wine by runtime/tests/wincni.rs.
//
// win-overlay and win-bridge, the plugins netc's cni.conf names, live in
// containernetworking/plugins (plugins/main/windows/), not in
// microsoft/windows-container-networking (whose plugins are sdnoverlay,
// sdnbridge and nat). sig-windows-tools' hostprocess/flannel/flanneld/
// Dockerfile, as last seen in the public code index, unpacks the Windows
// release of containernetworking/plugins 0.8.7 (and windows-container-
// networking 0.2.0, for the sdnoverlay its own config delegates to); a later
// HostProcess flannel Dockerfile in the same index, whose repository the
// index does not name (FLANNEL_VERSION v0.26.6), unpacks v1.7.1. 0.8.7's
// win-overlay has no CNI API v2 (HCN) path at all (added by
// containernetworking/plugins#725, 2022) and its win-bridge reads v2
// policies from `HcnPolicyArgs`, so it cannot run netc's default config (v2,
// required from Kubernetes 1.24: N0315). v1.7.1, served by the Go module
// proxy, is pinned; its Windows code (pkg/hns, plugins/main/windows) is the
// same as v1.9.1's.
module netc.test/consumers/wincni

go 1.23.0

require (
	github.com/Microsoft/hcsshim v0.12.9
	github.com/buger/jsonparser v1.1.1
	github.com/containernetworking/cni v1.3.0
	github.com/containernetworking/plugins v1.7.1
)

require (
	github.com/Microsoft/go-winio v0.6.2 // indirect
	github.com/containerd/cgroups/v3 v3.0.3 // indirect
	github.com/containerd/errdefs v0.3.0 // indirect
	github.com/containerd/errdefs/pkg v0.3.0 // indirect
	github.com/containerd/typeurl/v2 v2.2.0 // indirect
	github.com/coreos/go-iptables v0.8.0 // indirect
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/groupcache v0.0.0-20210331224755-41bb18bfe9da // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/safchain/ethtool v0.5.10 // indirect
	github.com/sirupsen/logrus v1.9.3 // indirect
	github.com/vishvananda/netlink v1.3.1-0.20250303224720-0e7078ed04c8 // indirect
	github.com/vishvananda/netns v0.0.5 // indirect
	go.opencensus.io v0.24.0 // indirect
	golang.org/x/sys v0.32.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20240903143218-8af14fe29dc1 // indirect
	google.golang.org/grpc v1.67.0 // indirect
	google.golang.org/protobuf v1.36.5 // indirect
	sigs.k8s.io/knftables v0.0.18 // indirect
)
