package ca

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Ceremony defaults, applied by [CeremonyOptions.WithDefaults].
const (
	DefaultOrganization           = "acmegate"
	DefaultRootCommonName         = "acmegate Root CA"
	DefaultIntermediateCommonName = "acmegate Intermediate CA"
	DefaultRootValidity           = 10 * 365 * 24 * time.Hour
	DefaultIntermediateValidity   = 3 * 365 * 24 * time.Hour

	// minCAValidity keeps CA certificates useful despite their one-hour
	// backdate.
	minCAValidity = 24 * time.Hour
)

// CeremonyOptions configures [RunCeremony] and [NewIntermediate]. Zero
// fields take the defaults documented on each field.
type CeremonyOptions struct {
	// RootDir receives the root certificate and encrypted root key. It is
	// meant to be moved offline after the ceremony. Created (0700) if
	// missing; must differ from DataDir.
	RootDir string
	// DataDir receives what the online gateway needs: the root certificate
	// (the trust anchor) and the intermediate certificate and encrypted
	// key. Created (0700) if missing.
	DataDir string

	// RootPassphrase encrypts the root key; required.
	RootPassphrase []byte
	// IntermediatePassphrase encrypts the intermediate key; required. Use
	// a different passphrase from the root's: this one lives next to the
	// gateway.
	IntermediatePassphrase []byte

	// IntermediateSigner, when set, is the intermediate's key, created
	// beforehand (for example inside an HSM with the pkcs11 package). The
	// ceremony certifies its public key instead of generating one, writes
	// no intermediate key file and needs no IntermediatePassphrase.
	IntermediateSigner crypto.Signer

	// KeyAlgorithm is the type of both keys; empty means ECDSAP256.
	KeyAlgorithm KeyAlgorithm

	// Country is the optional two-letter country code of both subjects.
	Country string
	// Organization is the subject organization; empty means "acmegate".
	Organization string
	// RootCommonName defaults to "acmegate Root CA".
	RootCommonName string
	// IntermediateCommonName defaults to "acmegate Intermediate CA".
	IntermediateCommonName string

	// RootValidity defaults to 10 years (3650 days).
	RootValidity time.Duration
	// IntermediateValidity defaults to 3 years (1095 days) and must not
	// end after the root.
	IntermediateValidity time.Duration

	// IntermediateExtKeyUsage restricts what the intermediate may issue
	// for. Nil means serverAuth and clientAuth. Profiles asking for other
	// extended key usages produce leaves that do not verify.
	IntermediateExtKeyUsage []x509.ExtKeyUsage

	// Name constraints put into the intermediate (critical) when any is
	// set, RFC 5280, Section 4.2.1.10. A DNS constraint "example.com"
	// covers the domain and its subdomains; ".example.com" only the
	// subdomains. DNS constraints do not limit IP addresses: exclude
	// 0.0.0.0/0 and ::/0 to forbid IP certificates.
	PermittedDNSDomains []string
	PermittedIPRanges   []*net.IPNet
	ExcludedDNSDomains  []string
	ExcludedIPRanges    []*net.IPNet

	// RootCRLURL, when set, is where the root's CRL is published; it goes
	// into the intermediate's CRL distribution points.
	RootCRLURL string
	// RootCertURL, when set, is where the root certificate is published;
	// it goes into the intermediate's authority information access.
	RootCertURL string

	// Now is the current time; required (this package never reads the
	// clock). Certificates are valid from one hour before Now, to the
	// second, so that clients with lagging clocks accept them at once.
	Now time.Time
	// Rand supplies serials and key-file salts; nil means
	// crypto/rand.Reader.
	Rand io.Reader
}

// CeremonyResult describes what [RunCeremony] created.
type CeremonyResult struct {
	// Root is the self-signed root certificate.
	Root *x509.Certificate
	// Intermediate is the online intermediate, signed by Root.
	Intermediate *x509.Certificate

	// RootCertPath and RootKeyPath are in RootDir.
	RootCertPath, RootKeyPath string
	// TrustAnchorPath is the copy of the root certificate in DataDir.
	TrustAnchorPath string
	// IntermediateCertPath and IntermediateKeyPath are in DataDir.
	IntermediateCertPath, IntermediateKeyPath string
}

