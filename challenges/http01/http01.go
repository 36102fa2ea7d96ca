// Package http01 validates http-01 challenges (RFC 8555, Section 8.3): it
// fetches http://<identifier>/.well-known/acme-challenge/<token> and compares
// the body with the key authorization.
//
// Every connection goes to an address that was resolved once and checked by
// the network policy (package netguard); redirects are followed only to http
// and https on the expected ports, and each target is resolved and checked
// again. The whole validation, redirects included, has one deadline, and the
// body is read up to a small limit. IP identifiers (RFC 8738, Section 3) are
// used as they are. Which identifiers may use http-01 (no wildcards) is the
// state machine's decision.
package http01

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/netguard"
	"github.com/acmegate/acmegate/challenges/resolver"
)

// Defaults for [New] and [Options].
const (
	DefaultPort         = 80
	DefaultHTTPSPort    = 443
	DefaultTimeout      = 10 * time.Second
	DefaultMaxRedirects = 10
	DefaultMaxBodySize  = 8 << 10
	DefaultUserAgent    = "acmegate-http01-validator"
)

// challengePath is the fixed path prefix of RFC 8555, Section 8.3.
const challengePath = "/.well-known/acme-challenge/"

// excerptLen bounds how much of a response body an error detail shows.
const excerptLen = 128

// Options tunes a [Validator]. The zero value gives the defaults.
type Options struct {
	// Timeout bounds the whole validation, redirects included. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed. Zero means
	// DefaultMaxRedirects; a negative value follows none.
	MaxRedirects int
	// MaxBodySize is the largest body accepted, in bytes. Zero means
	// DefaultMaxBodySize.
	MaxBodySize int64
	// HTTPSPort is the port, besides 443, that an https redirect target may
	// use. Zero means DefaultHTTPSPort.
	HTTPSPort int
	// UserAgent is sent with every request. Empty means DefaultUserAgent.
	UserAgent string
	// Now is the clock for the record's timings. Nil means time.Now.
	Now func() time.Time
}

// Validator validates http-01 challenges. It is safe for concurrent use.
type Validator struct {
	res   *resolver.Resolver
	guard netguard.Policy
	port  int
	opts  Options
}

var _ challenges.Validator = (*Validator)(nil)

// New returns a Validator that resolves names with res, connects only where
// guard allows, and fetches the challenge URL on port (zero means
// DefaultPort; another port serves tests and deployments where the
// responders sit behind a port mapping). An http redirect target may use
// port 80 or port; an https one 443 or opts.HTTPSPort.
func New(res *resolver.Resolver, guard netguard.Policy, port int, opts Options) *Validator {
	if port == 0 {
		port = DefaultPort
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxRedirects == 0 {
		opts.MaxRedirects = DefaultMaxRedirects
	}
	if opts.MaxBodySize <= 0 {
		opts.MaxBodySize = DefaultMaxBodySize
	}
	if opts.HTTPSPort == 0 {
		opts.HTTPSPort = DefaultHTTPSPort
	}
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Validator{res: res, guard: guard, port: port, opts: opts}
}

// Validate fetches the challenge URL for req and compares the body with
// req.KeyAuthorization. It returns a *challenges.Error of kind malformed for
// a bad request, connection for unreachable targets, refused addresses and
// bad redirects, dns for failed lookups, and incorrectResponse for a status
// other than 200, an oversized body or a body that does not match. The
// record describes the last connection made.
func (v *Validator) Validate(
	ctx context.Context,
	req challenges.Request,
) (challenges.Record, error) {
	rec := challenges.Record{Type: challenges.TypeHTTP01, Started: v.opts.Now()}
	err := v.validate(ctx, req, &rec)
	rec.Duration = v.opts.Now().Sub(rec.Started)
	return rec, err
}

func (v *Validator) validate(
	ctx context.Context,
	req challenges.Request,
	rec *challenges.Record,
) error {
	if err := req.Check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()

	// RFC 8555, Section 8.3; for IP identifiers, RFC 8738, Section 3: the
	// address is the host, in brackets for IPv6.
	target := &url.URL{
		Scheme: "http",
		Host:   hostPort(req.Identifier.Value, v.port, DefaultPort),
		Path:   challengePath + req.Token,
	}
	rec.URL = target.String()

	body, final, err := v.fetch(ctx, target, rec)
	if err != nil {
		return err
	}

	// RFC 8555, Section 8.3: the server SHOULD ignore whitespace characters
	// at the end of the body.
	got := strings.TrimRight(string(body), " \t\r\n")
	if got != req.KeyAuthorization {
		return challenges.Errorf(challenges.KindIncorrectResponse,
			"the key authorization served at %s does not match: got %q, want %q",
			final, challenges.Excerpt(got, excerptLen), req.KeyAuthorization)
	}
	return nil
}

// hostPort joins host and port for a URL, leaving out the scheme's default
// port.
func hostPort(host string, port, defaultPort int) string {
	if port == defaultPort {
		return bracket(host)
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// bracket puts an IPv6 address in brackets, as URLs and the Host header
// write it (RFC 3986, Section 3.2.2).
func bracket(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}
