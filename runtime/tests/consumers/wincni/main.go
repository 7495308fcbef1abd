//go:build windows

// Command wincni reads a cni.conf that netc compiled for a Windows node the
// way the node's CNI stack reads it when containerd adds a pod, and prints as
// JSON what the win-overlay or win-bridge plugin would hand to HNS (CNI API
// v1) or HCN (API v2): the network it looks up, the endpoint's address,
// address family, gateway and DNS, and every endpoint policy (OutBoundNAT
// exceptions, SDNRoute/ROUTE with encapsulation, ProviderAddress, loopback
// DSR, port mappings).
//
// The path, in order:
//  1. libcni (github.com/containernetworking/cni v1.3.0) loads the single
//     .conf as containerd's go-cni does (ConfFromBytes, ConfListFromConf),
//     injects name and cniVersion (libcni/api.go buildOneConfig) and the
//     runtime's capability arguments the conf declares (injectRuntimeConfig).
//  2. For `"type": "flannel"`, the flannel meta plugin merges subnet.env into
//     its delegate (flannel.go and flannel_windows.go; see flannelAdd).
//  3. win-overlay or win-bridge (github.com/containernetworking/plugins
//     v1.7.1, plugins/main/windows/) runs its cmdAdd, with host-local's
//     allocator (plugins/ipam/host-local/backend/allocator) for IPAM.
//
// Every plugin runs under the real skel dispatcher (skel.PluginMainFuncs-
// WithError with the plugin's supported versions), so the CNI library's own
// checks (network name, cniVersion) apply. The plugins' exported library
// code is called as is: pkg/hns (policies, DNS, endpoint names, results),
// host-local's allocator and config loader, hcsshim's HNS and HCN types.
// What lives in a plugin's main package, or sits behind an HNS query, is
// reproduced here with the upstream file and lines it mirrors.
//
// It never calls HNS or HCN: it runs under Wine, which has none. Instead of
// hcn.GetNetworkByName the network is the one given on the command line (the
// one flanneld or netc's host program creates on the node); instead of
// hcn.DSRSupported, DSR is taken as supported (netc's N0310 requires a
// Windows build that has it); host-local's stores are in memory (the
// upstream FakeStore), one per directory the disk store would use
// (dataDir/name), empty as on a node before its first pod, except for what
// --reserve-first puts there: a host-local request run before the pod, such
// as the source-VIP reservation of netc's host program.
//
// Usage:
//
//	wincni.exe --conf cni.conf [--subnet-env subnet.env]
//	    --network-name NAME --network-type Overlay|L2Bridge
//	    --network-subnet CIDR --network-gateway IP --management-ip IP
//	    [--runtime-config JSON] [--reserve-first REQUEST.json]
//
// Exit 0 with the report on stdout, or 1 with {"error": {...}} naming the
// stage (libcni, flannel, win-overlay, win-bridge, host-local) that refused.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/Microsoft/hcsshim"
	"github.com/Microsoft/hcsshim/hcn"
	"github.com/buger/jsonparser"
	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	types020 "github.com/containernetworking/cni/pkg/types/020"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	cnierrors "github.com/containernetworking/plugins/pkg/errors"
	"github.com/containernetworking/plugins/pkg/hns"
	"github.com/containernetworking/plugins/plugins/ipam/host-local/backend/allocator"
	fakestore "github.com/containernetworking/plugins/plugins/ipam/host-local/backend/testing"
)

// The pod the runtime adds: containerd on Windows passes the HCN namespace
// GUID as CNI_NETNS, and the CNI library requires every variable below.
const (
	containerID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	netns       = "5f8a1b2c-3d4e-4f60-8172-93a4b5c6d7e8"
	ifName      = "eth0"
	cniPath     = `C:\opt\cni\bin`
)

// The HNS network on the node, which the cni.conf does not contain: the
// plugin looks it up by the conf's name.
type network struct {
	Name         string `json:"name"`
	Type         string `json:"type"`
	Subnet       string `json:"subnet"`
	Gateway      string `json:"gateway"`
	ManagementIP string `json:"managementIP"`
	ID           string `json:"id"`
}

type flannelReport struct {
	// Where the flannel plugin reads subnet.env (its default unless the
	// conf sets subnetFile); the harness reads --subnet-env instead.
	SubnetFile string `json:"subnetFile"`
	// The delegate config flannel hands to the plugin.
	Delegate json.RawMessage `json:"delegate"`
}

type dnsReport struct {
	Servers []string `json:"servers"`
	Search  []string `json:"search"`
}

// One endpoint policy as HNS/HCN would read it, decoded with hcsshim's
// types (HCN) or the HNS v1 field names.
type policyReport struct {
	Type              string   `json:"type"`
	Exceptions        []string `json:"exceptions,omitempty"`
	Destinations      []string `json:"destinations,omitempty"`
	DestinationPrefix string   `json:"destinationPrefix,omitempty"`
	NeedEncap         bool     `json:"needEncap,omitempty"`
	ProviderAddress   string   `json:"providerAddress,omitempty"`
	InternalPort      int      `json:"internalPort,omitempty"`
	ExternalPort      int      `json:"externalPort,omitempty"`
	Protocol          string   `json:"protocol,omitempty"`
}