// WithDefaults returns a copy of o with zero fields replaced by their
// documented defaults.
func (o CeremonyOptions) WithDefaults() CeremonyOptions {
	if o.KeyAlgorithm == "" {
		o.KeyAlgorithm = DefaultKeyAlgorithm
	}
	if o.Organization == "" {
		o.Organization = DefaultOrganization
	}
	if o.RootCommonName == "" {
		o.RootCommonName = DefaultRootCommonName
	}
	if o.IntermediateCommonName == "" {
		o.IntermediateCommonName = DefaultIntermediateCommonName
	}
	if o.RootValidity == 0 {
		o.RootValidity = DefaultRootValidity
	}
	if o.IntermediateValidity == 0 {
		o.IntermediateValidity = DefaultIntermediateValidity
	}
	if o.IntermediateExtKeyUsage == nil {
		o.IntermediateExtKeyUsage = []x509.ExtKeyUsage{
			x509.ExtKeyUsageServerAuth,
			x509.ExtKeyUsageClientAuth,
		}
	}
	if o.Rand == nil {
		o.Rand = defaultRand()
	}
	return o
}

// validate checks options after [CeremonyOptions.WithDefaults], for the
// parts both operations share.
func (o CeremonyOptions) validate() error {
	if o.Now.IsZero() {
		return ErrMissingTime
	}
	if _, err := ParseKeyAlgorithm(string(o.KeyAlgorithm)); err != nil {
		return err
	}
	if o.RootValidity < minCAValidity || o.IntermediateValidity < minCAValidity {
		return fmt.Errorf("CA validity shorter than %s: %w", minCAValidity, ErrValidity)
	}
	if len(o.Country) != 0 && len(o.Country) != 2 {
		return fmt.Errorf("country %q is not a two-letter code", o.Country)
	}
	return nil
}

// RunCeremony creates a new two-level PKI: a self-signed root and an
// intermediate signed by it, both with fresh keys of opts.KeyAlgorithm.
//
// In opts.RootDir it writes [RootCertFile] (0644) and [RootKeyFile] (0600,
// encrypted with RootPassphrase). In opts.DataDir it writes [RootCertFile]
// (a copy of the root certificate), [IntermediateCertFile] and
// [IntermediateKeyFile] (0600, encrypted with IntermediatePassphrase).
//
// It never overwrites: if any of the five files exists it fails with
// [ErrExists] before generating keys. If writing fails halfway, the files
// it created are removed. Other errors wrap [ErrMissingTime],
// [ErrEmptyPassphrase], [ErrUnknownKeyAlgorithm], [ErrValidity] (a
// validity under one day) or [ErrOutlivesIssuer] (an intermediate
// validity longer than the root's).
func RunCeremony(opts CeremonyOptions) (*CeremonyResult, error) {
	// 1. Check the options and that nothing would be overwritten.
	opts = opts.WithDefaults()
	res, err := checkCeremonyOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("running ceremony: %w", err)
	}
	// 2. Create the root.
	rootKey, root, err := createRoot(opts)
	if err != nil {
		return nil, fmt.Errorf("running ceremony: %w", err)
	}
	// 3. Create the intermediate under it.
	interKey, inter, err := createIntermediate(root, rootKey, opts)
	if err != nil {
		return nil, fmt.Errorf("running ceremony: %w", err)
	}
	// 4. Encrypt both keys and write all five files, or none.
	if err := writeCeremonyFiles(res, opts, root, rootKey, inter, interKey); err != nil {
		return nil, fmt.Errorf("running ceremony: %w", err)
	}
	res.Root, res.Intermediate = root, inter
	return res, nil
}

