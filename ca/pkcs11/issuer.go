package pkcs11

import (
	"fmt"
	"path/filepath"

	"github.com/acmegate/acmegate/ca"
)

// LoadIssuer loads the online CA as [ca.LoadIssuer] does, but with the
// intermediate key labelled keyLabel in t instead of an encrypted key
// file. It reads [ca.IntermediateCertFile] and [ca.RootCertFile] from
// dataDir and nothing else.
//
// Errors wrap those of [Token.Signer] and [ca.NewIssuer]; in particular
// [ca.ErrKeyMismatch] when the token's key is not the one certified by
// the intermediate certificate. The issuer signs through t and stops
// working when t is closed.
func (t *Token) LoadIssuer(dataDir, keyLabel string) (*ca.Issuer, error) {
	cert, err := ca.ReadCertificateFile(filepath.Join(dataDir, ca.IntermediateCertFile))
	if err != nil {
		return nil, fmt.Errorf("loading issuer: %w", err)
	}
	root, err := ca.ReadCertificateFile(filepath.Join(dataDir, ca.RootCertFile))
	if err != nil {
		return nil, fmt.Errorf("loading issuer: %w", err)
	}
	signer, err := t.Signer(keyLabel)
	if err != nil {
		return nil, fmt.Errorf("loading issuer: %w", err)
	}
	issuer, err := ca.NewIssuer(cert, root, signer)
	if err != nil {
		return nil, fmt.Errorf("loading issuer: %w", err)
	}
	return issuer, nil
}