// Where host-local keeps an allocation (the disk store's directory,
// dataDir/name) and what it handed out.
type ipamReport struct {
	Name    string `json:"name"`
	DataDir string `json:"dataDir"`
	IP      string `json:"ip"`
}

type endpointReport struct {
	Name     string         `json:"name"`
	IP       string         `json:"ip"`
	Family   string         `json:"family"`
	Gateway  string         `json:"gateway"`
	Mac      string         `json:"mac,omitempty"`
	DNS      dnsReport      `json:"dns"`
	Policies []policyReport `json:"policies"`
}

type report struct {
	// The plugin config libcni hands to the top plugin.
	Runtime json.RawMessage `json:"runtime"`
	Flannel *flannelReport  `json:"flannel,omitempty"`
	// win-overlay or win-bridge, and the config it parsed.
	Plugin  string          `json:"plugin"`
	Netconf json.RawMessage `json:"netconf"`
	// "HCN" (apiVersion 2: cmdHcnAdd) or "HNS" (anything else: cmdHnsAdd).
	API         string  `json:"api"`
	LoopbackDSR bool    `json:"loopbackDSR"`
	Network     network `json:"network"`
	// The --reserve-first allocation, then the pod's.
	Reserved *ipamReport    `json:"reserved,omitempty"`
	IPAM     *ipamReport    `json:"ipam,omitempty"`
	Endpoint endpointReport `json:"endpoint"`
	// The endpoint object exactly as the plugin would send it to HNS/HCN
	// (hcsshim marshals these structs into the request body).
	HNS json.RawMessage `json:"hns"`
	// The CNI result the plugin would print, in the conf's cniVersion.
	Result json.RawMessage `json:"result"`
}

type stageError struct {
	Stage   string `json:"stage"`
	Code    uint   `json:"code"`
	Msg     string `json:"msg"`
	Details string `json:"details,omitempty"`
}

func (e *stageError) Error() string {
	return fmt.Sprintf("%s: %s %s", e.Stage, e.Msg, e.Details)
}

var (
	opts struct {
		conf, subnetEnv, runtimeConfig, reserveFirst string
		net                                          network
	}
	rep report
	// The innermost refusal: a delegate's error reaches the outer plugin's
	// skel as a plain error, which would hide the stage that refused.
	failure *stageError
)

func main() {
	flag.StringVar(&opts.conf, "conf", "", "the compiled cni.conf")
	flag.StringVar(&opts.subnetEnv, "subnet-env", "", "subnet.env, for a flannel conf")
	flag.StringVar(&opts.runtimeConfig, "runtime-config", "", "capability arguments the runtime passes (JSON object)")
	flag.StringVar(&opts.reserveFirst, "reserve-first", "", "a host-local request to run before the pod's")
	flag.StringVar(&opts.net.Name, "network-name", "", "the HNS network's name")
	flag.StringVar(&opts.net.Type, "network-type", "", "the HNS network's type (Overlay, L2Bridge)")
	flag.StringVar(&opts.net.Subnet, "network-subnet", "", "the HNS network's subnet")
	flag.StringVar(&opts.net.Gateway, "network-gateway", "", "the HNS network's gateway")
	flag.StringVar(&opts.net.ManagementIP, "management-ip", "", "the HNS network's management IP (the node's address)")
	flag.Parse()
	opts.net.ID = "c0ffee00-0000-4000-8000-000000000001"

	if err := run(); err != nil {
		var se *stageError
		if failure != nil {
			se = failure
		} else if !errors.As(err, &se) {
			se = &stageError{Stage: "harness", Msg: err.Error()}
		}
		emit(map[string]interface{}{"error": se})
		os.Exit(1)
	}
	emit(rep)
}

func emit(v interface{}) {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	fmt.Println(string(out))
}

func run() error {
	if opts.conf == "" || opts.net.Name == "" || opts.net.Type == "" || opts.net.Subnet == "" {
		return errors.New("--conf, --network-name, --network-type and --network-subnet are required")
	}
	raw, err := os.ReadFile(opts.conf)
	if err != nil {
		return err
	}
	libcniErr := func(err error) error { return &stageError{Stage: "libcni", Msg: err.Error()} }
	// containerd/go-cni loads a `.conf` with ConfFromFile and wraps it with
	// ConfListFromConf (go-cni opts.go loadFromConfDir).
	conf, err := libcni.ConfFromBytes(raw)
	if err != nil {
		return libcniErr(err)
	}
	list, err := libcni.ConfListFromConf(conf)
	if err != nil {
		return libcniErr(err)
	}
	plugin := list.Plugins[0]
	// libcni/api.go buildOneConfig (lines 155-177): every plugin gets the
	// list's name and cniVersion.
	plugin, err = libcni.InjectConf(plugin, map[string]interface{}{"name": list.Name, "cniVersion": list.CNIVersion})
	if err != nil {
		return libcniErr(err)
	}
	// libcni/api.go injectRuntimeConfig (lines 191-212): a capability
	// argument reaches the plugin only when the conf declares it.
	capabilityArgs := map[string]interface{}{}
	if opts.runtimeConfig != "" {
		if err := json.Unmarshal([]byte(opts.runtimeConfig), &capabilityArgs); err != nil {
			return err
		}
	}
	rc := map[string]interface{}{}
	for capability, supported := range plugin.Network.Capabilities {
		if data, ok := capabilityArgs[capability]; ok && supported {
			rc[capability] = data
		}
	}
	if len(rc) > 0 {
		if plugin, err = libcni.InjectConf(plugin, map[string]interface{}{"runtimeConfig": rc}); err != nil {
			return libcniErr(err)
		}
	}
	rep.Runtime = plugin.Bytes

	if opts.reserveFirst != "" {
		request, err := os.ReadFile(opts.reserveFirst)
		if err != nil {
			return err
		}
		// As netc's host program runs it: host-local.exe with the request
		// on stdin and placeholder CNI variables.
		setCNIEnv("dummy", "dummy", "dummy")
		result, err := ipamAdd("host-local", request)
		if err != nil {
			return err
		}
		rep.Reserved = lastIPAM
		rep.Reserved.IP = result.IPs[0].Address.IP.String()
	}
	setCNIEnv(containerID, netns, ifName)
	return invoke(plugin.Network.Type, plugin.Bytes)
}

