package resolver

import (
	"slices"
	"testing"
	"time"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
)

// TestQuorum covers "agreement of several internal resolvers"
// (SECURITY-CATALOGUE E8).
func TestQuorum(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		quorum     int
		answers    [3][]string // nil: NXDOMAIN
		wantValues []string
		wantKind   string
		wantDetail string
	}{
		{
			name:       "all agree",
			quorum:     3,
			answers:    [3][]string{{"a", "b"}, {"b", "a"}, {"a", "b"}},
			wantValues: []string{"a", "b"},
		},
		{
			name:       "two of three agree",
			quorum:     2,
			answers:    [3][]string{{"evil"}, {"good"}, {"good"}},
			wantValues: []string{"good"},
		},
		{
			name:       "disagreement",
			quorum:     2,
			answers:    [3][]string{{"one"}, {"two"}, nil},
			wantKind:   challenges.KindDNS,
			wantDetail: `fewer than 2 of 3 resolvers agree on TXT for a.test (resolver 1: "one"`,
		},
		{
			name:       "one poisoned resolver breaks unanimity",
			quorum:     3,
			answers:    [3][]string{{"good"}, {"good"}, {"evil"}},
			wantKind:   challenges.KindDNS,
			wantDetail: "fewer than 3 of 3",
		},
		{
			name:       "agreed NXDOMAIN",
			quorum:     2,
			answers:    [3][]string{nil, nil, {"x"}},
			wantKind:   challenges.KindDNS,
			wantDetail: "NXDOMAIN",
		},
		{
			name:       "quorum above server count",
			quorum:     4,
			answers:    [3][]string{{"x"}, {"x"}, {"x"}},
			wantKind:   challenges.KindDNS,
			wantDetail: "a quorum of 4 cannot be met by 3 resolvers",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var servers []string
			for _, values := range tt.answers {
				srv := challtest.NewDNSServer(t)
				if values != nil {
					srv.SetTXT("a.test", values...)
				}
				servers = append(servers, srv.Addr())
			}
			r := New(servers, time.Second)
			r.Quorum = tt.quorum

			values, _, err := r.LookupTXT(testCtx(t), "a.test")
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
			slices.Sort(values)
			if !slices.Equal(values, tt.wantValues) {
				t.Errorf("got values %q, want %q", values, tt.wantValues)
			}
		})
	}
}
