package main

import (
	"crypto/x509"
	"fmt"
	"os"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/deviceattest"
)

// addDeviceAttestValidator adds device-attest-01 when at least one format
// has roots configured.
func addDeviceAttestValidator(cfg DeviceAttestConfig, validators map[string]challenges.Validator) error {
	var opts deviceattest.Options
	for _, f := range []struct {
		format, file string
		pool         **x509.CertPool
	}{
		{deviceattest.FormatApple, cfg.AppleRoots, &opts.Roots.Apple},
		{deviceattest.FormatTPM, cfg.TPMRoots, &opts.Roots.TPM},
		{deviceattest.FormatStep, cfg.StepRoots, &opts.Roots.Step},
	} {
		if f.file == "" {
			continue
		}
		pem, err := os.ReadFile(f.file)
		if err != nil {
			return fmt.Errorf("device attestation roots for %s: %w", f.format, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("device attestation roots for %s: %s holds no certificate", f.format, f.file)
		}
		*f.pool = pool
		opts.Formats = append(opts.Formats, f.format)
	}
	if len(opts.Formats) == 0 {
		return nil
	}
	v, err := deviceattest.New(opts)
	if err != nil {
		return fmt.Errorf("device attestation: %w", err)
	}
	validators[deviceattest.Type] = v
	return nil
}