func setCNIEnv(container, ns, ifname string) {
	for k, v := range map[string]string{
		"CNI_COMMAND":     "ADD",
		"CNI_CONTAINERID": container,
		"CNI_NETNS":       ns,
		"CNI_IFNAME":      ifname,
		"CNI_PATH":        cniPath,
	} {
		os.Setenv(k, v)
	}
}

// invoke stands for exec'ing the plugin binary named by the config's type
// (cni/pkg/invoke DelegateAdd): the same environment, the config on stdin.
func invoke(pluginType string, stdin []byte) error {
	switch pluginType {
	case "flannel":
		return dispatch("flannel", stdin, flannelAdd)
	case "win-overlay":
		return dispatch("win-overlay", stdin, overlayAdd)
	case "win-bridge":
		return dispatch("win-bridge", stdin, bridgeAdd)
	}
	return &stageError{Stage: "libcni", Msg: fmt.Sprintf("failed to find plugin %q: this harness runs flannel, win-overlay and win-bridge", pluginType)}
}

// dispatch runs add under the CNI library's dispatcher as the plugin's main
// does (skel.PluginMainFuncs with version.All: flannel.go main, win-bridge
// line 218, win-overlay line 290, host-local line 33), with stdin as the
// plugin's standard input.
func dispatch(stage string, stdin []byte, add func(*skel.CmdArgs) error) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	go func() {
		w.Write(stdin)
		w.Close()
	}()
	saved := os.Stdin
	os.Stdin = r
	defer func() {
		os.Stdin = saved
		r.Close()
	}()
	if e := skel.PluginMainFuncsWithError(skel.CNIFuncs{Add: add}, version.All, ""); e != nil {
		se := &stageError{Stage: stage, Code: e.Code, Msg: e.Msg, Details: e.Details}
		if failure == nil {
			failure = se
		}
		return se
	}
	return nil
}

// ---- flannel (containernetworking/plugins v0.9.1 plugins/meta/flannel; the
// same code as flannel-io/cni-plugin's flannel.go and flannel_windows.go,
// which the Go module proxy does not serve) ----

// flannel.go lines 41-55.
const defaultSubnetFile = "/run/flannel/subnet.env"

type flannelNetConf struct {
	types.NetConf
	IPAM          map[string]interface{} `json:"ipam,omitempty"`
	SubnetFile    string                 `json:"subnetFile"`
	DataDir       string                 `json:"dataDir"`
	Delegate      map[string]interface{} `json:"delegate"`
	RuntimeConfig map[string]interface{} `json:"runtimeConfig,omitempty"`
}

// flannel.go lines 57-82.
type subnetEnv struct {
	nw, sn, ip6Nw, ip6Sn *net.IPNet
	mtu                  *uint
	ipmasq               *bool
}

func (se *subnetEnv) missing() string {
	m := []string{}
	if se.nw == nil && se.ip6Nw == nil {
		m = append(m, "FLANNEL_NETWORK", "FLANNEL_IPV6_NETWORK")
	}
	if se.sn == nil && se.ip6Sn == nil {
		m = append(m, "FLANNEL_SUBNET", "FLANNEL_IPV6_SUBNET")
	}
	if se.mtu == nil {
		m = append(m, "FLANNEL_MTU")
	}
	if se.ipmasq == nil {
		m = append(m, "FLANNEL_IPMASQ")
	}
	return strings.Join(m, ", ")
}

