package tkauth

import (
	"errors"
	"testing"

	"github.com/acmegate/acmegate/challenges"
)

func TestLookupClaim(t *testing.T) {
	t.Parallel()
	claims := map[string]any{
		"sub": "system:serviceaccount:payments:api",
		"kubernetes.io": map[string]any{
			"namespace":      "payments",
			"serviceaccount": map[string]any{"name": "api"},
		},
		"kubernetes.io/serviceaccount/service-account.name": "legacy",
		"a":   map[string]any{"b.c": "flat-in-nested", "b": map[string]any{"c": "nested"}},
		"num": 3.0,
	}
	tests := []struct {
		path string
		want any
	}{
		{"sub", "system:serviceaccount:payments:api"},
		{"kubernetes.io.namespace", "payments"},
		{"kubernetes.io.serviceaccount.name", "api"},
		{"kubernetes.io/serviceaccount/service-account.name", "legacy"},
		{"a.b.c", "flat-in-nested"},
		{"num", 3.0},
		{"missing", nil},
		{"kubernetes.io.missing", nil},
		{"sub.x", nil},
		{"", nil},
		{".", nil},
	}
	for _, tt := range tests {
		if got := lookupClaim(claims, tt.path); got != tt.want {
			t.Errorf("lookupClaim(%q): got %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestTemplates(t *testing.T) {
	t.Parallel()
	r, err := compileRule(Rule{
		Claim:       "sub",
		Pattern:     `(?P<ns>[^:]*):(?P<name>[^:]*)`,
		Identifiers: []string{"{name}.{ns}.svc", "*.{ns}.Corp.Test"},
	})
	if err != nil {
		t.Fatalf("compileRule: %v", err)
	}
	tests := []struct {
		value      string
		identifier string
		want       bool
	}{
		{"payments:api", "api.payments.svc", true},
		{"Payments:API", "api.payments.svc", true},
		{"payments:api", "x.payments.corp.test", true},
		{"payments:api", "payments.corp.test", false},
		{"payments:api", "x.y.payments.corp.test", false},
		{"payments:api", "db.payments.svc", false},
		// A value that is not one label never reaches a name.
		{"payments:api.other", "api.other.payments.svc", false},
		{"payments.svc:api", "api.payments.svc.svc", false},
		{"payments:", ".payments.svc", false},
		{"pay_ments:api", "api.pay_ments.svc", false},
	}
	for _, tt := range tests {
		match := r.pattern.FindStringSubmatch(tt.value)
		got := false
		for _, tmpl := range r.templates {
			if name, ok := tmpl.expand(r.pattern, match); ok && tmpl.matches(name, tt.identifier) {
				got = true
			}
		}
		if got != tt.want {
			t.Errorf("value %q, identifier %q: got %v, want %v", tt.value, tt.identifier, got, tt.want)
		}
	}
}

// TestPatternAnchored checks that a pattern must match the whole claim, so
// that "payments:api" does not match inside "evil-payments:api-x".
func TestPatternAnchored(t *testing.T) {
	t.Parallel()
	is := &issuer{Issuer: Issuer{Name: "iss"}}
	r, err := compileRule(Rule{
		Claim:       "sub",
		Pattern:     `payments:(?P<name>[a-z]+)`,
		Identifiers: []string{"{name}.payments.svc"},
	})
	if err != nil {
		t.Fatalf("compileRule: %v", err)
	}
	is.rules = []rule{r}

	err = is.authorize(map[string]any{"sub": "evil-payments:api"}, "api.payments.svc")
	var ce *challenges.Error
	if !errors.As(err, &ce) || ce.Kind != challenges.KindUnauthorized {
		t.Fatalf("got %v, want an unauthorized error for a partial match", err)
	}
	if err := is.authorize(map[string]any{"sub": "payments:api"}, "api.payments.svc"); err != nil {
		t.Fatalf("got %v for a whole match, want none", err)
	}
}