// checkCeremonyOptions validates opts, creates the directories and returns
// the result with its paths filled in.
func checkCeremonyOptions(opts CeremonyOptions) (*CeremonyResult, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.RootDir == "" || opts.DataDir == "" {
		return nil, fmt.Errorf("root and data directories are both required")
	}
	if filepath.Clean(opts.RootDir) == filepath.Clean(opts.DataDir) {
		return nil, fmt.Errorf("root directory must differ from data directory %s", opts.DataDir)
	}
	if len(opts.RootPassphrase) == 0 ||
		(len(opts.IntermediatePassphrase) == 0 && opts.IntermediateSigner == nil) {
		return nil, ErrEmptyPassphrase
	}
	if opts.IntermediateValidity > opts.RootValidity {
		return nil, fmt.Errorf("intermediate validity %s exceeds root validity %s: %w",
			opts.IntermediateValidity, opts.RootValidity, ErrOutlivesIssuer)
	}
	res := &CeremonyResult{
		RootCertPath:         filepath.Join(opts.RootDir, RootCertFile),
		RootKeyPath:          filepath.Join(opts.RootDir, RootKeyFile),
		TrustAnchorPath:      filepath.Join(opts.DataDir, RootCertFile),
		IntermediateCertPath: filepath.Join(opts.DataDir, IntermediateCertFile),
		IntermediateKeyPath:  filepath.Join(opts.DataDir, IntermediateKeyFile),
	}
	if opts.IntermediateSigner != nil {
		res.IntermediateKeyPath = ""
	}
	paths := []string{res.RootCertPath, res.RootKeyPath, res.TrustAnchorPath,
		res.IntermediateCertPath}
	if res.IntermediateKeyPath != "" {
		paths = append(paths, res.IntermediateKeyPath)
	}
	if err := checkAbsent(paths...); err != nil {
		return nil, err
	}
	for _, dir := range []string{opts.RootDir, opts.DataDir} {
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return nil, fmt.Errorf("creating directory: %w", err)
		}
	}
	return res, nil
}

// createRoot generates the root key and self-signs the root certificate.
func createRoot(opts CeremonyOptions) (crypto.Signer, *x509.Certificate, error) {
	key, err := GenerateKey(opts.KeyAlgorithm, opts.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("creating root: %w", err)
	}
	tmpl, err := rootTemplate(opts, key.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("creating root: %w", err)
	}
	cert, err := signCA(tmpl, tmpl, key.Public(), key, opts.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("creating root: %w", err)
	}
	return key, cert, nil
}

// createIntermediate generates an intermediate key and has root sign its
// certificate. The intermediate must not outlive the root.
func createIntermediate(
	root *x509.Certificate,
	rootKey crypto.Signer,
	opts CeremonyOptions,
) (crypto.Signer, *x509.Certificate, error) {
	key := opts.IntermediateSigner
	if key == nil {
		var err error
		key, err = GenerateKey(opts.KeyAlgorithm, opts.Rand)
		if err != nil {
			return nil, nil, fmt.Errorf("creating intermediate: %w", err)
		}
	}
	tmpl, err := intermediateTemplate(opts, key.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("creating intermediate: %w", err)
	}
	if tmpl.NotAfter.After(root.NotAfter) {
		return nil, nil, fmt.Errorf("creating intermediate: notAfter %s after root's %s: %w",
			tmpl.NotAfter.UTC().Format(time.RFC3339), root.NotAfter.UTC().Format(time.RFC3339),
			ErrOutlivesIssuer)
	}
	if tmpl.NotBefore.Before(root.NotBefore) {
		return nil, nil, fmt.Errorf("creating intermediate: root not valid yet: %w",
			ErrOutlivesIssuer)
	}
	cert, err := signCA(tmpl, root, key.Public(), rootKey, opts.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("creating intermediate: %w", err)
	}
	return key, cert, nil
}

// writeCeremonyFiles encrypts the keys and writes the five files.
func writeCeremonyFiles(
	res *CeremonyResult,
	opts CeremonyOptions,
	root *x509.Certificate,
	rootKey crypto.Signer,
	inter *x509.Certificate,
	interKey crypto.Signer,
) error {
	rootKeyPEM, err := encryptKeyPEM(rootKey, opts.RootPassphrase, opts.Rand)
	if err != nil {
		return fmt.Errorf("encrypting root key: %w", err)
	}
	files := []newFile{
		{res.RootKeyPath, rootKeyPEM, keyFileMode},
		{res.RootCertPath, certPEM(root), certFileMode},
		{res.IntermediateCertPath, certPEM(inter), certFileMode},
		{res.TrustAnchorPath, certPEM(root), certFileMode},
	}
	// A key held by a token stays there; only file keys are written.
	if opts.IntermediateSigner == nil {
		interKeyPEM, err := encryptKeyPEM(interKey, opts.IntermediatePassphrase, opts.Rand)
		if err != nil {
			return fmt.Errorf("encrypting intermediate key: %w", err)
		}
		files = append(files, newFile{res.IntermediateKeyPath, interKeyPEM, keyFileMode})
	}
	return writeNewFiles(files)
}