// flannel.go loadFlannelSubnetEnv, lines 108-167.
func loadFlannelSubnetEnv(fn string) (*subnetEnv, error) {
	f, err := os.Open(fn)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	se := &subnetEnv{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), "=", 2)
		switch parts[0] {
		case "FLANNEL_NETWORK":
			if _, se.nw, err = net.ParseCIDR(parts[1]); err != nil {
				return nil, err
			}
		case "FLANNEL_SUBNET":
			if _, se.sn, err = net.ParseCIDR(parts[1]); err != nil {
				return nil, err
			}
		case "FLANNEL_IPV6_NETWORK":
			if _, se.ip6Nw, err = net.ParseCIDR(parts[1]); err != nil {
				return nil, err
			}
		case "FLANNEL_IPV6_SUBNET":
			if _, se.ip6Sn, err = net.ParseCIDR(parts[1]); err != nil {
				return nil, err
			}
		case "FLANNEL_MTU":
			mtu, err := strconv.ParseUint(parts[1], 10, 32)
			if err != nil {
				return nil, err
			}
			se.mtu = new(uint)
			*se.mtu = uint(mtu)
		case "FLANNEL_IPMASQ":
			ipmasq := parts[1] == "true"
			se.ipmasq = &ipmasq
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if m := se.missing(); m != "" {
		return nil, fmt.Errorf("%v is missing %v", fn, m)
	}
	return se, nil
}

func hasKey(m map[string]interface{}, k string) bool {
	_, ok := m[k]
	return ok
}

// flannel.go cmdAdd (lines 221-251) and flannel_windows.go doCmdAdd (lines
// 33-56), up to delegateAdd (flannel.go lines 192-209), which marshals the
// delegate and execs its type.
func flannelAdd(args *skel.CmdArgs) error {
	n := &flannelNetConf{SubnetFile: defaultSubnetFile}
	if err := json.Unmarshal(args.StdinData, n); err != nil {
		return fmt.Errorf("failed to load netconf: %v", err)
	}
	rep.Flannel = &flannelReport{SubnetFile: n.SubnetFile}
	if opts.subnetEnv == "" {
		return fmt.Errorf("the flannel plugin reads %s: pass it with --subnet-env", n.SubnetFile)
	}
	fenv, err := loadFlannelSubnetEnv(opts.subnetEnv)
	if err != nil {
		return err
	}
	if n.Delegate == nil {
		n.Delegate = make(map[string]interface{})
	} else {
		if _, ok := n.Delegate["type"].(string); hasKey(n.Delegate, "type") && !ok {
			return fmt.Errorf("'delegate' dictionary, if present, must have (string) 'type' field")
		}
		if hasKey(n.Delegate, "name") {
			return fmt.Errorf("'delegate' dictionary must not have 'name' field, it'll be set by flannel")
		}
		if hasKey(n.Delegate, "ipam") {
			return fmt.Errorf("'delegate' dictionary must not have 'ipam' field, it'll be set by flannel")
		}
	}
	if n.RuntimeConfig != nil {
		n.Delegate["runtimeConfig"] = n.RuntimeConfig
	}

	// flannel_windows.go doCmdAdd.
	n.Delegate["name"] = n.Name
	if !hasKey(n.Delegate, "type") {
		n.Delegate["type"] = "win-bridge"
	}
	// "if flannel needs ipmasq - get the plugin to configure it (this is
	// the opposite of how linux works)"
	n.Delegate["ipMasq"] = *fenv.ipmasq
	// Upstream dereferences the IPv4 network and subnet unchecked (an
	// IPv6-only subnet.env panics there); an error says the same here.
	if fenv.nw == nil {
		return fmt.Errorf("%s has no FLANNEL_NETWORK, which the Windows flannel plugin needs", opts.subnetEnv)
	}
	n.Delegate["ipMasqNetwork"] = fenv.nw.String()
	n.Delegate["cniVersion"] = types020.ImplementedSpecVersion
	if len(n.CNIVersion) != 0 {
		n.Delegate["cniVersion"] = n.CNIVersion
	}
	if fenv.sn == nil {
		return fmt.Errorf("%s has no FLANNEL_SUBNET, which the Windows flannel plugin needs", opts.subnetEnv)
	}
	n.Delegate["ipam"] = map[string]interface{}{
		"type":   "host-local",
		"subnet": fenv.sn.String(),
	}

	delegate, err := json.Marshal(n.Delegate)
	if err != nil {
		return fmt.Errorf("error serializing delegate netconf: %v", err)
	}
	rep.Flannel.Delegate = delegate
	return invoke(n.Delegate["type"].(string), delegate)
}

// ---- host-local (plugins/ipam/host-local/main.go cmdAdd, lines 64-140) ----

// The stores host-local would keep on disk, by directory (disk.New,
// plugins/ipam/host-local/backend/disk/backend.go lines 32-48: dataDir,
// by default /var/lib/cni/networks, joined with the network name).
var (
	stores   = map[string]*fakestore.FakeStore{}
	lastIPAM *ipamReport
)

func storeFor(name, dataDir string) *fakestore.FakeStore {
	key := dataDir + "/" + name
	if stores[key] == nil {
		stores[key] = fakestore.NewFakeStore(map[string]string{}, map[string]net.IP{})
	}
	return stores[key]
}

