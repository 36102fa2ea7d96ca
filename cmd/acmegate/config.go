package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/ca/pkcs11"
)

// Duration is a time.Duration written as a string such as "90s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like \"90s\" or \"24h\"", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Config is the whole configuration file. Every field has a default (see
// [defaultConfig]); flags of `acmegate serve` override the file.
type Config struct {
	// Data is the folder of the CA files and the SQLite database.
	Data string `yaml:"data"`
	// Listen is the HTTPS listen address of the ACME server.
	Listen string `yaml:"listen"`
	// ExternalURL is the base URL clients use; default https://<listen>.
	ExternalURL string `yaml:"external_url"`
	// HTTP2 offers HTTP/2 on the HTTPS listener besides HTTP/1.1. Off by
	// default: ACME clients send one request at a time, and HTTP/1.1
	// with keep-alive serves them with less CPU per request.
	HTTP2 bool `yaml:"http2"`
	// HTTPListen, when set, is a plain-HTTP listen address serving the CRL
	// at /acme/crl and the health endpoints.
	HTTPListen string `yaml:"http_listen"`
	// HTTPMetrics serves the Prometheus metrics at /metrics on the
	// http_listen address too, to whoever reaches it. Off by default: that
	// address serves CRLs to every relying party, and the admin API serves
	// the metrics to operators.
	HTTPMetrics bool `yaml:"http_metrics"`
	// Pprof serves Go's profiling endpoints under /debug/pprof/ on the
	// http_listen address. Off by default: profiles reveal internals.
	Pprof bool `yaml:"pprof"`
	// DB is the database URL; empty means SQLite at <data>/acmegate.db.
	DB  string    `yaml:"db"`
	Log LogConfig `yaml:"log"`
	CA  CAConfig  `yaml:"ca"`
	// ACME tunes the protocol state machine.
	ACME ACMEConfig `yaml:"acme"`
	// Profiles are the certificate profiles offered; the key is the name.
	Profiles map[string]ProfileConfig `yaml:"profiles"`
	Policy   PolicyConfig             `yaml:"policy"`
	// Staging configures a second directory in client-honesty mode.
	Staging    StagingConfig    `yaml:"staging"`
	Challenges ChallengesConfig `yaml:"challenges"`
	// Operator interfaces (adminapi.go, webhooks.go).
	// Admin configures the admin API; off unless admin.listen is set.
	Admin AdminConfig `yaml:"admin"`
	// Webhooks are the endpoints lifecycle events are posted to.
	Webhooks        []WebhookConfig       `yaml:"webhooks"`
	WebhookDelivery WebhookDeliveryConfig `yaml:"webhook_delivery"`
}

// LogConfig selects the log output.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// CAConfig locates the online intermediate.
type CAConfig struct {
	// IntermediatePassphraseFile holds the passphrase of
	// <data>/intermediate-key.pem; default <data>/intermediate.pass (written
	// by the development ceremony).
	IntermediatePassphraseFile string `yaml:"intermediate_passphrase_file"`
	// KeyAlgorithm is used by the development ceremony: ecdsa-p256,
	// ecdsa-p384, rsa-3072 or rsa-4096.
	KeyAlgorithm string `yaml:"key_algorithm"`
	// ServerNames are extra DNS names or IPs for the gateway's own HTTPS
	// certificate, beyond the listen and external URL hosts.
	ServerNames []string `yaml:"server_names"`
	// AlternateChains are PEM files of further chains for certificates of
	// a configured intermediate, such as a cross-signed copy of it; each
	// file starts with a certificate of that intermediate's subject and
	// key. They are offered as alternates (RFC 8555, Section 7.4.2).
	AlternateChains []string `yaml:"alternate_chains"`
	// PKCS11, when its module is set, signs with the intermediate key held
	// in a PKCS#11 token instead of <data>/intermediate-key.pem.
	PKCS11 pkcs11.Config `yaml:"pkcs11"`
	// Intermediates are further intermediates under the root of
	// <data>/root.pem, for rotation: all of them, and the one of the data
	// folder, stay loaded for the certificates they issued (download
	// chains, CRLs, renewal information, revocation). Empty: only the
	// data folder's intermediate.
	Intermediates []IntermediateConfig `yaml:"intermediates"`
	// Active names the intermediate that signs new certificates by the
	// cert path of one entry of Intermediates. Empty: the data folder's.
	Active string `yaml:"active"`
}

