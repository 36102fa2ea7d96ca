package main

import (
	"strings"
	"testing"
)

func TestSummariseClientColumn(t *testing.T) {
	t.Parallel()
	const (
		// An api run from before -client, with no client field.
		oldAPI = `{"server":"acmegate","mode":"unpinned","concurrency":4,` +
			`"certs_per_second":40,"latency_ms":{"p50":80}}`
		stepAPI = `{"server":"step-ca","mode":"unpinned","client":"api","concurrency":4,` +
			`"certs_per_second":20,"latency_ms":{"p50":100}}`
		gateLego = `{"server":"acmegate","mode":"unpinned","client":"lego","concurrency":4,` +
			`"certs_per_second":30,"latency_ms":{"p50":70}}`
		stepLego = `{"server":"step-ca","mode":"unpinned","client":"lego","concurrency":4,` +
			`"certs_per_second":10,"latency_ms":{"p50":140}}`
	)
	tests := []struct {
		name  string
		lines []string
		want  []string // lines the output must hold
		never []string // text it must not hold
	}{
		{
			name:  "one client mode",
			lines: []string{oldAPI, stepAPI},
			want: []string{
				"| mode | c | server |",
				"| unpinned | 4 | acmegate | 1 (0) | 40.0 | 40.0-40.0 | 80.0 |",
				"| unpinned | 4 | acmegate/step-ca | 2.00 | n/a | 0.80 |",
			},
			never: []string{"client |", "| api |"},
		},
		{
			name:  "two client modes",
			lines: []string{oldAPI, stepAPI, gateLego, stepLego},
			want: []string{
				"| mode | client | c | server |",
				"|---|---|---:|---|",
				"| unpinned | api | 4 | acmegate | 1 (0) | 40.0 | 40.0-40.0 | 80.0 |",
				"| unpinned | lego | 4 | step-ca | 1 (0) | 10.0 | 10.0-10.0 | 140.0 |",
				"| mode | client | c | ratio |",
				"| unpinned | api | 4 | acmegate/step-ca | 2.00 | n/a | 0.80 |",
				"| unpinned | lego | 4 | acmegate/step-ca | 3.00 | n/a | 0.50 |",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			groups, err := readGroups(strings.NewReader(strings.Join(tc.lines, "\n")))
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			writeSummary(&out, groups, "acmegate")
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("got\n%s\nwant it to contain %q", out.String(), w)
				}
			}
			for _, n := range tc.never {
				if strings.Contains(out.String(), n) {
					t.Errorf("got\n%s\nwant no %q", out.String(), n)
				}
			}
		})
	}
}
