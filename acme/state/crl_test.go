package state

import "testing"

func TestCRLURLFor(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, url, want string }{
		{"no placeholder", "http://ca.internal/acme/crl", "http://ca.internal/acme/crl"},
		{"placeholder", "http://ca.internal/acme/crl/{key_id}", "http://ca.internal/acme/crl/aa01"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := crlURLFor(tt.url, "aa01"); got != tt.want {
				t.Errorf("crlURLFor(%q): got %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}