// NewIntermediate signs a further intermediate with an existing root, for
// rotation. The root certificate and key are loaded from rootDir
// ([RootCertFile], [RootKeyFile] decrypted with rootPassphrase); the new
// certificate goes to outCertPath (0644) and its key, encrypted with
// keyPassphrase, to outKeyPath (0600). Neither may exist ([ErrExists]).
//
// From opts it uses KeyAlgorithm, the subject fields, IntermediateValidity
// (which must end before the root does, else [ErrOutlivesIssuer]), the
// extended key usages, name constraints, URLs, Now (required) and Rand;
// directories and passphrases in opts are ignored.
//
// When opts.IntermediateSigner is set (a key created in a PKCS #11 token),
// its public key is certified instead of a fresh one: no key file is
// written, and outKeyPath and keyPassphrase must be empty.
func NewIntermediate(
	rootDir string,
	rootPassphrase []byte,
	outCertPath, outKeyPath string,
	keyPassphrase []byte,
	opts CeremonyOptions,
) error {
	opts = opts.WithDefaults()
	if err := checkNewIntermediate(outCertPath, outKeyPath, keyPassphrase, opts); err != nil {
		return fmt.Errorf("creating intermediate: %w", err)
	}
	root, rootKey, err := loadRoot(rootDir, rootPassphrase)
	if err != nil {
		return fmt.Errorf("creating intermediate: %w", err)
	}
	key, cert, err := createIntermediate(root, rootKey, opts)
	if err != nil {
		return err
	}
	files := []newFile{{outCertPath, certPEM(cert), certFileMode}}
	// A key held by a token stays there; only file keys are written.
	if opts.IntermediateSigner == nil {
		keyPEM, err := encryptKeyPEM(key, keyPassphrase, opts.Rand)
		if err != nil {
			return fmt.Errorf("creating intermediate: encrypting key: %w", err)
		}
		files = append([]newFile{{outKeyPath, keyPEM, keyFileMode}}, files...)
	}
	return writeNewFiles(files)
}

// checkNewIntermediate checks the options of [NewIntermediate] and that
// its output files do not exist yet.
func checkNewIntermediate(
	outCertPath, outKeyPath string,
	keyPassphrase []byte,
	opts CeremonyOptions,
) error {
	if err := opts.validate(); err != nil {
		return err
	}
	if outCertPath == "" {
		return errors.New("no certificate path given")
	}
	if opts.IntermediateSigner != nil {
		if outKeyPath != "" || len(keyPassphrase) != 0 {
			return errors.New("a key file and passphrase make no sense for a token key")
		}
		return checkAbsent(outCertPath)
	}
	if outKeyPath == "" {
		return errors.New("no key path given")
	}
	if len(keyPassphrase) == 0 {
		return ErrEmptyPassphrase
	}
	return checkAbsent(outCertPath, outKeyPath)
}

// loadRoot reads the root certificate and key from rootDir and checks that
// they belong together.
func loadRoot(rootDir string, passphrase []byte) (*x509.Certificate, crypto.Signer, error) {
	root, err := ReadCertificateFile(filepath.Join(rootDir, RootCertFile))
	if err != nil {
		return nil, nil, fmt.Errorf("loading root: %w", err)
	}
	key, err := LoadEncryptedKey(filepath.Join(rootDir, RootKeyFile), passphrase)
	if err != nil {
		return nil, nil, fmt.Errorf("loading root: %w", err)
	}
	if err := checkKeyMatches(root, key); err != nil {
		return nil, nil, fmt.Errorf("loading root: %w", err)
	}
	return root, key, nil
}
