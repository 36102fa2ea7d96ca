package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// fillProfile is one certificate profile of the default configuration
// with the share of lineages that use it.
type fillProfile struct {
	name     string
	lifetime time.Duration
	share    float64
}

// fillProfiles are the default profiles of acmegate serve, so that the
// filled rows match what `certs list --profile` is asked about.
var fillProfiles = []fillProfile{
	{name: "default", lifetime: 24 * time.Hour, share: 0.70},
	{name: "shortlived", lifetime: 6 * time.Hour, share: 0.20},
	{name: "mtls", lifetime: 24 * time.Hour, share: 0.10},
}

// Shares of the generated history. They are rough figures for an internal
// CA whose clients renew short-lived certificates on their own.
const (
	shareRetired     = 0.20  // lineages that stop renewing before now
	shareARI         = 0.40  // lineages whose client sends ARI replaces
	shareKeyReuse    = 0.20  // lineages that keep their key across renewals
	shareRevoked     = 0.01  // certificates revoked before they expire
	shareRenewalDue  = 0.002 // certificates an operator marked for renewal
	shareFailedOrder = 0.02  // orders that failed validation, kept 7 days
	shareWildcard    = 0.05
	shareIP          = 0.03
	// failedOrderWindow is how far back failed orders are kept: the
	// default order_retention purges older ones.
	failedOrderWindow = 7 * 24 * time.Hour
	// authzReuse is the default acme.authz_reuse: a valid authorization
	// serves the account's later orders for this long.
	authzReuse = 24 * time.Hour
)

// Words that names and teams are made of.
var (
	teamWords = []string{"payments", "search", "billing", "identity", "storage", "edge",
		"mobile", "data", "ml", "infra", "ledger", "risk", "mail", "chat", "media", "maps"}
	serviceWords = []string{"api", "web", "db", "cache", "queue", "auth", "gw", "worker",
		"grpc", "admin", "metrics", "ingest", "export", "sync", "proxy", "batch"}
	envWords = []string{"prod", "staging", "dev"}
)

// fillAccount is one generated ACME account: a team with its domain.
type fillAccount struct {
	id      string
	domain  string
	created time.Time
}

// lineage is one sequence of certificates for the same account, names
// and profile: the first issuance and every renewal after it.
type lineage struct {
	account  int
	names    []string // as in the certificate; "*." marks a wildcard
	profile  fillProfile
	start    time.Time
	interval time.Duration
	count    int
	ari      bool
	reuseKey bool
}

// plannedCert is one certificate of the history: the index-th of its
// lineage, issued at the time at.
type plannedCert struct {
	at      time.Time
	lineage int32
	index   int32
}

// fillModel is the generated history of a gateway: accounts, lineages and
// every certificate in the order the gateway would have issued them. All
// values derive from the seed, so the same seed gives the same history.
type fillModel struct {
	seed     uint64
	now      time.Time
	accounts []fillAccount
	lineages []lineage
	certs    []plannedCert
}

// newFillModel plans n certificates issued over the days before now to
// the given number of accounts.
func newFillModel(seed uint64, n, accounts int, days int, now time.Time) *fillModel {
	m := &fillModel{seed: seed, now: now.UTC()}
	rng := rand.New(rand.NewPCG(seed, 0))
	history := time.Duration(days) * 24 * time.Hour
	for k := range accounts {
		m.accounts = append(m.accounts, fillAccount{
			id:      randomID(rng),
			domain:  teamDomain(k),
			created: m.now.Add(-history - time.Duration(rng.Int64N(int64(30*24*time.Hour)))),
		})
	}
	for total := 0; total < n; {
		l := m.newLineage(rng, len(m.lineages), history)
		l.count = min(l.count, n-total)
		total += l.count
		m.lineages = append(m.lineages, l)
	}
	m.certs = make([]plannedCert, 0, n)
	for li := range m.lineages {
		for i := range m.lineages[li].count {
			m.certs = append(m.certs, plannedCert{at: m.certTime(li, i), lineage: int32(li),
				index: int32(i)})
		}
	}
	slices.SortStableFunc(m.certs, func(a, b plannedCert) int { return a.at.Compare(b.at) })
	return m
}

