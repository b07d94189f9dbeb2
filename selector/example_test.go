package selector_test

import (
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/selector"
	"github.com/logdelivery/logdelivery/tenant"
)

// A config as a tenant writes it: the payments namespace without its debug
// pods, and the api and worker containers of the checkout pods elsewhere.
func Example() {
	const config = `
tenant_id: shop
type: cloudwatch
match:
  - exclude: {labels: {tier: debug}}
  - select: {namespaces: [payments]}
  - select: {labels: {app: checkout}, container_names: [api, worker]}
`
	var cfg tenant.DeliveryConfig
	if err := yaml.Unmarshal([]byte(config), &cfg); err != nil {
		fmt.Println(err)
		return
	}
	s, err := selector.ForConfig(cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("decode labels:", s.Fields().Has(deliver.FieldLabels))

	key, _ := keyparse.Parse("c1/payments/ledger/ledger-0/1709294460.json.gz")
	fmt.Println("payments object:", s.Object(key))
	for _, r := range []deliver.Record{
		{Container: "ledger", Labels: map[string]string{"app": "ledger", "tier": "web"}},
		{Container: "ledger", Labels: map[string]string{"app": "ledger", "tier": "debug"}},
		{Container: "api", Labels: map[string]string{"app": "checkout"}, Namespace: "payments"},
	} {
		fmt.Printf("  %s %v: %v\n", r.Container, r.Labels, s.Record(key, &r))
	}
	// Output:
	// decode labels: true
	// payments object: some
	//   ledger map[app:ledger tier:web]: true
	//   ledger map[app:ledger tier:debug]: false
	//   api map[app:checkout]: true
}

// Namespaces are known from object keys, so objects of the namespaces a
// match list cannot select are skipped without being downloaded.
func ExampleFlow() {
	s := selector.Flow([]tenant.MatchRule{
		// - exclude: {applications: [debug-proxy]}
		{Exclude: &tenant.MatchCriteria{Applications: []string{"debug-proxy"}}},
		// - select: {namespaces: [shop-prod, shop-staging]}
		{Select: &tenant.MatchCriteria{Namespaces: []string{"shop-prod", "shop-staging"}}},
	})
	for _, key := range []string{
		"c1/shop-prod/checkout/checkout-0/1709294460.json.gz",
		"c1/shop-prod/debug-proxy/debug-proxy-0/1709294460.json.gz",
		"c1/kube-system/coredns/coredns-0/1709294460.json.gz",
	} {
		k, _ := keyparse.Parse(key)
		fmt.Println(k.Namespace, k.Application, s.Object(k))
	}
	// Output:
	// shop-prod checkout some
	// shop-prod debug-proxy none
	// kube-system coredns none
}

// A match list that excludes by labels and takes the rest.
func ExampleFlow_excludeDebug() {
	s := selector.Flow([]tenant.MatchRule{
		// - exclude: {labels: {tier: debug}}
		{Exclude: &tenant.MatchCriteria{Labels: map[string]string{"tier": "debug"}}},
		// - select: {}
		{Select: &tenant.MatchCriteria{}},
	})
	k, _ := keyparse.Parse("c1/shop-prod/checkout/checkout-0/1709294460.json.gz")
	fmt.Println("object:", s.Object(k))
	fmt.Println("web:", s.Record(k, &deliver.Record{Labels: map[string]string{"tier": "web"}}))
	fmt.Println("debug:", s.Record(k, &deliver.Record{Labels: map[string]string{"tier": "debug"}}))
	fmt.Println("no labels:", s.Record(k, &deliver.Record{}))
	// Output:
	// object: some
	// web: true
	// debug: false
	// no labels: true
}