// ipamAdd stands for ipam.ExecAdd (pkg/ipam), which execs the IPAM plugin
// with the plugin's own stdin, and for the plugin's conversion of the
// printed result (current.NewResultFromResult).
func ipamAdd(ipamType string, stdin []byte) (*current.Result, error) {
	if ipamType != "host-local" {
		return nil, fmt.Errorf("IPAM %q: this harness runs host-local only", ipamType)
	}
	var printed types.Result
	err := dispatch("host-local", stdin, func(args *skel.CmdArgs) error {
		ipamConf, confVersion, err := allocator.LoadIPAMConfig(args.StdinData, args.Args)
		if err != nil {
			return err
		}
		result := &current.Result{CNIVersion: current.ImplementedSpecVersion}
		dataDir := ipamConf.DataDir
		if dataDir == "" {
			dataDir = "/var/lib/cni/networks"
		}
		lastIPAM = &ipamReport{Name: ipamConf.Name, DataDir: dataDir}
		store := storeFor(ipamConf.Name, dataDir)
		for idx, rangeset := range ipamConf.Ranges {
			a := allocator.NewIPAllocator(&rangeset, store, idx)
			ipConf, err := a.Get(args.ContainerID, args.IfName, nil)
			if err != nil {
				return fmt.Errorf("failed to allocate for range %d: %v", idx, err)
			}
			result.IPs = append(result.IPs, ipConf)
		}
		result.Routes = ipamConf.Routes
		// types.PrintResult(result, confVersion)
		printed, err = result.GetAsVersion(confVersion)
		return err
	})
	if err != nil {
		return nil, err
	}
	return current.NewResultFromResult(printed)
}

// The pod's allocation, as host-local made it.
func podIPAM(result *current.Result) *ipamReport {
	out := *lastIPAM
	if len(result.IPs) > 0 {
		out.IP = result.IPs[0].Address.IP.String()
	}
	return &out
}

// ---- win-overlay (plugins/main/windows/win-overlay/win-overlay_windows.go) ----

// Lines 38-43.
type overlayNetConf struct {
	hns.NetConf
	IPMasq            bool   `json:"ipMasq"`
	EndpointMacPrefix string `json:"endpointMacPrefix,omitempty"`
}

// cmdAdd (lines 245-263), cmdHcnAdd (lines 93-150) and cmdHnsAdd (lines
// 152-243), without the HNS calls.
func overlayAdd(args *skel.CmdArgs) error {
	n := &overlayNetConf{}
	if err := json.Unmarshal(args.StdinData, n); err != nil {
		return fmt.Errorf("failed to load netconf: %v", err)
	}
	rep.Plugin, rep.Netconf, rep.LoopbackDSR = "win-overlay", args.StdinData, n.LoopbackDSR
	if len(n.EndpointMacPrefix) != 0 {
		if len(n.EndpointMacPrefix) != 5 || n.EndpointMacPrefix[2] != '-' {
			return fmt.Errorf("endpointMacPrefix [%v] is invalid, value must be of the format xx-xx", n.EndpointMacPrefix)
		}
	} else {
		n.EndpointMacPrefix = "0E-2A"
	}
	hnsNetwork, hcnNetwork, err := lookupNetwork(n.Name, n.ApiVersion == 2)
	if err != nil {
		if n.ApiVersion == 2 {
			return cnierrors.Annotatef(err, "error while hcn.GetNetworkByName(%s)", n.Name)
		}
		return cnierrors.Annotatef(err, "error while GETHNSNewtorkByName(%s)", n.Name)
	}
	if !strings.EqualFold(hnsNetwork.Type, "Overlay") {
		return fmt.Errorf("network %v is of an unexpected type: %v", n.Name, hnsNetwork.Type)
	}
	epName := hns.ConstructEndpointName(args.ContainerID, args.Netns, n.Name)

	if n.ApiVersion == 2 {
		rep.API = "HCN"
		// processEndpointArgs, lines 60-91.
		epInfo := &hns.EndpointInfo{NetworkName: n.Name, EndpointName: epName}
		if n.IPAM.Type != "" {
			result, err := ipamAdd(n.IPAM.Type, args.StdinData)
			if err != nil {
				return fmt.Errorf("error while executing IPAM addition: %v", err)
			}
			rep.IPAM = podIPAM(result)
			if len(result.IPs) == 0 {
				return fmt.Errorf("IPAM plugin return is missing IP config")
			}
			epInfo.IpAddress = result.IPs[0].Address.IP.To4()
			if epInfo.IpAddress == nil {
				return fmt.Errorf("IPAM plugin return is missing valid IP Address")
			}
			epInfo.MacAddress = fmt.Sprintf("%v-%02x-%02x-%02x-%02x", n.EndpointMacPrefix, epInfo.IpAddress[0], epInfo.IpAddress[1], epInfo.IpAddress[2], epInfo.IpAddress[3])
		}
		epInfo.DNS = n.GetDNS()
		if n.LoopbackDSR {
			applyLoopbackDSRPolicy(&n.NetConf, &epInfo.IpAddress)
		}
		// cmdHcnAdd's endpoint maker, lines 126-133.
		epInfo.NetworkId = hcnNetwork.Id
		epInfo.Gateway = net.ParseIP(hnsNetwork.Subnets[0].GatewayAddress).To4()
		n.ApplyDefaultPAPolicy(hnsNetwork.ManagementIP)
		if n.IPMasq {
			n.ApplyOutboundNatPolicy(hnsNetwork.Subnets[0].AddressPrefix)
		}
		return finishHcn(hcnNetwork, generateHcnEndpoint(epInfo, &n.NetConf), n.CNIVersion)
	}

	rep.API = "HNS"
	// cmdHnsAdd's endpoint maker, lines 179-226.
	result, err := ipamAdd(n.IPAM.Type, args.StdinData)
	if err != nil {
		return fmt.Errorf("error while ipam.ExecAdd: %v", err)
	}
	rep.IPAM = podIPAM(result)
	if len(result.IPs) == 0 {
		return fmt.Errorf("IPAM plugin return is missing IP config")
	}
	ipAddr := result.IPs[0].Address.IP.To4()
	if ipAddr == nil {
		return fmt.Errorf("win-overlay doesn't support IPv6 now")
	}
	macAddr := fmt.Sprintf("%v-%02x-%02x-%02x-%02x", n.EndpointMacPrefix, ipAddr[0], ipAddr[1], ipAddr[2], ipAddr[3])
	gw := hnsNetwork.Subnets[0].GatewayAddress
	n.ApplyDefaultPAPolicy(hnsNetwork.ManagementIP)
	if n.IPMasq {
		n.ApplyOutboundNatPolicy(hnsNetwork.Subnets[0].AddressPrefix)
	}
	result.DNS = n.GetDNS()
	if n.LoopbackDSR {
		applyLoopbackDSRPolicy(&n.NetConf, &ipAddr)
	}
	return finishHns(hnsNetwork, &hcsshim.HNSEndpoint{
		Name:           epName,
		VirtualNetwork: hnsNetwork.Id,
		DNSServerList:  strings.Join(result.DNS.Nameservers, ","),
		DNSSuffix:      strings.Join(result.DNS.Search, ","),
		GatewayAddress: gw,
		IPAddress:      ipAddr,
		MacAddress:     macAddr,
		Policies:       n.GetHNSEndpointPolicies(),
	}, n.CNIVersion)
}