// IntermediateConfig is one entry of ca.intermediates: a certificate and
// either an encrypted key file with its passphrase file or a PKCS#11 key.
type IntermediateConfig struct {
	// Cert is the intermediate's PEM certificate, signed by the root.
	Cert string `yaml:"cert"`
	// Key is its encrypted key file, as `acmegate init intermediate` writes
	// it; PassphraseFile holds the passphrase. Both are required unless
	// PKCS11 is set.
	Key            string `yaml:"key"`
	PassphraseFile string `yaml:"passphrase_file"`
	// PKCS11, when its module is set, holds the key in a token instead.
	PKCS11 pkcs11.Config `yaml:"pkcs11"`
}

// ACMEConfig tunes the protocol.
type ACMEConfig struct {
	OrderLifetime     Duration `yaml:"order_lifetime"`
	AuthzLifetime     Duration `yaml:"authz_lifetime"`
	AuthzReuse        Duration `yaml:"authz_reuse"`
	DisableAuthzReuse bool     `yaml:"disable_authz_reuse"`
	RequireEAB        bool     `yaml:"require_eab"`
	TermsOfService    string   `yaml:"terms_of_service"`
	Website           string   `yaml:"website"`
	CAAIdentities     []string `yaml:"caa_identities"`
	DefaultProfile    string   `yaml:"default_profile"`
	MaxBodyBytes      int64    `yaml:"max_body_bytes"`
	MaxIdentifiers    int      `yaml:"max_identifiers"`
	MaxPendingOrders  int      `yaml:"max_pending_orders"`
	ValidationWait    Duration `yaml:"validation_wait"`
	FinalizeWait      Duration `yaml:"finalize_wait"`
	NonceLifetime     Duration `yaml:"nonce_lifetime"`
	ChallengeTypes    []string `yaml:"challenge_types"`
	ValidationWorkers int      `yaml:"validation_workers"`
	ShutdownGrace     Duration `yaml:"shutdown_grace"`
	SQLiteSynchronous string   `yaml:"sqlite_synchronous"`
	RecoverAfter      Duration `yaml:"recover_after"`
	// UpkeepInterval is how often background upkeep (recovery of
	// interrupted issuance and validations, purging used nonces) runs. One replica at a
	// time runs it, under a lease that lapses after two intervals.
	UpkeepInterval Duration `yaml:"upkeep_interval"`
	OrdersPageSize int      `yaml:"orders_page_size"`
	// OrderRetention keeps orders without a certificate and unused
	// authorizations this long after they expire.
	OrderRetention Duration `yaml:"order_retention"`
	// CertificateRetention deletes certificates expired longer than this;
	// zero keeps them forever.
	CertificateRetention Duration `yaml:"certificate_retention"`
	ReadHeaderTimeout    Duration `yaml:"read_header_timeout"`
	IdleTimeout          Duration `yaml:"idle_timeout"`
	// RateLimit limits requests per client IP and per account.
	RateLimit RateLimitConfig `yaml:"rate_limit"`
}

// RateLimitConfig holds the request rate limits of the ACME front end. The
// client IP is the TCP peer address; X-Forwarded-For is not trusted, so
// behind a reverse proxy every client shares the proxy's limit. Limits are
// kept in memory by each replica (and each directory) on its own.
type RateLimitConfig struct {
	PerIP      RateConfig `yaml:"per_ip"`
	PerAccount RateConfig `yaml:"per_account"`
}

// RateConfig is one token bucket: Rate requests per second on average, up
// to Burst at once. A zero rate turns the limit off.
type RateConfig struct {
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
}

func (r RateConfig) validate(name string) error {
	if r.Rate < 0 || r.Burst < 0 {
		return fmt.Errorf("config: acme.rate_limit.%s rate and burst must not be negative", name)
	}
	if r.Rate > 0 && r.Burst == 0 {
		return fmt.Errorf("config: acme.rate_limit.%s.burst must be at least 1", name)
	}
	return nil
}

// ProfileConfig describes one certificate profile.
type ProfileConfig struct {
	Description string   `yaml:"description"`
	Lifetime    Duration `yaml:"lifetime"`
	MaxLifetime Duration `yaml:"max_lifetime"`
	Backdate    Duration `yaml:"backdate"`
	// ExtKeyUsage lists serverAuth and/or clientAuth.
	ExtKeyUsage       []string `yaml:"ext_key_usage"`
	IncludeCommonName bool     `yaml:"include_common_name"`
	CRLURL            string   `yaml:"crl_url"`
	// OCSPURL is the OCSP responder named in the authority information
	// access extension; acmegate serves one at /acme/ocsp.
	OCSPURL string `yaml:"ocsp_url"`
}

