package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/ca/pkcs11"
)

// validateIntermediates checks ca.intermediates and ca.active without
// touching the file system.
func (c CAConfig) validateIntermediates() error {
	seen := map[string]bool{}
	for n, ic := range c.Intermediates {
		field := fmt.Sprintf("config: ca.intermediates[%d]", n)
		if err := ic.validate(); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		cert := filepath.Clean(ic.Cert)
		if seen[cert] {
			return fmt.Errorf("%s: cert %s is listed twice", field, ic.Cert)
		}
		seen[cert] = true
	}
	if c.Active != "" && !seen[filepath.Clean(c.Active)] {
		return fmt.Errorf("config: ca.active %q is not the cert of an entry of ca.intermediates",
			c.Active)
	}
	return nil
}

// validate reports the first missing or conflicting field of one entry.
func (ic IntermediateConfig) validate() error {
	switch {
	case ic.Cert == "":
		return errors.New("cert is required")
	case ic.PKCS11.Module != "" && (ic.Key != "" || ic.PassphraseFile != ""):
		return errors.New("give either key and passphrase_file or pkcs11, not both")
	case ic.PKCS11.Module != "":
		if err := ic.PKCS11.Validate(); err != nil {
			return fmt.Errorf("pkcs11: %w", err)
		}
	case ic.Key == "" || ic.PassphraseFile == "":
		return errors.New("key and passphrase_file are required without pkcs11")
	}
	return nil
}

// loadIssuers loads the data folder's intermediate and every entry of
// ca.intermediates, all under <data>/root.pem. It returns the active one
// (ca.active, or the data folder's), the set the state machine serves
// certificates from, and a function that releases any PKCS#11 tokens.
func loadIssuers(cfg Config, log *slog.Logger) (*ca.Issuer, *state.Issuers, func(), error) {
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	primary, closePrimary, err := loadIssuer(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	closers = append(closers, closePrimary)

	active, others := primary, []state.Issuer{}
	for n, ic := range cfg.CA.Intermediates {
		issuer, closeIssuer, err := loadIntermediate(ic, primary.Root)
		if err != nil {
			closeAll()
			return nil, nil, nil, fmt.Errorf("loading ca.intermediates[%d]: %w", n, err)
		}
		closers = append(closers, closeIssuer)
		if cfg.CA.Active != "" && filepath.Clean(cfg.CA.Active) == filepath.Clean(ic.Cert) {
			others = append(others, active)
			active = issuer
			continue
		}
		others = append(others, issuer)
	}
	set, err := state.NewIssuers(active, others...)
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	for _, iss := range set.All()[1:] {
		log.Info("intermediate loaded for the certificates it issued", "intermediate", iss)
	}
	return active, set, closeAll, nil
}

// loadIntermediate loads one entry of ca.intermediates and checks that
// root signed it.
func loadIntermediate(ic IntermediateConfig, root *x509.Certificate) (*ca.Issuer, func(), error) {
	cert, err := ca.ReadCertificateFile(ic.Cert)
	if err != nil {
		return nil, nil, err
	}
	if ic.PKCS11.Module != "" {
		return loadTokenIntermediate(ic.PKCS11, cert, root)
	}
	pass, err := ca.ReadPassphraseFile(ic.PassphraseFile)
	if err != nil {
		return nil, nil, fmt.Errorf("reading passphrase of %s: %w", ic.Key, err)
	}
	key, err := ca.LoadEncryptedKey(ic.Key, pass)
	if err != nil {
		return nil, nil, err
	}
	issuer, err := ca.NewIssuer(cert, root, key)
	if err != nil {
		return nil, nil, err
	}
	return issuer, func() {}, nil
}

// loadTokenIntermediate opens the token of hsm and pairs cert with its key.
func loadTokenIntermediate(
	hsm pkcs11.Config,
	cert, root *x509.Certificate,
) (*ca.Issuer, func(), error) {
	tok, err := pkcs11.Open(hsm)
	if err != nil {
		return nil, nil, err
	}
	signer, err := tok.Signer(hsm.KeyLabel)
	if err != nil {
		_ = tok.Close()
		return nil, nil, err
	}
	issuer, err := ca.NewIssuer(cert, root, signer)
	if err != nil {
		_ = tok.Close()
		return nil, nil, err
	}
	return issuer, func() { _ = tok.Close() }, nil
}

// loadIssuer loads the intermediate from the data folder with its key from
// the encrypted key file or, when configured, from a PKCS#11 token. The
// returned function releases the token.
func loadIssuer(cfg Config) (*ca.Issuer, func(), error) {
	if cfg.CA.PKCS11.Module != "" {
		tok, err := pkcs11.Open(cfg.CA.PKCS11)
		if err != nil {
			return nil, nil, err
		}
		issuer, err := tok.LoadIssuer(cfg.Data, cfg.CA.PKCS11.KeyLabel)
		if err != nil {
			_ = tok.Close()
			return nil, nil, err
		}
		return issuer, func() { _ = tok.Close() }, nil
	}
	passFile := cfg.CA.IntermediatePassphraseFile
	if passFile == "" {
		passFile = filepath.Join(cfg.Data, "intermediate.pass")
	}
	pass, err := ca.ReadPassphraseFile(passFile)
	if err != nil {
		return nil, nil, fmt.Errorf("reading intermediate passphrase: %w", err)
	}
	issuer, err := ca.LoadIssuer(cfg.Data, pass)
	return issuer, func() {}, err
}
