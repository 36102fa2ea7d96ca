package ca

import (
	"crypto/x509"
	"slices"
	"testing"
	"time"
)

func TestProfileDefaults(t *testing.T) {
	t.Parallel()
	d := DefaultProfile()
	z := Profile{}.WithDefaults()
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"default lifetime", d.Lifetime, 24 * time.Hour},
		{"default max", d.MaxLifetime, 24 * time.Hour},
		{"default backdate", d.Backdate, time.Minute},
		{"default EKU", d.ExtKeyUsage,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{"default no CN", d.IncludeCommonName, false},
		{"zero name", z.Name, "default"},
		{"zero lifetime", z.Lifetime, 24 * time.Hour},
		{"zero max follows lifetime", z.MaxLifetime, 24 * time.Hour},
		{"zero backdate stays zero", z.Backdate, time.Duration(0)},
		{"zero EKU", z.ExtKeyUsage,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{"max follows longer lifetime", Profile{Lifetime: 72 * time.Hour}.WithDefaults().MaxLifetime,
			72 * time.Hour},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !equalish(c.got, c.want) {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}

	// WithDefaults must not share the EKU slice with its receiver.
	p := Profile{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	q := p.WithDefaults()
	q.ExtKeyUsage[0] = x509.ExtKeyUsageAny
	if !slices.Equal(p.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("receiver EKU: got %v, want it unchanged", p.ExtKeyUsage)
	}
}

func TestProfileValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    Profile
		ok   bool
	}{
		{"default", DefaultProfile(), true},
		{"zero", Profile{}, true},
		{"90 days", Profile{Lifetime: 90 * 24 * time.Hour}, true},
		{"too short", Profile{Lifetime: time.Second}, false},
		{"over 398 days", Profile{Lifetime: 399 * 24 * time.Hour}, false},
		{"max below lifetime", Profile{Lifetime: 48 * time.Hour, MaxLifetime: 24 * time.Hour}, false},
		{"negative backdate", Profile{Backdate: -time.Minute}, false},
		{"backdate as long as lifetime", Profile{Lifetime: time.Hour, Backdate: time.Hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if got := err == nil; got != tt.ok {
				t.Errorf("Validate: got error %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