// PolicyConfig restricts which identifiers may be ordered.
type PolicyConfig struct {
	AllowedDomains   []string `yaml:"allowed_domains"`
	DeniedDomains    []string `yaml:"denied_domains"`
	AllowedIPRanges  []string `yaml:"allowed_ip_ranges"`
	DisallowIP       bool     `yaml:"disallow_ip"`
	DisallowWildcard bool     `yaml:"disallow_wildcard"`
}

// StagingConfig describes the client-honesty directory: the same CA and
// database, separate accounts, and behaviour that RFC 8555 allows but
// lenient servers never show. Teams certify their clients against it.
type StagingConfig struct {
	// Enabled serves the directory at <external_url><prefix>/directory.
	Enabled bool `yaml:"enabled"`
	// Prefix is the path of the staging directory; default /staging.
	Prefix string `yaml:"prefix"`
	// NonceRejectRate is the share of valid nonces refused as badNonce.
	NonceRejectRate float64 `yaml:"nonce_reject_rate"`
	// MaxValidationDelay delays validations randomly up to this.
	MaxValidationDelay Duration `yaml:"max_validation_delay"`
	// AuthzReuseRate is the share of orders that reuse authorizations.
	AuthzReuseRate float64 `yaml:"authz_reuse_rate"`
	// OrdersPageSize is the page size of account order lists.
	OrdersPageSize int `yaml:"orders_page_size"`
	// RandomProfile picks a random profile when an order names none.
	RandomProfile bool `yaml:"random_profile"`
}

// ChallengesConfig sets how validators reach clients.
type ChallengesConfig struct {
	// HTTP01Port is the port http-01 connects to; default 80.
	HTTP01Port int `yaml:"http01_port"`
	// TLSALPN01Port is the port tls-alpn-01 connects to; default 443.
	TLSALPN01Port int `yaml:"tlsalpn01_port"`
	// DNSResolvers are host:port resolvers asked for TXT records and for
	// the addresses of http-01 and tls-alpn-01 targets; empty means the
	// system resolvers of /etc/resolv.conf.
	DNSResolvers []string `yaml:"dns_resolvers"`
	// DNSQuorum is how many resolvers must agree on a dns-01 answer;
	// default 1.
	DNSQuorum int `yaml:"dns_quorum"`
	// AllowNetworks, when not empty, are the only CIDRs validators may
	// connect to.
	AllowNetworks []string `yaml:"allow_networks"`
	// DenyNetworks are CIDRs validators never connect to, on top of the
	// built-in deny list (link-local and cloud metadata addresses).
	DenyNetworks []string `yaml:"deny_networks"`
	// Timeout bounds one validation attempt.
	Timeout Duration `yaml:"timeout"`
	// CAA configures CAA checking after validation (RFC 8659).
	CAA CAAConfig `yaml:"caa"`
	// Token configures the tkauth-01 token challenge for workloads.
	Token TokenConfig `yaml:"token"`
	// DeviceAttest configures device-attest-01 for permanent-identifier
	// identifiers.
	DeviceAttest DeviceAttestConfig `yaml:"device_attest"`
	// DNSPersist configures dns-persist-01 (draft-ietf-acme-dns-persist-02),
	// off by default while the draft changes.
	DNSPersist DNSPersistConfig `yaml:"dns_persist"`
}

// DeviceAttestConfig enables device attestation formats, each with the
// PEM file of the roots its attestations must chain to.
type DeviceAttestConfig struct {
	// AppleRoots, TPMRoots and StepRoots enable the apple, tpm and step
	// (YubiKey PIV) formats.
	AppleRoots string `yaml:"apple_roots"`
	TPMRoots   string `yaml:"tpm_roots"`
	StepRoots  string `yaml:"step_roots"`
}

// CAAConfig turns CAA checking on. It needs dns_resolvers, since the
// system resolver cannot be asked for CAA records.
type CAAConfig struct {
	Enabled bool `yaml:"enabled"`
	// Identities are the issuer domain names of this CA in CAA records;
	// default acme.caa_identities.
	Identities []string `yaml:"identities"`
}

