package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/acmegate/acmegate/acme/server"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/dnspersist"
	"github.com/acmegate/acmegate/challenges/resolver"
)

// DNSPersistConfig turns on dns-persist-01: standing TXT records at
// _validation-persist.<name> that name this CA and an account authorize
// that account for the name until they are removed.
type DNSPersistConfig struct {
	// Enabled offers dns-persist-01 for dns identifiers, wildcards
	// included. Off by default.
	Enabled bool `yaml:"enabled"`
	// IssuerDomainNames identify this CA in records: 1 to 10 lower-case
	// A-label domain names without a trailing dot. When
	// acme.caa_identities is set, each must be among them.
	IssuerDomainNames []string `yaml:"issuer_domain_names"`
	// AccountHashPrefix starts every hashed account URI; default
	// <external_url>/<directory>/account-hash/. Records stop validating
	// when it changes.
	AccountHashPrefix string `yaml:"account_hash_prefix"`
	// AllowSubdomains lets a record with policy=wildcard authorize names
	// below its domain too, not only the domain and its wildcard.
	AllowSubdomains bool `yaml:"allow_subdomains"`
}

// validate reports the first bad field of an enabled configuration.
// caaIdentities are the names the directory advertises for CAA
// (draft-ietf-acme-dns-persist-02, Section 3.2).
func (c DNSPersistConfig) validate(caaIdentities []string) error {
	if !c.Enabled {
		return nil
	}
	if err := dnspersist.CheckIssuerDomainNames(c.IssuerDomainNames); err != nil {
		return fmt.Errorf("config: challenges.dns_persist.issuer_domain_names: %w", err)
	}
	if len(caaIdentities) > 0 {
		var ids []string
		for _, id := range caaIdentities {
			ids = append(ids, strings.TrimSuffix(strings.ToLower(id), "."))
		}
		for _, n := range c.IssuerDomainNames {
			if !slices.Contains(ids, n) {
				return fmt.Errorf("config: challenges.dns_persist.issuer_domain_names: %q is "+
					"not among acme.caa_identities", n)
			}
		}
	}
	if c.AccountHashPrefix != "" {
		if u, err := url.Parse(c.AccountHashPrefix); err != nil || !u.IsAbs() {
			return fmt.Errorf("config: challenges.dns_persist.account_hash_prefix %q is not "+
				"an absolute URI", c.AccountHashPrefix)
		}
	}
	return nil
}

// accountHashPrefix returns the configured prefix or the default for the
// directory ("acme", or the staging prefix without its slash).
func (c *Config) accountHashPrefix(directory string) string {
	if p := c.Challenges.DNSPersist.AccountHashPrefix; p != "" {
		return p
	}
	return c.externalURL() + "/" + directory + "/account-hash/"
}

// addDNSPersistValidator adds the dns-persist-01 validator of a directory
// when it is enabled.
func addDNSPersistValidator(cfg Config, res *resolver.Resolver, timeout time.Duration,
	directory string, validators map[string]challenges.Validator) error {
	dp := cfg.Challenges.DNSPersist
	if !dp.Enabled {
		return nil
	}
	v, err := dnspersist.New(res, dnspersist.Options{
		IssuerDomainNames: dp.IssuerDomainNames,
		AccountHashPrefix: cfg.accountHashPrefix(directory),
		Subdomains:        dp.AllowSubdomains,
		Timeout:           timeout,
	})
	if err != nil {
		return fmt.Errorf("dns-persist-01: %w", err)
	}
	validators[dnspersist.Type] = v
	return nil
}

// setDNSPersistMeta advertises the issuer domain names and the account
// hash prefix in the directory when dns-persist-01 is enabled
// (draft-ietf-acme-dns-persist-02, Section 3.2).
func setDNSPersistMeta(cfg Config, directory string, meta *server.Meta) {
	if !cfg.Challenges.DNSPersist.Enabled {
		return
	}
	meta.IssuerDomainNames = cfg.Challenges.DNSPersist.IssuerDomainNames
	meta.AccountHashPrefix = cfg.accountHashPrefix(directory)
}
