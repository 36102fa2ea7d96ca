package http01

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/acmegate/acmegate/challenges"
)

// maxHeaderBytes bounds the response headers of a validation target.
const maxHeaderBytes = 16 << 10

// fetch GETs target, following redirects, and returns the body of the final
// 200 response and the URL it came from, shortened for error details.
func (v *Validator) fetch(
	ctx context.Context,
	target *url.URL,
	rec *challenges.Record,
) ([]byte, string, error) {
	for hops := 0; ; hops++ {
		resp, err := v.get(ctx, target, rec)
		if err != nil {
			return nil, "", err
		}

		if !isRedirect(resp.StatusCode) {
			defer resp.Body.Close()
			body, err := v.readBody(target, resp)
			return body, shown(target), err
		}
		resp.Body.Close()
		if limit := max(v.opts.MaxRedirects, 0); hops >= limit {
			return nil, "", challenges.Errorf(challenges.KindConnection,
				"too many redirects: more than %d, the last from %s", limit, shown(target))
		}
		if target, err = v.redirectTarget(target, resp); err != nil {
			return nil, "", err
		}
		rec.Redirects = append(rec.Redirects, target.String())
	}
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// readBody checks the status and reads at most MaxBodySize bytes.
func (v *Validator) readBody(target *url.URL, resp *http.Response) ([]byte, error) {
	if resp.StatusCode != http.StatusOK {
		return nil, challenges.Errorf(challenges.KindIncorrectResponse,
			"invalid response from %s: HTTP %d, want 200", shown(target), resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, v.opts.MaxBodySize+1))
	if err != nil {
		return nil, connError(target, "reading the response body from", err)
	}
	if int64(len(body)) > v.opts.MaxBodySize {
		return nil, challenges.Errorf(challenges.KindIncorrectResponse,
			"the response from %s is larger than %d bytes", shown(target), v.opts.MaxBodySize)
	}
	return body, nil
}

// get resolves target's host, checks the addresses with the guard and sends
// the request to the first that accepts a connection: IPv6 first, then
// IPv4. Only a failure to connect moves on to the next address.
func (v *Validator) get(
	ctx context.Context,
	target *url.URL,
	rec *challenges.Record,
) (*http.Response, error) {
	host := target.Hostname()
	port, err := targetPort(target)
	if err != nil {
		return nil, err
	}
	*rec = resetConnection(*rec, host, strconv.Itoa(port))

	addrs, err := v.res.LookupIP(ctx, host)
	if _, perr := netip.ParseAddr(host); perr != nil {
		rec.Resolvers = v.res.Servers()
	}
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		rec.AddressesResolved = append(rec.AddressesResolved, a.String())
	}
	candidates, err := v.guard.Candidates(addrs)
	if err != nil {
		return nil, err
	}

	var lastErr error
	for _, ip := range candidates {
		rec.AddressesTried = append(rec.AddressesTried, ip.String())
		resp, connected, err := v.roundTrip(ctx, target, netip.AddrPortFrom(ip, uint16(port)))
		if err == nil {
			rec.AddressUsed = ip.String()
			return resp, nil
		}
		lastErr = err
		if connected || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// resetConnection clears the per-connection fields of rec for a new hop.
func resetConnection(rec challenges.Record, host, port string) challenges.Record {
	rec.Hostname, rec.Port = host, port
	rec.AddressesResolved, rec.AddressesTried, rec.AddressUsed = nil, nil, ""
	return rec
}

// roundTrip sends one GET for target to the pinned address and reports
// whether a TCP connection was made.
func (v *Validator) roundTrip(
	ctx context.Context,
	target *url.URL,
	pinned netip.AddrPort,
) (*http.Response, bool, error) {
	dial := v.guard.Dialer(v.opts.Timeout)
	var connected atomic.Bool
	transport := &http.Transport{
		Proxy: nil,
		// The address the transport asks for is ignored: only the
		// resolved, checked address is dialled (SECURITY-CATALOGUE E2).
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			conn, err := dial(ctx, "tcp", pinned.String())
			connected.Store(err == nil)
			return conn, err
		},
		// http-01 exists to bootstrap certificates, so an https redirect
		// target is not expected to have a trusted one
		// (SECURITY-CATALOGUE E3).
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
	client := &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, false, challenges.Errorf(challenges.KindConnection,
			"invalid URL %s", shown(target))
	}
	req.Host = bracket(target.Hostname())
	req.Header.Set("User-Agent", v.opts.UserAgent)
	req.Header.Set("Accept", "*/*")

	resp, err := client.Do(req)
	if err != nil {
		var ce *challenges.Error
		if errors.As(err, &ce) {
			return nil, connected.Load(), ce
		}
		return nil, connected.Load(), connError(target, "fetching", err)
	}
	return resp, true, nil
}

// redirectTarget returns where resp redirects to, if that is allowed: http
// or https, the expected ports, a valid host without user information or an
// IPv6 zone (SECURITY-CATALOGUE E3).
func (v *Validator) redirectTarget(from *url.URL, resp *http.Response) (*url.URL, error) {
	refuse := func(format string, args ...any) error {
		return challenges.Errorf(challenges.KindConnection,
			"refusing the redirect from %s: %s", shown(from), fmt.Sprintf(format, args...))
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, refuse("no Location header")
	}
	next, err := from.Parse(loc)
	if err != nil {
		return nil, refuse("invalid target %q", challenges.Excerpt(loc, 128))
	}
	next.Fragment, next.RawFragment = "", ""
	to := shown(next)

	if next.Scheme != "http" && next.Scheme != "https" {
		return nil, refuse("%s: only http and https are followed", to)
	}
	if next.User != nil {
		return nil, refuse("%s: user information is not allowed", to)
	}
	host := next.Hostname()
	if strings.HasSuffix(strings.ToLower(host), ".well-known") {
		return nil, refuse("%s: the host ends in .well-known, the path probably lacks a slash", to)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return nil, refuse("%s: an IPv6 zone is not allowed", to)
		}
	} else if challenges.CheckHostName(host) != nil {
		return nil, refuse("%s: invalid host", to)
	}
	if !v.portAllowed(next) {
		return nil, refuse("%s: only ports %s are followed", to, v.allowedPorts(next.Scheme))
	}
	return next, nil
}