// TokenConfig describes which names get the token challenge and which
// token issuers are trusted.
type TokenConfig struct {
	// Domains are the DNS suffixes whose names are offered tkauth-01.
	Domains []string            `yaml:"domains"`
	Issuers []TokenIssuerConfig `yaml:"issuers"`
}

// TokenIssuerConfig is one trusted token issuer.
type TokenIssuerConfig struct {
	// Name is the iss claim of its tokens.
	Name string `yaml:"name"`
	// JWKSFile holds its public keys as a JWK set.
	JWKSFile string `yaml:"jwks_file"`
	// Audience is required in the aud claim.
	Audience    string   `yaml:"audience"`
	MaxLifetime Duration `yaml:"max_lifetime"`
	// BindAccount requires a cnf.jkt claim naming the account key.
	BindAccount bool              `yaml:"bind_account"`
	Rules       []TokenRuleConfig `yaml:"rules"`
}

// TokenRuleConfig maps a claim matched by a regular expression with named
// groups to identifier templates such as "{name}.{ns}.svc.cluster.local".
type TokenRuleConfig struct {
	Claim       string   `yaml:"claim"`
	Pattern     string   `yaml:"pattern"`
	Identifiers []string `yaml:"identifiers"`
}

func defaultConfig() Config {
	return Config{
		Data:   "./data",
		Listen: "127.0.0.1:8443",
		Log:    LogConfig{Level: "info", Format: "text"},
		CA:     CAConfig{KeyAlgorithm: string(ca.ECDSAP256)},
		ACME: ACMEConfig{
			OrderLifetime:     Duration(8 * time.Hour),
			AuthzLifetime:     Duration(8 * time.Hour),
			AuthzReuse:        Duration(24 * time.Hour),
			DefaultProfile:    "default",
			MaxBodyBytes:      64 << 10,
			MaxIdentifiers:    100,
			MaxPendingOrders:  300,
			ValidationWait:    Duration(2 * time.Second),
			FinalizeWait:      Duration(5 * time.Second),
			NonceLifetime:     Duration(time.Hour),
			ValidationWorkers: 32,
			ShutdownGrace:     Duration(20 * time.Second),
			SQLiteSynchronous: "SELECTIVE",
			RecoverAfter:      Duration(time.Minute),
			UpkeepInterval:    Duration(30 * time.Second),
			OrdersPageSize:    100,
			OrderRetention:    Duration(7 * 24 * time.Hour),
			ReadHeaderTimeout: Duration(10 * time.Second),
			IdleTimeout:       Duration(2 * time.Minute),
		},
		Profiles: map[string]ProfileConfig{
			"default": {Description: "24-hour TLS server and client certificates",
				Lifetime: Duration(24 * time.Hour), MaxLifetime: Duration(7 * 24 * time.Hour),
				Backdate: Duration(time.Minute)},
			"shortlived": {Description: "6-hour certificates for workloads",
				Lifetime: Duration(6 * time.Hour), MaxLifetime: Duration(6 * time.Hour),
				Backdate: Duration(time.Minute)},
			"mtls": {Description: "24-hour client certificates for mutual TLS",
				Lifetime: Duration(24 * time.Hour), MaxLifetime: Duration(24 * time.Hour),
				Backdate: Duration(time.Minute), ExtKeyUsage: []string{"clientAuth"}},
		},
		Staging: StagingConfig{Prefix: "/staging", NonceRejectRate: 0.05,
			MaxValidationDelay: Duration(5 * time.Second), AuthzReuseRate: 0.5,
			OrdersPageSize: 3, RandomProfile: true},
		Challenges: ChallengesConfig{HTTP01Port: 80, TLSALPN01Port: 443, DNSQuorum: 1,
			Timeout: Duration(15 * time.Second)},
		WebhookDelivery: defaultWebhookDelivery(),
	}
}