// ---- win-bridge (plugins/main/windows/win-bridge/win-bridge_windows.go) ----

// Lines 37-41.
type bridgeNetConf struct {
	hns.NetConf
	IPMasqNetwork string `json:"ipMasqNetwork,omitempty"`
}

// cmdAdd (lines 173-191), cmdHcnAdd (lines 135-171) and cmdHnsAdd (lines
// 97-133), without the HNS calls.
func bridgeAdd(args *skel.CmdArgs) error {
	n := &bridgeNetConf{}
	if err := json.Unmarshal(args.StdinData, n); err != nil {
		return fmt.Errorf("failed to load netconf: %v", err)
	}
	rep.Plugin, rep.Netconf, rep.LoopbackDSR = "win-bridge", args.StdinData, n.LoopbackDSR
	hnsNetwork, hcnNetwork, err := lookupNetwork(n.Name, n.ApiVersion == 2)
	if err != nil {
		return cnierrors.Annotatef(err, "error while getting network %v", n.Name)
	}
	if !strings.EqualFold(hnsNetwork.Type, "L2Bridge") && !strings.EqualFold(hnsNetwork.Type, "L2Tunnel") {
		return fmt.Errorf("network %v is of unexpected type: %v", n.Name, hnsNetwork.Type)
	}
	// processEndpointArgs, lines 58-95.
	epInfo := &hns.EndpointInfo{NetworkName: n.Name}
	epInfo.EndpointName = hns.ConstructEndpointName(args.ContainerID, args.Netns, epInfo.NetworkName)
	if n.IPAM.Type != "" {
		result, err := ipamAdd(n.IPAM.Type, args.StdinData)
		if err != nil {
			return fmt.Errorf("error while executing IPAM addition: %v", err)
		}
		rep.IPAM = podIPAM(result)
		if len(result.IPs) == 0 {
			return fmt.Errorf("IPAM plugin return is missing IP config")
		}
		epInfo.IpAddress = result.IPs[0].Address.IP
		epInfo.Gateway = result.IPs[0].Address.IP.Mask(result.IPs[0].Address.Mask)
		// "Calculate gateway for bridge network (needs to be x.2)"
		epInfo.Gateway[len(epInfo.Gateway)-1] += 2
	}
	n.ApplyOutboundNatPolicy(n.IPMasqNetwork)
	n.ApplyPortMappingPolicy(n.RuntimeConfig.PortMaps)
	epInfo.DNS = n.GetDNS()

	if n.ApiVersion == 2 {
		rep.API = "HCN"
		epInfo.NetworkId = hcnNetwork.Id
		return finishHcn(hcnNetwork, generateHcnEndpoint(epInfo, &n.NetConf), n.CNIVersion)
	}
	rep.API = "HNS"
	epInfo.NetworkId = hnsNetwork.Id
	// pkg/hns/endpoint_windows.go GenerateHnsEndpoint, lines 98-110, after
	// its lookup of an existing endpoint (an HNS call).
	if n.LoopbackDSR {
		applyLoopbackDSRPolicy(&n.NetConf, &epInfo.IpAddress)
	}
	return finishHns(hnsNetwork, &hcsshim.HNSEndpoint{
		Name:           epInfo.EndpointName,
		VirtualNetwork: epInfo.NetworkId,
		DNSServerList:  strings.Join(epInfo.DNS.Nameservers, ","),
		DNSSuffix:      strings.Join(epInfo.DNS.Search, ","),
		GatewayAddress: hns.GetIpString(&epInfo.Gateway),
		IPAddress:      epInfo.IpAddress,
		Policies:       n.GetHNSEndpointPolicies(),
	}, n.CNIVersion)
}

