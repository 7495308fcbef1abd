// The flannel CNI plugin for netc's tests. github.com/flannel-io/cni-plugin
// (v1.9.1-flannel3, the version netc's manifests install) is not served by
// the Go module proxy at any version; this is the same plugin in its last
// release inside containernetworking/plugins (plugins/meta/flannel), from
// which flannel-io/cni-plugin was split off.
module netc.test/consumers/flannel-cni

go 1.16

require github.com/containernetworking/plugins v0.9.1 // indirect

tool github.com/containernetworking/plugins/plugins/meta/flannel