// loadConfig reads path (when not empty) over the defaults. Profiles in the
// file replace the default profiles as a whole.
func loadConfig(path string) (Config, error) {
	cfg := defaultConfig()
	if path == "" {
		return cfg, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("reading config: %w", err)
	}
	var probe struct {
		Profiles map[string]ProfileConfig `yaml:"profiles"`
	}
	if err := yaml.Unmarshal(raw, &probe); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if len(probe.Profiles) > 0 {
		cfg.Profiles = nil
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Validate reports the first bad field by its YAML name.
func (c *Config) Validate() error {
	if c.Data == "" {
		return errors.New("config: data must name a folder")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("config: listen %q must be host:port", c.Listen)
	}
	if c.ExternalURL != "" && !strings.HasPrefix(c.ExternalURL, "https://") {
		return fmt.Errorf("config: external_url %q must start with https://", c.ExternalURL)
	}
	if c.HTTPListen == "" && (c.HTTPMetrics || c.Pprof) {
		return errors.New("config: http_metrics and pprof serve on http_listen, which is not set")
	}
	if c.CA.PKCS11.Module != "" {
		if err := c.CA.PKCS11.Validate(); err != nil {
			return fmt.Errorf("config: ca.pkcs11: %w", err)
		}
	}
	if err := c.CA.validateIntermediates(); err != nil {
		return err
	}
	if _, err := ca.ParseKeyAlgorithm(c.CA.KeyAlgorithm); err != nil {
		return fmt.Errorf("config: ca.key_algorithm: %w", err)
	}
	if _, ok := c.Profiles[c.ACME.DefaultProfile]; !ok {
		return fmt.Errorf("config: acme.default_profile %q is not among profiles", c.ACME.DefaultProfile)
	}
	for name, p := range c.Profiles {
		if _, err := p.toProfile(name); err != nil {
			return fmt.Errorf("config: profiles.%s: %w", name, err)
		}
	}
	for _, n := range append(append([]string{}, c.Challenges.AllowNetworks...), c.Challenges.DenyNetworks...) {
		if _, err := netip.ParsePrefix(n); err != nil {
			return fmt.Errorf("config: challenges network %q is not a CIDR", n)
		}
	}
	for _, r := range c.Challenges.DNSResolvers {
		if _, _, err := net.SplitHostPort(r); err != nil {
			return fmt.Errorf("config: challenges.dns_resolvers entry %q must be host:port", r)
		}
	}
	if c.Staging.Enabled {
		if !strings.HasPrefix(c.Staging.Prefix, "/") || c.Staging.Prefix == "/acme" ||
			strings.Count(c.Staging.Prefix, "/") != 1 {
			return fmt.Errorf("config: staging.prefix %q must be one path segment like /staging",
				c.Staging.Prefix)
		}
		if c.Staging.NonceRejectRate < 0 || c.Staging.NonceRejectRate >= 1 ||
			c.Staging.AuthzReuseRate < 0 || c.Staging.AuthzReuseRate > 1 {
			return errors.New("config: staging rates must be between 0 and 1 (nonce_reject_rate below 1)")
		}
	}
	if err := c.ACME.RateLimit.PerIP.validate("per_ip"); err != nil {
		return err
	}
	if err := c.ACME.RateLimit.PerAccount.validate("per_account"); err != nil {
		return err
	}
	if c.ACME.UpkeepInterval <= 0 {
		return fmt.Errorf("config: acme.upkeep_interval %v must be positive",
			time.Duration(c.ACME.UpkeepInterval))
	}
	if c.Challenges.CAA.Enabled && len(c.Challenges.DNSResolvers) == 0 {
		return errors.New("config: challenges.caa needs challenges.dns_resolvers")
	}
	if len(c.Challenges.Token.Domains) > 0 && len(c.Challenges.Token.Issuers) == 0 {
		return errors.New("config: challenges.token.domains is set but no token issuer is configured")
	}
	if err := c.Challenges.DNSPersist.validate(c.ACME.CAAIdentities); err != nil {
		return err
	}
	// Operator interfaces (adminapi.go, webhooks.go).
	if err := c.Admin.validate(c.Listen); err != nil {
		return err
	}
	if err := validateWebhooks(c.Webhooks, c.WebhookDelivery); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: log.level %q must be debug, info, warn or error", c.Log.Level)
	}
	return nil
}

// externalURL returns the configured base URL or the one derived from the
// listen address.
func (c *Config) externalURL() string {
	if c.ExternalURL != "" {
		return strings.TrimSuffix(c.ExternalURL, "/")
	}
	return "https://" + c.Listen
}

// dbURL returns the database URL, defaulting to SQLite in the data folder.
func (c *Config) dbURL() string {
	if c.DB != "" {
		return c.DB
	}
	return "sqlite://" + filepath.Join(c.Data, "acmegate.db")
}
