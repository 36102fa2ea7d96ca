package main

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spf13/cobra"

	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/tkauth"
	"github.com/acmegate/acmegate/store"
)

// addTokenValidator adds the tkauth-01 validator when token issuers are
// configured.
func addTokenValidator(cfg Config, st *store.Store, validators map[string]challenges.Validator) error {
	if len(cfg.Challenges.Token.Issuers) == 0 {
		return nil
	}
	var issuers []tkauth.Issuer
	for _, ic := range cfg.Challenges.Token.Issuers {
		keys, err := tkauth.LoadJWKSFile(ic.JWKSFile)
		if err != nil {
			return fmt.Errorf("token issuer %s: %w", ic.Name, err)
		}
		iss := tkauth.Issuer{Name: ic.Name, Keys: keys, Audience: ic.Audience,
			MaxLifetime: time.Duration(ic.MaxLifetime), BindAccount: ic.BindAccount}
		for _, r := range ic.Rules {
			iss.Rules = append(iss.Rules, tkauth.Rule{Claim: r.Claim, Pattern: r.Pattern,
				Identifiers: r.Identifiers})
		}
		issuers = append(issuers, iss)
	}
	v, err := tkauth.New(tkauth.Options{Issuers: issuers,
		Replay: store.TokenReplayCache{Store: st, Replayed: tkauth.ErrReplayed}})
	if err != nil {
		return fmt.Errorf("token challenge: %w", err)
	}
	validators[challenges.TypeTKAuth01] = v
	return nil
}

func tokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Tokens for the tkauth-01 challenge",
	}
	var keyFile, passFile, kid, issuer, audience, subject string
	var ttl time.Duration
	var claims []string
	mint := &cobra.Command{
		Use:   "mint",
		Short: "Sign a token that authorizes a workload's names, for `acmegate request`",
		Long: `mint signs a JWT with an issuer key (PEM, PKCS#8; encrypted ones need
--passphrase-file) for a token issuer that the gateway trusts through
challenges.token.issuers. Print the matching JWK set with "token jwks".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := loadSigningKey(keyFile, passFile)
			if err != nil {
				return err
			}
			extra := map[string]any{}
			for _, c := range claims {
				var v map[string]any
				if err := json.Unmarshal([]byte(c), &v); err != nil {
					return fmt.Errorf("--claims %q must be a JSON object: %w", c, err)
				}
				for k, val := range v {
					extra[k] = val
				}
			}
			tok, err := tkauth.Mint(key, kid, issuer, audience, subject, extra, ttl, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := mint.Flags()
	f.StringVar(&keyFile, "key", "", "issuer private key (PEM)")
	f.StringVar(&passFile, "passphrase-file", "", "passphrase of an encrypted key")
	f.StringVar(&kid, "kid", "", "key ID put in the token header")
	f.StringVar(&issuer, "issuer", "", "iss claim: the issuer name configured at the gateway")
	f.StringVar(&audience, "audience", "", "aud claim: the audience configured for the issuer")
	f.StringVar(&subject, "subject", "", "sub claim, e.g. system:serviceaccount:payments:api")
	f.StringArrayVar(&claims, "claims", nil, "extra claims as a JSON object (repeatable)")
	f.DurationVar(&ttl, "ttl", 10*time.Minute, "token lifetime")

	var jwksKey, jwksPass, jwksKid string
	jwks := &cobra.Command{
		Use:   "jwks",
		Short: "Print the public JWK set of an issuer key, for challenges.token.issuers[].jwks_file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := loadSigningKey(jwksKey, jwksPass)
			if err != nil {
				return err
			}
			set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: jwksKid, Use: "sig"}}}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(set)
		},
	}
	jwks.Flags().StringVar(&jwksKey, "key", "", "issuer private key (PEM)")
	jwks.Flags().StringVar(&jwksPass, "passphrase-file", "", "passphrase of an encrypted key")
	jwks.Flags().StringVar(&jwksKid, "kid", "", "key ID")
	cmd.AddCommand(mint, jwks)
	return cmd
}

// loadSigningKey reads an unencrypted PKCS#8 PEM key, or an encrypted one
// with its passphrase file.
func loadSigningKey(path, passFile string) (crypto.Signer, error) {
	if path == "" {
		return nil, fmt.Errorf("--key is required")
	}
	if passFile != "" {
		pass, err := ca.ReadPassphraseFile(passFile)
		if err != nil {
			return nil, err
		}
		return ca.LoadEncryptedKey(path, pass)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing %s (PKCS#8 expected): %w", path, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s does not hold a signing key", path)
	}
	return signer, nil
}