// ---- shared ----

// lookupNetwork stands for hcsshim.GetHNSNetworkByName and
// hcn.GetNetworkByName: the network given on the command line, found only
// under its own name; another name gets the not-found error those return
// (hcsshim internal/hns/hns.go NetworkNotFoundError, hcn/hcnerrors.go).
func lookupNetwork(name string, hcnAPI bool) (*hcsshim.HNSNetwork, *hcn.HostComputeNetwork, error) {
	rep.Network = opts.net
	if name != opts.net.Name {
		if hcnAPI {
			return nil, nil, hcn.NetworkNotFoundError{NetworkName: name}
		}
		return nil, nil, hcsshim.NetworkNotFoundError{NetworkName: name}
	}
	hnsNetwork := &hcsshim.HNSNetwork{
		Id:           opts.net.ID,
		Name:         opts.net.Name,
		Type:         opts.net.Type,
		ManagementIP: opts.net.ManagementIP,
		Subnets:      []hcsshim.Subnet{{AddressPrefix: opts.net.Subnet, GatewayAddress: opts.net.Gateway}},
	}
	hcnNetwork := &hcn.HostComputeNetwork{
		Id:   opts.net.ID,
		Name: opts.net.Name,
		Type: hcn.NetworkType(opts.net.Type),
		Ipams: []hcn.Ipam{{
			Type: "Static",
			Subnets: []hcn.Subnet{{
				IpAddressPrefix: opts.net.Subnet,
				Routes:          []hcn.Route{{NextHop: opts.net.Gateway, DestinationPrefix: "0.0.0.0/0"}},
			}},
		}},
	}
	return hnsNetwork, hcnNetwork, nil
}

// pkg/hns/netconf_windows.go ApplyLoopbackDSRPolicy (lines 131-195) past
// its first line, `if err := hcn.DSRSupported(); err != nil || ip == nil
// { return }`: DSRSupported asks HNS for its features.
func applyLoopbackDSRPolicy(n *hns.NetConf, ip *net.IP) {
	if ip == nil {
		return
	}
	toPolicyValue := func(addr string) json.RawMessage {
		if n.ApiVersion == 2 {
			return []byte(fmt.Sprintf(`{"Type": "OutBoundNAT", "Settings": {"Destinations": ["%s"]}}`, addr))
		}
		return []byte(fmt.Sprintf(`{"Type": "OutBoundNAT", "Destinations": ["%s"]}`, addr))
	}
	ipBytes := []byte(ip.String())
	for i := range n.Policies {
		p := &n.Policies[i]
		if !strings.EqualFold(p.Name, "EndpointPolicy") {
			continue
		}
		if typeValue, _ := jsonparser.GetUnsafeString(p.Value, "Type"); typeValue != "OutBoundNAT" {
			continue
		}
		var destinations []byte
		var dt jsonparser.ValueType
		if n.ApiVersion == 2 {
			destinations, dt, _, _ = jsonparser.Get(p.Value, "Settings", "Destinations")
		} else {
			destinations, dt, _, _ = jsonparser.Get(p.Value, "Destinations")
		}
		if dt == jsonparser.NotExist {
			continue
		}
		if dt == jsonparser.Array {
			found := false
			_, _ = jsonparser.ArrayEach(destinations, func(value []byte, dataType jsonparser.ValueType, _ int, _ error) {
				if dataType == jsonparser.String && string(value) == string(ipBytes) {
					found = true
				}
			})
			if found {
				return
			}
		}
	}
	n.Policies = append(n.Policies, hns.Policy{Name: "EndpointPolicy", Value: toPolicyValue(ip.String())})
}

// pkg/hns/endpoint_windows.go GenerateHcnEndpoint (lines 243-273), after
// its lookup of an existing endpoint (an HCN call).
func generateHcnEndpoint(epInfo *hns.EndpointInfo, n *hns.NetConf) *hcn.HostComputeEndpoint {
	if n.LoopbackDSR {
		applyLoopbackDSRPolicy(n, &epInfo.IpAddress)
	}
	return &hcn.HostComputeEndpoint{
		SchemaVersion:      hcn.SchemaVersion{Major: 2, Minor: 0},
		Name:               epInfo.EndpointName,
		MacAddress:         epInfo.MacAddress,
		HostComputeNetwork: epInfo.NetworkId,
		Dns: hcn.Dns{
			Domain:     epInfo.DNS.Domain,
			Search:     epInfo.DNS.Search,
			ServerList: epInfo.DNS.Nameservers,
			Options:    epInfo.DNS.Options,
		},
		Routes: []hcn.Route{{
			NextHop:           hns.GetIpString(&epInfo.Gateway),
			DestinationPrefix: hns.GetDefaultDestinationPrefix(&epInfo.Gateway),
		}},
		IpConfigurations: []hcn.IpConfig{{IpAddress: hns.GetIpString(&epInfo.IpAddress)}},
		Policies:         n.GetHostComputeEndpointPolicies(),
	}
}

