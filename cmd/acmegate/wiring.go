package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acmegate/acmegate/acme/nonce"
	"github.com/acmegate/acmegate/acme/server"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/caa"
	"github.com/acmegate/acmegate/challenges/dns01"
	"github.com/acmegate/acmegate/challenges/http01"
	"github.com/acmegate/acmegate/challenges/netguard"
	"github.com/acmegate/acmegate/challenges/resolver"
	"github.com/acmegate/acmegate/challenges/tlsalpn01"
	"github.com/acmegate/acmegate/store"
)

// buildEngine wires the validators and the state machine from cfg; staging
// selects the client-honesty directory's engine.
func buildEngine(cfg Config, st *store.Store, issuers *state.Issuers, log *slog.Logger,
	reg prometheus.Registerer, staging bool) (*state.Engine, error) {
	profiles, _, err := cfg.profiles()
	if err != nil {
		return nil, err
	}
	guard := netguard.Policy{}
	for _, n := range cfg.Challenges.AllowNetworks {
		guard.Allow = append(guard.Allow, netip.MustParsePrefix(n))
	}
	for _, n := range cfg.Challenges.DenyNetworks {
		guard.Deny = append(guard.Deny, netip.MustParsePrefix(n))
	}
	timeout := time.Duration(cfg.Challenges.Timeout)
	res := resolver.New(cfg.Challenges.DNSResolvers, 0)
	res.Quorum = cfg.Challenges.DNSQuorum
	validators := map[string]challenges.Validator{
		challenges.TypeHTTP01: http01.New(res, guard, cfg.Challenges.HTTP01Port,
			http01.Options{Timeout: timeout}),
		challenges.TypeDNS01: dns01.New(res, dns01.Options{}),
		challenges.TypeTLSALPN01: tlsalpn01.New(res, guard, cfg.Challenges.TLSALPN01Port,
			tlsalpn01.Options{Timeout: timeout}),
	}
	if err := addTokenValidator(cfg, st, validators); err != nil {
		return nil, err
	}
	if err := addDeviceAttestValidator(cfg.Challenges.DeviceAttest, validators); err != nil {
		return nil, err
	}
	var caaChecker state.CAAChecker
	if cfg.Challenges.CAA.Enabled {
		ids := cfg.Challenges.CAA.Identities
		if len(ids) == 0 {
			ids = cfg.ACME.CAAIdentities
		}
		caaChecker = caa.New(res, ids)
	}
	a := cfg.ACME
	directory, chaos := "acme", state.Chaos{}
	if staging {
		directory = strings.TrimPrefix(cfg.Staging.Prefix, "/")
		chaos = state.Chaos{
			MaxValidationDelay: time.Duration(cfg.Staging.MaxValidationDelay),
			AuthzReuseRate:     cfg.Staging.AuthzReuseRate,
			RandomProfile:      cfg.Staging.RandomProfile,
		}
		log = log.With("directory", directory)
	}
	if err := addDNSPersistValidator(cfg, res, timeout, directory, validators); err != nil {
		return nil, err
	}
	return state.New(state.Options{
		Config: state.Config{
			Directory:             directory,
			Chaos:                 chaos,
			AccountURLPrefix:      cfg.externalURL() + "/" + directory + "/acct/",
			TokenChallengeDomains: cfg.Challenges.Token.Domains,
			// Only replicas sharing a database change each other's
			// accounts; on SQLite this process is the only writer.
			CacheAccounts:        st.Dialect() == store.SQLite,
			OrderLifetime:        time.Duration(a.OrderLifetime),
			PendingAuthzLifetime: time.Duration(a.AuthzLifetime),
			ValidAuthzLifetime:   time.Duration(a.AuthzReuse),
			DisableAuthzReuse:    a.DisableAuthzReuse,
			ChallengeTypes:       a.ChallengeTypes,
			Profiles:             profiles,
			DefaultProfile:       a.DefaultProfile,
			MaxIdentifiers:       a.MaxIdentifiers,
			MaxPendingOrders:     a.MaxPendingOrders,
			ValidationWait:       time.Duration(a.ValidationWait),
			ValidationTimeout:    timeout,
			Validators:           a.ValidationWorkers,
			FinalizeWait:         time.Duration(a.FinalizeWait),
			RequireEAB:           a.RequireEAB,
			TermsOfService:       a.TermsOfService,
			Policy: state.Policy{
				AllowedDomains:   cfg.Policy.AllowedDomains,
				DeniedDomains:    cfg.Policy.DeniedDomains,
				AllowedIPRanges:  cfg.Policy.AllowedIPRanges,
				DisallowIP:       cfg.Policy.DisallowIP,
				DisallowWildcard: cfg.Policy.DisallowWildcard,
			},
		},
		Store:      st,
		Issuers:    issuers,
		Validators: validators,
		CAA:        caaChecker,
		Logger:     log,
		Registerer: reg,
	})
}

