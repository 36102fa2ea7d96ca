// Package tlsalpn01 validates tls-alpn-01 challenges (RFC 8737): it opens a
// TLS connection to the identifier offering only the "acme-tls/1" protocol
// and checks the self-signed certificate presented, whose acmeIdentifier
// extension must hold the SHA-256 digest of the key authorization.
//
// Connections go only to addresses resolved once and checked by the network
// policy (package netguard). The certificate is not verified against any
// root; instead [Verify] applies the rules of RFC 8737, Section 3, strictly
// (one certificate, one subjectAltName, one critical extension). IP
// identifiers follow RFC 8738, Section 6. Which identifiers may use
// tls-alpn-01 (no wildcards) is the state machine's decision.
package tlsalpn01

import (
	"context"
	"crypto/tls"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/netguard"
	"github.com/acmegate/acmegate/challenges/resolver"
)

// Defaults for [New] and [Options].
const (
	DefaultPort    = 443
	DefaultTimeout = 10 * time.Second
)

// ALPNProtocol is the only protocol a validation connection offers
// (RFC 8737, Section 6.2).
const ALPNProtocol = "acme-tls/1"

// Options tunes a [Validator]. The zero value gives the defaults.
type Options struct {
	// Timeout bounds the whole validation. Zero means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock for the record's timings. Nil means time.Now.
	Now func() time.Time
}

// Validator validates tls-alpn-01 challenges. It is safe for concurrent use.
type Validator struct {
	res   *resolver.Resolver
	guard netguard.Policy
	port  int
	opts  Options
}

var _ challenges.Validator = (*Validator)(nil)

// New returns a Validator that resolves names with res, connects only where
// guard allows, on port (zero means DefaultPort; another port serves tests
// and port-mapped deployments).
func New(res *resolver.Resolver, guard netguard.Policy, port int, opts Options) *Validator {
	if port == 0 {
		port = DefaultPort
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Validator{res: res, guard: guard, port: port, opts: opts}
}

// ServerName returns the SNI name for id: the DNS name itself, or for an IP
// address its reverse-DNS name under in-addr.arpa or ip6.arpa, without the
// final dot (RFC 8738, Section 6).
func ServerName(id challenges.Identifier) (string, error) {
	if id.Type != challenges.IdentifierIP {
		return id.Value, nil
	}
	arpa, err := dns.ReverseAddr(id.Value)
	if err != nil {
		return "", challenges.Errorf(challenges.KindMalformed,
			"invalid IP identifier %q", challenges.Excerpt(id.Value, 64))
	}
	return strings.TrimSuffix(arpa, "."), nil
}

// Validate connects to req's identifier and checks the response certificate
// with [Verify]. It returns a *challenges.Error of kind malformed for a bad
// request, dns for failed lookups, connection for refused or unreachable
// addresses, tls for a failed handshake or a protocol other than
// acme-tls/1, and unauthorized or incorrectResponse for a certificate that
// breaks RFC 8737, Section 3. The record describes the last connection.
func (v *Validator) Validate(
	ctx context.Context,
	req challenges.Request,
) (challenges.Record, error) {
	rec := challenges.Record{Type: challenges.TypeTLSALPN01, Started: v.opts.Now()}
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
	sni, err := ServerName(req.Identifier)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()

	rec.Hostname, rec.Port = req.Identifier.Value, strconv.Itoa(v.port)
	if req.Identifier.Type == challenges.IdentifierDNS {
		rec.Resolvers = v.res.Servers()
	}
	addrs, err := v.res.LookupIP(ctx, req.Identifier.Value)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		rec.AddressesResolved = append(rec.AddressesResolved, a.String())
	}
	candidates, err := v.guard.Candidates(addrs)
	if err != nil {
		return err
	}

	// Try IPv6, then IPv4, moving on only when no connection was made.
	var lastErr error
	for _, ip := range candidates {
		rec.AddressesTried = append(rec.AddressesTried, ip.String())
		state, connected, err := v.handshake(ctx, netip.AddrPortFrom(ip, uint16(v.port)), sni)
		if err == nil {
			rec.AddressUsed = ip.String()
			return Verify(state, req.Identifier, req.KeyAuthorization)
		}
		lastErr = err
		if connected || ctx.Err() != nil {
			break
		}
	}
	return lastErr
}

// handshake connects to addr and completes a TLS handshake offering only
// acme-tls/1. It reports whether a TCP connection was made.
func (v *Validator) handshake(
	ctx context.Context,
	addr netip.AddrPort,
	sni string,
) (tls.ConnectionState, bool, error) {
	conn, err := v.guard.Dialer(v.opts.Timeout)(ctx, "tcp", addr.String())
	if err != nil {
		var ce *challenges.Error
		if errors.As(err, &ce) {
			return tls.ConnectionState{}, false, ce
		}
		return tls.ConnectionState{}, false, challenges.Errorf(challenges.KindConnection,
			"connecting to %s: %s", addr, cause(err))
	}
	defer conn.Close()

	tconn := tls.Client(conn, &tls.Config{
		ServerName: sni,
		NextProtos: []string{ALPNProtocol},
		// The certificate is self-signed by design; Verify checks it.
		InsecureSkipVerify: true,
		// RFC 8737, Section 4: only TLS 1.2 or higher is negotiated.
		MinVersion: tls.VersionTLS12,
	})
	if err := tconn.HandshakeContext(ctx); err != nil {
		return tls.ConnectionState{}, true, challenges.Errorf(challenges.KindTLS,
			"TLS handshake with %s for %s failed: %s", addr, sni, cause(err))
	}
	return tconn.ConnectionState(), true, nil
}

// cause shortens an error from the net or tls packages for a detail.
func cause(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return challenges.Excerpt(err.Error(), 160)
}
