package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certificate"
)

// caaConfig turns CAA checking on (RFC 8659) with acmegate.test as the
// CA's issuer domain name; the harness points the gateway's resolver at
// its DNS server.
const caaConfig = `challenges:
  caa:
    enabled: true
    identities: [acmegate.test]
`

func TestCAA(t *testing.T) {
	t.Parallel()
	g := startGateway(t, withConfig(caaConfig))

	// Each case obtains names (wildcards by dns-01, the rest by http-01)
	// after publishing records, written as "<name> <flags> <tag> <value>"
	// relative to the zone caa.test, with {account} replaced by the URL of
	// the obtaining account and {other} by that of another account.
	tests := []struct {
		name    string
		names   []string
		records []string
		// want is the ACME problem type of the refusal, empty for success.
		want string
	}{
		{name: "no CAA", names: []string{"none.caa.test"}},
		{name: "issue names this CA", names: []string{"ok.caa.test"},
			records: []string{`ok 0 issue "acmegate.test"`}},
		{name: "issue names another CA", names: []string{"other.caa.test"},
			records: []string{`other 0 issue "other-ca.test"`}, want: "caa"},
		{name: "inherited from the parent", names: []string{"child.parent.caa.test"},
			records: []string{`parent 0 issue "other-ca.test"`}, want: "caa"},
		{name: "accounturi of this account", names: []string{"mine.caa.test"},
			records: []string{`mine 0 issue "acmegate.test; accounturi={account}"`}},
		{name: "accounturi of another account", names: []string{"theirs.caa.test"},
			records: []string{`theirs 0 issue "acmegate.test; accounturi={other}"`}, want: "caa"},
		{name: "issuewild refuses a wildcard", names: []string{"*.wild.caa.test"},
			records: []string{`wild 0 issue "acmegate.test"`, `wild 0 issuewild "other-ca.test"`},
			want:    "caa"},
		{name: "issuewild leaves the base name", names: []string{"base.caa.test"},
			records: []string{`base 0 issue "acmegate.test"`, `base 0 issuewild "other-ca.test"`}},
	}
	_, other := newRegisteredLegoClient(t, g, challHTTP01)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			challenge := challHTTP01
			if strings.HasPrefix(tt.names[0], "*.") {
				challenge = challDNS01
			}
			pointAt(g, tt.names...)
			client, user := newRegisteredLegoClient(t, g, challenge)
			for _, rec := range tt.records {
				label, rest, _ := strings.Cut(rec, " ")
				rest = strings.NewReplacer("{account}", user.reg.URI, "{other}", other.reg.URI).Replace(rest)
				g.DNS.AddRR(label + ".caa.test. 0 IN CAA " + rest)
			}

			start := time.Now()
			req := certificate.ObtainRequest{Domains: tt.names, Bundle: true}
			res, err := client.Certificate.Obtain(req)
			if tt.want != "" {
				wantProblem(t, err, tt.want, 0)
				return
			}
			if err != nil {
				t.Fatalf("Obtain(%q): %v", tt.names, err)
			}
			checkLegoResource(t, g, res, start, wantCert{identifiers: tt.names})
		})
	}
}
