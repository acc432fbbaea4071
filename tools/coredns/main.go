// CoreDNS v1.12.1 (the version kubeadm 1.34 pins) with only the plugins the one-node cluster of scripts/cluster.sh
// uses: it answers cluster.local from the Kubernetes API and forwards nothing, so no pod ever resolves a name off this
// machine. CoreDNS's own main links every plugin it ships (cloud DNS providers among them); this one registers five
// and sets their chain order (dnsserver.Directives keeps the relative order of CoreDNS's core/dnsserver/zdirectives.go).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
)

func init() {
	dnsserver.Directives = []string{"bind", "errors", "loadbalance", "cache", "kubernetes"}
}

func main() {
	coremain.Run()
}