// The endpoint HCN would be asked to create, and the plugin's result
// (hns.ConstructHcnResult, printed in the conf's version by cmdAdd).
func finishHcn(network *hcn.HostComputeNetwork, ep *hcn.HostComputeEndpoint, cniVersion string) error {
	rep.HNS = mustJSON(ep)
	ip := net.ParseIP(ep.IpConfigurations[0].IpAddress)
	rep.Endpoint = endpointReport{
		Name:    ep.Name,
		IP:      ep.IpConfigurations[0].IpAddress,
		Family:  family(ip),
		Gateway: ep.Routes[0].NextHop,
		Mac:     ep.MacAddress,
		DNS:     dnsReport{Servers: ep.Dns.ServerList, Search: ep.Dns.Search},
	}
	for _, p := range ep.Policies {
		rep.Endpoint.Policies = append(rep.Endpoint.Policies, hcnPolicy(p))
	}
	result, err := hns.ConstructHcnResult(network, ep)
	if err != nil {
		return fmt.Errorf("error while constructing HostComputeEndpoint addition result: %v", err)
	}
	return printResult(result, cniVersion)
}

// The endpoint HNS would be asked to create, and the plugin's result
// (hns.ConstructHnsResult).
func finishHns(network *hcsshim.HNSNetwork, ep *hcsshim.HNSEndpoint, cniVersion string) error {
	rep.HNS = mustJSON(ep)
	rep.Endpoint = endpointReport{
		Name:    ep.Name,
		IP:      ep.IPAddress.String(),
		Family:  family(ep.IPAddress),
		Gateway: ep.GatewayAddress,
		Mac:     ep.MacAddress,
		DNS:     dnsReport{Servers: splitList(ep.DNSServerList), Search: splitList(ep.DNSSuffix)},
	}
	for _, p := range ep.Policies {
		rep.Endpoint.Policies = append(rep.Endpoint.Policies, hnsPolicy(p))
	}
	result, err := hns.ConstructHnsResult(network, ep)
	if err != nil {
		return fmt.Errorf("error while constructResult: %v", err)
	}
	return printResult(result, cniVersion)
}

// types.PrintResult(result, cniVersion): the conversion fails for a version
// the result cannot be expressed in.
func printResult(result *current.Result, cniVersion string) error {
	r, err := result.GetAsVersion(cniVersion)
	if err != nil {
		return err
	}
	rep.Result = mustJSON(r)
	return nil
}

func family(ip net.IP) string {
	switch {
	case ip.To4() != nil:
		return "IPv4"
	case ip.To16() != nil:
		return "IPv6"
	}
	return "none"
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func mustJSON(v interface{}) json.RawMessage {
	out, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return out
}

// An HCN endpoint policy read with hcsshim's setting types, as HCN's schema
// names the fields.
func hcnPolicy(p hcn.EndpointPolicy) policyReport {
	out := policyReport{Type: string(p.Type)}
	switch p.Type {
	case hcn.OutBoundNAT:
		var s hcn.OutboundNatPolicySetting
		_ = json.Unmarshal(p.Settings, &s)
		out.Exceptions, out.Destinations = s.Exceptions, s.Destinations
	case hcn.SDNRoute:
		var s hcn.SDNRoutePolicySetting
		_ = json.Unmarshal(p.Settings, &s)
		out.DestinationPrefix, out.NeedEncap = s.DestinationPrefix, s.NeedEncap
	case hcn.NetworkProviderAddress:
		var s hcn.ProviderAddressEndpointPolicySetting
		_ = json.Unmarshal(p.Settings, &s)
		out.ProviderAddress = s.ProviderAddress
	case hcn.PortMapping:
		var s hcn.PortMappingPolicySetting
		_ = json.Unmarshal(p.Settings, &s)
		out.InternalPort, out.ExternalPort, out.Protocol = int(s.InternalPort), int(s.ExternalPort), strconv.Itoa(int(s.Protocol))
	}
	return out
}

// An HNS (v1) endpoint policy, read with the v1 field names: hcsshim's
// OutboundNatPolicy (ExceptionList), PaPolicy (PA), NatPolicy, and the
// ROUTE policy of microsoft/SDN's cni.conf (DestinationPrefix, NeedEncap).
func hnsPolicy(raw json.RawMessage) policyReport {
	var p struct {
		Type              string   `json:"Type"`
		ExceptionList     []string `json:"ExceptionList"`
		Destinations      []string `json:"Destinations"`
		DestinationPrefix string   `json:"DestinationPrefix"`
		NeedEncap         bool     `json:"NeedEncap"`
		PA                string   `json:"PA"`
		InternalPort      int      `json:"InternalPort"`
		ExternalPort      int      `json:"ExternalPort"`
		Protocol          string   `json:"Protocol"`
	}
	_ = json.Unmarshal(raw, &p)
	return policyReport{
		Type:              p.Type,
		Exceptions:        p.ExceptionList,
		Destinations:      p.Destinations,
		DestinationPrefix: p.DestinationPrefix,
		NeedEncap:         p.NeedEncap,
		ProviderAddress:   p.PA,
		InternalPort:      p.InternalPort,
		ExternalPort:      p.ExternalPort,
		Protocol:          p.Protocol,
	}
}
