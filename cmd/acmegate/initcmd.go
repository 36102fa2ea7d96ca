package main

import (
	"crypto"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/ca/pkcs11"
)

func initCommand() *cobra.Command {
	var (
		rootDir, dataDir, alg, org         string
		rootPassFile, interPassFile        string
		permittedDNS, excludedDNS, permIPs []string
		rootValidity, interValidity        time.Duration
		hsm                                pkcs11.Config
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Run the CA ceremony: an offline root and an online intermediate",
		Long: `init creates the root key and certificate in --root-dir, a folder meant to be
taken offline, and an intermediate key and certificate signed by the root in
--data, where acmegate serve finds them. Both keys are encrypted with
passphrases read from files or prompted for. serve never opens the root key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keyAlg, err := ca.ParseKeyAlgorithm(alg)
			if err != nil {
				return err
			}
			rootPass, err := passphrase(rootPassFile, "root key passphrase")
			if err != nil {
				return err
			}
			var interPass []byte
			var interSigner crypto.Signer
			if hsm.Module != "" {
				if err := hsm.Validate(); err != nil {
					return err
				}
				tok, err := pkcs11.Open(hsm)
				if err != nil {
					return err
				}
				defer tok.Close()
				if interSigner, err = tok.GenerateKey(hsm.KeyLabel, keyAlg); err != nil {
					return err
				}
			} else if interPass, err = passphrase(interPassFile, "intermediate key passphrase"); err != nil {
				return err
			}
			var ipNets []*net.IPNet
			for _, s := range permIPs {
				_, n, err := net.ParseCIDR(s)
				if err != nil {
					return fmt.Errorf("--permitted-ip %q: %w", s, err)
				}
				ipNets = append(ipNets, n)
			}
			res, err := ca.RunCeremony(ca.CeremonyOptions{
				RootDir: rootDir, DataDir: dataDir,
				RootPassphrase: rootPass, IntermediatePassphrase: interPass,
				IntermediateSigner: interSigner,
				KeyAlgorithm:       keyAlg, Organization: org,
				RootValidity: rootValidity, IntermediateValidity: interValidity,
				PermittedDNSDomains: permittedDNS, ExcludedDNSDomains: excludedDNS,
				PermittedIPRanges: ipNets,
				Now:               time.Now(), Rand: rand.Reader,
			})
			if err != nil {
				return undoTokenKey(err, interSigner)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "root certificate:         %s\n", res.RootCertPath)
			fmt.Fprintf(out, "root key (take offline):  %s\n", res.RootKeyPath)
			fmt.Fprintf(out, "intermediate certificate: %s\n", res.IntermediateCertPath)
			fmt.Fprintf(out, "clients trust:            %s\n", res.TrustAnchorPath)
			if hsm.Module != "" {
				fmt.Fprintf(out, "intermediate key:         in token %q as %q (non-extractable)\n",
					hsm.TokenLabel, hsm.KeyLabel)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&rootDir, "root-dir", "./root-ca", "folder for the root key and certificate (keep it offline)")
	f.StringVar(&dataDir, "data", "./data", "data folder of acmegate serve")
	f.StringVar(&alg, "key-algorithm", string(ca.ECDSAP256), "ecdsa-p256, ecdsa-p384, rsa-3072 or rsa-4096")
	f.StringVar(&org, "organization", "acmegate", "organization name in the CA certificates")
	f.StringVar(&rootPassFile, "root-passphrase-file", "", "file holding the root key passphrase (prompted when empty)")
	f.StringVar(&interPassFile, "intermediate-passphrase-file", "", "file holding the intermediate key passphrase (prompted when empty)")
	f.StringSliceVar(&permittedDNS, "permitted-dns", nil, "name constraint: permitted DNS domains of the intermediate")
	f.StringSliceVar(&excludedDNS, "excluded-dns", nil, "name constraint: excluded DNS domains of the intermediate")
	f.StringSliceVar(&permIPs, "permitted-ip", nil, "name constraint: permitted IP ranges (CIDR) of the intermediate")
	f.DurationVar(&rootValidity, "root-validity", 10*365*24*time.Hour, "root certificate validity")
	f.StringVar(&hsm.Module, "hsm-module", "", "PKCS#11 module: generate the intermediate key in this token")
	f.StringVar(&hsm.TokenLabel, "hsm-token", "", "PKCS#11 token label")
	f.StringVar(&hsm.PINFile, "hsm-pin-file", "", "file holding the token PIN")
	f.StringVar(&hsm.KeyLabel, "hsm-key-label", "acmegate-intermediate", "label of the intermediate key in the token")
	f.DurationVar(&interValidity, "intermediate-validity", 3*365*24*time.Hour, "intermediate certificate validity")
	cmd.AddCommand(initIntermediateCommand())
	return cmd
}

// passphrase reads a passphrase from a file, or prompts twice on a
// terminal when no file is given.
func passphrase(file, what string) ([]byte, error) {
	if file != "" {
		return ca.ReadPassphraseFile(file)
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, fmt.Errorf("no %s file given and standard input is not a terminal", what)
	}
	fmt.Fprintf(os.Stderr, "%s: ", what)
	p1, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	fmt.Fprintf(os.Stderr, "repeat %s: ", what)
	p2, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if string(p1) != string(p2) || strings.TrimSpace(string(p1)) == "" {
		return nil, fmt.Errorf("the %s entries are empty or differ", what)
	}
	return p1, nil
}
