package state

import (
	"strings"
	"testing"
	"time"
)

// keyIssuer is an [Issuer] that only has a key ID.
type keyIssuer struct {
	noIssuer
	id []byte
}

func (k keyIssuer) KeyID() []byte { return k.id }

func TestNewIssuers(t *testing.T) {
	t.Parallel()
	a, b := &keyIssuer{id: []byte{0xaa, 0x01}}, &keyIssuer{id: []byte{0xbb, 0x02}}
	tests := []struct {
		name    string
		active  Issuer
		others  []Issuer
		wantErr string
	}{
		{name: "one", active: a},
		{name: "two", active: b, others: []Issuer{a}},
		{name: "nil active", active: nil, wantErr: "nil"},
		{name: "nil other", active: a, others: []Issuer{nil}, wantErr: "nil"},
		{name: "no key ID", active: &keyIssuer{}, wantErr: "no key identifier"},
		{name: "same key ID twice", active: a, others: []Issuer{b, a}, wantErr: "aa01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			set, err := NewIssuers(tt.active, tt.others...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if got := set.Active(); got != tt.active {
				t.Errorf("Active: got %v, want %v", got, tt.active)
			}
			if got, want := len(set.All()), 1+len(tt.others); got != want {
				t.Errorf("All: got %d issuers, want %d", got, want)
			}
		})
	}
}

func TestIssuersByKeyID(t *testing.T) {
	t.Parallel()
	a, b := &keyIssuer{id: []byte{0xaa, 0x01}}, &keyIssuer{id: []byte{0xbb, 0x02}}
	set, err := NewIssuers(b, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := set.ActiveKeyID(); got != "bb02" {
		t.Errorf("ActiveKeyID: got %q, want %q", got, "bb02")
	}
	tests := []struct {
		id   string
		want Issuer
	}{
		{"aa01", a},
		{"AA01", a},
		{"bb02", b},
		{"cc03", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got, ok := set.ByKeyID(tt.id)
		if ok != (tt.want != nil) || got != tt.want {
			t.Errorf("ByKeyID(%q): got %v, %v; want %v", tt.id, got, ok, tt.want)
		}
	}
}

func TestRotatedWindow(t *testing.T) {
	t.Parallel()
	notBefore := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const lifetime = 24 * time.Hour
	normal := RenewalInfo{Start: notBefore.Add(16 * time.Hour), End: notBefore.Add(20 * time.Hour)}
	tests := []struct {
		name      string
		now       time.Time
		wantStart time.Time
		wantEnd   time.Time
	}{
		{name: "early in the lifetime", now: notBefore.Add(time.Hour),
			wantStart: notBefore.Add(time.Hour - time.Minute), wantEnd: notBefore.Add(5 * time.Hour)},
		{name: "close to the normal window", now: notBefore.Add(15 * time.Hour),
			wantStart: notBefore.Add(15*time.Hour - time.Minute), wantEnd: notBefore.Add(19 * time.Hour)},
		{name: "inside the normal window", now: notBefore.Add(17 * time.Hour),
			wantStart: normal.Start, wantEnd: normal.End},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			info := normal
			rotatedWindow(&info, tt.now, lifetime)
			if !info.Start.Equal(tt.wantStart) || !info.End.Equal(tt.wantEnd) {
				t.Errorf("got window %v to %v, want %v to %v", info.Start, info.End,
					tt.wantStart, tt.wantEnd)
			}
		})
	}
}