// listenerTLS returns the TLS configuration of the gateway's own listener:
// a certificate from the intermediate for the listen and external hosts,
// renewed in memory when half its lifetime has passed.
func listenerTLS(cfg Config, issuer *ca.Issuer, log *slog.Logger) (*tls.Config, error) {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, _, err := net.SplitHostPort(cfg.Listen); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
		hosts = append(hosts, h)
	}
	if u, err := url.Parse(cfg.externalURL()); err == nil && u.Hostname() != "" {
		hosts = append(hosts, u.Hostname())
	}
	hosts = append(hosts, cfg.CA.ServerNames...)
	const lifetime = 7 * 24 * time.Hour
	var mu sync.Mutex
	var current *tls.Certificate
	issue := func() (*tls.Certificate, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating listener key: %w", err)
		}
		cert, err := issuer.IssueServerCertificate(dedupe(hosts), key, lifetime, time.Now(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("issuing listener certificate: %w", err)
		}
		return &cert, nil
	}
	first, err := issue()
	if err != nil {
		return nil, err
	}
	current = first
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			mu.Lock()
			defer mu.Unlock()
			if time.Until(current.Leaf.NotAfter) < lifetime/2 {
				fresh, err := issue()
				if err != nil {
					log.Error("renewing listener certificate failed", "error", err)
					return current, nil
				}
				current = fresh
			}
			return current, nil
		},
	}, nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// buildServer wires the ACME front end of the production directory or, with
// staging, of the client-honesty directory.
func buildServer(cfg Config, engine *state.Engine, nonces *nonce.Service, issuer *ca.Issuer,
	log *slog.Logger, reg prometheus.Registerer, staging bool) (*server.Server, error) {
	_, profileDesc, err := cfg.profiles()
	if err != nil {
		return nil, err
	}
	opts := server.Options{
		ExternalURL: cfg.externalURL(), Engine: engine, Nonces: nonces, Logger: log,
		MaxBodyBytes: cfg.ACME.MaxBodyBytes, OrdersPageSize: cfg.ACME.OrdersPageSize,
		IntermediatePEM: issuer.ChainPEM(), RootPEM: pemCert(issuer.Root.Raw), Metrics: reg,
		Meta: server.Meta{TermsOfService: cfg.ACME.TermsOfService, Website: cfg.ACME.Website,
			CAAIdentities: cfg.ACME.CAAIdentities, ExternalAccountRequired: cfg.ACME.RequireEAB,
			Profiles: profileDesc},
		IPRateLimit: server.RateLimit{RequestsPerSecond: cfg.ACME.RateLimit.PerIP.Rate,
			Burst: cfg.ACME.RateLimit.PerIP.Burst},
		AccountRateLimit: server.RateLimit{RequestsPerSecond: cfg.ACME.RateLimit.PerAccount.Rate,
			Burst: cfg.ACME.RateLimit.PerAccount.Burst},
	}
	if staging {
		opts.Prefix = cfg.Staging.Prefix
		opts.NonceRejectRate = cfg.Staging.NonceRejectRate
		opts.OrdersPageSize = cfg.Staging.OrdersPageSize
		opts.Logger = log.With("directory", strings.TrimPrefix(cfg.Staging.Prefix, "/"))
	}
	directory := "acme"
	if staging {
		directory = strings.TrimPrefix(cfg.Staging.Prefix, "/")
	}
	setDNSPersistMeta(cfg, directory, &opts.Meta)
	if opts.AlternateChains, err = alternateChains(cfg.CA.AlternateChains, engine.Issuers()); err != nil {
		return nil, err
	}
	return server.New(opts)
}

// alternateChains reads the alternate chain files and files each under the
// configured intermediate it stands in for.
func alternateChains(files []string, issuers *state.Issuers) (map[string][][]byte, error) {
	out := map[string][][]byte{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("ca.alternate_chains: %w", err)
		}
		matched := false
		for _, m := range issuers.All() {
			is, ok := m.(*ca.Issuer)
			if !ok {
				continue
			}
			chain, err := server.CheckAlternateChain(is.Certificate, raw)
			if err != nil {
				continue
			}
			id := hex.EncodeToString(is.KeyID())
			out[id] = append(out[id], chain)
			matched = true
			break
		}
		if !matched {
			return nil, fmt.Errorf("ca.alternate_chains: %s does not start with a certificate of a "+
				"configured intermediate's subject and key, each signed by the next", f)
		}
	}
	return out, nil
}