// portAllowed reports whether redirects may go to the port of u: 80 or the
// configured port for http, 443 or Options.HTTPSPort for https.
func (v *Validator) portAllowed(u *url.URL) bool {
	port, err := targetPort(u)
	if err != nil {
		return false
	}
	if u.Scheme == "https" {
		return port == DefaultHTTPSPort || port == v.opts.HTTPSPort
	}
	return port == DefaultPort || port == v.port
}

// allowedPorts lists the ports accepted for scheme, for error details.
func (v *Validator) allowedPorts(scheme string) string {
	a, b := DefaultPort, v.port
	if scheme == "https" {
		a, b = DefaultHTTPSPort, v.opts.HTTPSPort
	}
	if a == b {
		return strconv.Itoa(a)
	}
	return strconv.Itoa(a) + " and " + strconv.Itoa(b)
}

// targetPort returns the explicit port of u or its scheme's default.
func targetPort(u *url.URL) (int, error) {
	if u.Port() == "" {
		if u.Scheme == "https" {
			return DefaultHTTPSPort, nil
		}
		return DefaultPort, nil
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port < 1 || port > 65535 {
		return 0, challenges.Errorf(challenges.KindConnection, "invalid port %q", u.Port())
	}
	return port, nil
}

// connError describes a failed exchange with target without echoing more
// than a short, sanitised excerpt of anything the server sent.
func connError(target *url.URL, doing string, err error) error {
	var netErr net.Error
	var cause string
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		cause = "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		cause = "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		cause = "connection reset by peer"
	default:
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		cause = challenges.Excerpt(err.Error(), 120)
	}
	return challenges.Errorf(challenges.KindConnection,
		"%s %s: %s", doing, shown(target), cause)
}

// shown returns a URL as error details print it: cut to a bounded length,
// since redirect targets come from the client's server.
func shown(u *url.URL) string {
	return challenges.Excerpt(u.String(), 256)
}