// newLineage draws the lineage numbered no. Busy accounts (low numbers)
// get more lineages than quiet ones, as when one cluster's cert-manager
// holds most of a team's certificates.
func (m *fillModel) newLineage(rng *rand.Rand, no int, history time.Duration) lineage {
	u := rng.Float64()
	l := lineage{
		account:  int(u * u * float64(len(m.accounts))),
		profile:  pickProfile(rng.Float64()),
		ari:      rng.Float64() < shareARI,
		reuseKey: rng.Float64() < shareKeyReuse,
	}
	l.names = lineageNames(rng, no, l.profile.name, m.accounts[l.account].domain)
	// Clients renew when a third of the lifetime is left.
	l.interval = l.profile.lifetime * 2 / 3
	earliest := m.now.Add(-history)
	latest := m.now.Add(-l.profile.lifetime / 2)
	l.start = earliest.Add(time.Duration(rng.Int64N(int64(latest.Sub(earliest)))))
	end := m.now
	if rng.Float64() < shareRetired {
		end = l.start.Add(time.Duration(rng.Int64N(int64(m.now.Sub(l.start)))))
	}
	// The jitter of certTime stays under a tenth of the interval, so the
	// last certificate is issued before end.
	l.count = int(end.Sub(l.start)/l.interval) + 1
	if l.start.Add(time.Duration(l.count-1)*l.interval + l.interval/10).After(m.now) {
		l.count--
	}
	l.count = max(l.count, 1)
	return l
}

func pickProfile(u float64) fillProfile {
	for _, p := range fillProfiles {
		if u < p.share {
			return p
		}
		u -= p.share
	}
	return fillProfiles[0]
}

// lineageNames draws the names of the lineage numbered no: one to three
// names under the account's domain, sometimes a wildcard or an IP
// address. The number keeps names unique across lineages.
func lineageNames(rng *rand.Rand, no int, profile, domain string) []string {
	svc := serviceWords[rng.IntN(len(serviceWords))]
	if profile == "mtls" {
		svc = "client-" + svc
	}
	u := rng.Float64()
	switch {
	case u < shareIP:
		return []string{fmt.Sprintf("10.%d.%d.%d", no>>16&0xff, no>>8&0xff, no&0xff)}
	case u < shareIP+shareWildcard && profile != "mtls":
		return []string{fmt.Sprintf("*.%s-%d.%s", svc, no, domain)}
	}
	names := []string{fmt.Sprintf("%s-%d.%s", svc, no, domain)}
	extra := 0
	switch v := rng.Float64(); {
	case v < 0.10:
		extra = 2
	case v < 0.30:
		extra = 1
	}
	for j := range extra {
		alt := serviceWords[(rng.IntN(len(serviceWords))+j)%len(serviceWords)]
		names = append(names, fmt.Sprintf("%s-%d-%s.%s", svc, no, alt, domain))
	}
	return names
}

// teamDomain names the domain of account k, such as
// "payments.prod.example.internal" or "payments3.dev.example.internal".
func teamDomain(k int) string {
	team := teamWords[k%len(teamWords)]
	if round := k / len(teamWords) / len(envWords); round > 0 {
		team += fmt.Sprint(round + 1)
	}
	env := envWords[k/len(teamWords)%len(envWords)]
	return team + "." + env + ".example.internal"
}

// certTime is when the index-th certificate of lineage li is issued: one
// renewal interval after the previous one, give or take a tenth of it.
func (m *fillModel) certTime(li, index int) time.Time {
	l := &m.lineages[li]
	rng := m.rngFor(li, index, streamTime)
	jitter := time.Duration(rng.Int64N(int64(l.interval / 10)))
	return l.start.Add(time.Duration(index)*l.interval + jitter).UTC()
}

// Streams of random values per certificate, so that drawing more values
// for one purpose never shifts those of another.
const (
	streamTime uint64 = iota + 1
	streamRows
	streamKey
)

// rngFor returns the random source of one purpose of one certificate.
func (m *fillModel) rngFor(li, index int, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(m.seed^stream<<56, uint64(li)<<32|uint64(index)))
}

// profileCounts returns the number of certificates of each profile.
func (m *fillModel) profileCounts() map[string]int {
	out := map[string]int{}
	for _, l := range m.lineages {
		out[l.profile.name] += l.count
	}
	return out
}
