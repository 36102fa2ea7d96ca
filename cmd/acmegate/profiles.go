package main

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/acmegate/acmegate/ca"
)

var extKeyUsages = map[string]x509.ExtKeyUsage{
	"serverAuth": x509.ExtKeyUsageServerAuth,
	"clientAuth": x509.ExtKeyUsageClientAuth,
}

// toProfile converts a configured profile to the CA's profile type.
func (p ProfileConfig) toProfile(name string) (ca.Profile, error) {
	out := ca.Profile{
		Name:                 name,
		Description:          p.Description,
		Lifetime:             time.Duration(p.Lifetime),
		MaxLifetime:          time.Duration(p.MaxLifetime),
		Backdate:             time.Duration(p.Backdate),
		IncludeCommonName:    p.IncludeCommonName,
		CRLDistributionPoint: p.CRLURL,
		OCSPServer:           p.OCSPURL,
	}
	for _, u := range p.ExtKeyUsage {
		eku, ok := extKeyUsages[u]
		if !ok {
			return out, fmt.Errorf("ext_key_usage %q must be serverAuth or clientAuth", u)
		}
		out.ExtKeyUsage = append(out.ExtKeyUsage, eku)
	}
	out = out.WithDefaults()
	return out, out.Validate()
}

func (c *Config) profiles() (map[string]ca.Profile, map[string]string, error) {
	out := map[string]ca.Profile{}
	desc := map[string]string{}
	for name, pc := range c.Profiles {
		p, err := pc.toProfile(name)
		if err != nil {
			return nil, nil, fmt.Errorf("profile %s: %w", name, err)
		}
		out[name] = p
		desc[name] = p.Description
	}
	return out, desc, nil
}
