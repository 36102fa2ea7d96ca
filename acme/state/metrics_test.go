package state_test

import (
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acmegate/acmegate/acme/acmetest"
)

// TestMetricsAfterIssuance runs one issuance and reads the engine's series
// back from its registry.
func TestMetricsAfterIssuance(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	gw := acmetest.New(t, acmetest.Options{Registerer: reg})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	c.Issue(t, "metrics.corp.internal")

	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	labels := map[string][]map[string]string{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			set := map[string]string{}
			for _, l := range m.GetLabel() {
				set[l.GetName()] = l.GetValue()
			}
			labels[f.GetName()] = append(labels[f.GetName()], set)
		}
	}
	want := []struct {
		name   string
		labels map[string]string
	}{
		{"acmegate_validations_total", map[string]string{"type": "http-01", "outcome": "success"}},
		{"acmegate_validation_duration_seconds", map[string]string{"type": "http-01"}},
		{"acmegate_issuance_duration_seconds", map[string]string{"profile": "default"}},
		{"acmegate_signer_duration_seconds", map[string]string{}},
	}
	for _, w := range want {
		found := false
		for _, got := range labels[w.name] {
			if equalLabels(got, w.labels) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: got series %v, want one labelled %v", w.name, labels[w.name], w.labels)
		}
	}
	for _, f := range families {
		if f.GetName() == "acmegate_signer_errors_total" {
			if n := f.GetMetric()[0].GetCounter().GetValue(); n != 0 {
				t.Errorf("acmegate_signer_errors_total: got %v, want 0", n)
			}
		}
	}
	if n, err := testutil.GatherAndCount(reg, "acmegate_validations_total"); err != nil || n != 1 {
		t.Errorf("acmegate_validations_total: got %d series (%v), want 1", n, err)
	}
}

// TestMetricsWithoutRegistry checks that an engine without a registry
// still runs the flow that records into its series.
func TestMetricsWithoutRegistry(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	c.Issue(t, "unregistered.corp.internal")
}

func equalLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}
