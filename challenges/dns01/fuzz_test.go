package dns01

import (
	"strings"
	"testing"
)

// FuzzTXTMatch checks how found TXT values are judged and shown: only the
// exact digest matches (no trimming, no padding, no case folding), and the
// detail describing a wrong value is printable and bounded whatever bytes
// the value holds (SECURITY-CATALOGUE E5, E8).
func FuzzTXTMatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, value, keyAuth string) {
		want := TXTValue(keyAuth)
		if len(want) != 43 || strings.ContainsAny(want, "+/=") {
			t.Fatalf("got TXT value %q, want 43 base64url characters", want)
		}
		if got := Match([]string{value}, want); got != (value == want) {
			t.Fatalf("Match(%q, %q): got %v, want %v", value, want, got, value == want)
		}
		if Match([]string{value + " ", strings.ToUpper(want), want + "="}, want) {
			t.Fatalf("a near miss matched %q", want)
		}

		shown := describe([]string{value})
		if len(shown) > 140 {
			t.Fatalf("got a description of %d bytes, want at most 140", len(shown))
		}
		for _, c := range []byte(shown) {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("got byte %#x in description %q, want printable ASCII", c, shown)
			}
		}
	})
}
