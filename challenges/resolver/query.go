package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/acmegate/acmegate/challenges"
)

// udpSize is the EDNS(0) buffer size we advertise: the size recommended by
// DNS Flag Day 2020 to avoid IP fragmentation.
const udpSize = 1232

// result is what one lookup found.
type result struct {
	values  []string // TXT values, or addresses in text form
	answers []string // answer records in presentation form
}

// outcome is the result of one lookup against one server.
type outcome struct {
	result
	err *challenges.Error
	// definite marks an error that is a fact about the name (NXDOMAIN, a
	// CNAME loop) rather than about the server, so asking another server
	// is pointless.
	definite bool
}

// split returns the outcome in the form of the exported methods; a nil
// *challenges.Error must become a nil error.
func (o outcome) split() (result, error) {
	if o.err == nil {
		return o.result, nil
	}
	return o.result, o.err
}

// key identifies what a server answered, so that equal answers compare
// equal regardless of record order.
func (o outcome) key() string {
	if o.err != nil {
		return "error:" + o.err.Detail
	}
	values := slices.Clone(o.values)
	slices.Sort(values)
	return "values:" + strings.Join(values, "\x00")
}

// summary describes the outcome for a disagreement detail.
func (o outcome) summary() string {
	if o.err != nil {
		return o.err.Detail
	}
	if len(o.values) == 0 {
		return "no records"
	}
	var shown []string
	for _, v := range o.values[:min(len(o.values), 4)] {
		shown = append(shown, fmt.Sprintf("%q", challenges.Excerpt(v, 64)))
	}
	if len(o.values) > len(shown) {
		shown = append(shown, fmt.Sprintf("and %d more", len(o.values)-len(shown)))
	}
	return strings.Join(shown, ", ")
}

// lookup asks the configured servers for qtype records at name, applying the
// quorum rule when one is set.
func (r *Resolver) lookup(ctx context.Context, name string, qtype uint16) (result, error) {
	qname := dns.Fqdn(strings.ToLower(name))
	if _, ok := dns.IsDomainName(qname); !ok || strings.HasPrefix(qname, ".") {
		return result{}, challenges.Errorf(challenges.KindMalformed,
			"invalid DNS name %q", challenges.Excerpt(name, 253))
	}
	if r.Quorum > 1 {
		return r.lookupQuorum(ctx, qname, qtype)
	}

	var last outcome
	for _, server := range r.servers {
		last = r.resolve(ctx, server, qname, qtype)
		if last.err == nil || last.definite || ctx.Err() != nil {
			break
		}
	}
	return last.split()
}

// lookupQuorum asks every server at once and returns the answer that at
// least r.Quorum servers agree on.
func (r *Resolver) lookupQuorum(ctx context.Context, qname string, qtype uint16) (result, error) {
	tname := dns.TypeToString[qtype]
	if r.Quorum > len(r.servers) {
		return result{}, challenges.Errorf(challenges.KindDNS,
			"DNS problem: a quorum of %d cannot be met by %d resolvers", r.Quorum, len(r.servers))
	}

	outs := make([]outcome, len(r.servers))
	var wg sync.WaitGroup
	for i, server := range r.servers {
		wg.Go(func() { outs[i] = r.resolve(ctx, server, qname, qtype) })
	}
	wg.Wait()

	counts := make(map[string]int)
	for _, o := range outs {
		counts[o.key()]++
		if counts[o.key()] >= r.Quorum {
			return o.split()
		}
	}

	seen := make([]string, len(outs))
	for i, o := range outs {
		seen[i] = fmt.Sprintf("resolver %d: %s", i+1, o.summary())
	}
	return result{}, challenges.Errorf(challenges.KindDNS,
		"DNS problem: fewer than %d of %d resolvers agree on %s for %s (%s)",
		r.Quorum, len(r.servers), tname, strings.TrimSuffix(qname, "."), strings.Join(seen, "; "))
}

// resolve looks up qtype records at qname on one server, asking again for a
// CNAME target when the answer stops at the CNAME.
func (r *Resolver) resolve(ctx context.Context, server, qname string, qtype uint16) outcome {
	var o outcome
	seen := map[string]bool{qname: true}
	for cur := qname; ; {
		msg, definite, err := r.exchange(ctx, server, cur, qtype)
		if err != nil {
			o.err, o.definite = err, definite
			return o
		}
		for _, rr := range msg.Answer {
			o.answers = append(o.answers, rr.String())
		}

		values, end, ferr := follow(msg.Answer, cur, qtype, seen)
		if ferr != nil {
			o.err, o.definite = ferr, true
			return o
		}
		if len(values) > 0 || end == cur {
			o.values = values
			return o
		}
		cur = end
	}
}

// follow walks an answer section from name through its CNAMEs. It returns
// the qtype values owned by the last name of the chain and that name; when
// the chain leaves the answer, the values are empty and the name is where to
// ask next. seen holds the names visited so far by this lookup; follow adds
// to it and fails on a loop or a chain longer than [MaxCNAMEs].
func follow(
	answer []dns.RR,
	name string,
	qtype uint16,
	seen map[string]bool,
) ([]string, string, *challenges.Error) {
	tname := dns.TypeToString[qtype]
	for cur := name; ; {
		var values []string
		next := ""
		for _, rr := range answer {
			h := rr.Header()
			if h.Class != dns.ClassINET || !strings.EqualFold(h.Name, cur) {
				continue
			}
			if v, ok := recordValue(rr, qtype); ok {
				values = append(values, v)
			} else if c, ok := rr.(*dns.CNAME); ok && next == "" {
				next = dns.Fqdn(strings.ToLower(c.Target))
			}
		}
		if len(values) > 0 || next == "" {
			return values, cur, nil
		}

		if seen[next] {
			return nil, "", dnsError("CNAME loop", tname, name)
		}
		seen[next] = true
		if len(seen) > MaxCNAMEs+1 {
			return nil, "", dnsError(fmt.Sprintf("more than %d CNAMEs", MaxCNAMEs), tname, name)
		}
		cur = next
	}
}

// recordValue returns the value of rr if it is a record of type qtype.
func recordValue(rr dns.RR, qtype uint16) (string, bool) {
	switch v := rr.(type) {
	case *dns.TXT:
		return strings.Join(v.Txt, ""), qtype == dns.TypeTXT
	case *dns.A:
		a, ok := netip.AddrFromSlice(v.A)
		return a.Unmap().String(), ok && qtype == dns.TypeA
	case *dns.AAAA:
		a, ok := netip.AddrFromSlice(v.AAAA)
		return a.String(), ok && qtype == dns.TypeAAAA
	case *dns.CAA:
		return caaValue(v), qtype == dns.TypeCAA
	}
	return "", false
}

// exchange sends one query to server over UDP, and again over TCP if the
// UDP answer is truncated. It returns the answer if its rcode is NOERROR;
// otherwise whether the failure is definite (NXDOMAIN) and the error.
func (r *Resolver) exchange(
	ctx context.Context,
	server, qname string,
	qtype uint16,
) (*dns.Msg, bool, *challenges.Error) {
	tname := dns.TypeToString[qtype]
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.SetEdns0(udpSize, false)

	in, err := r.exchangeOver(ctx, "udp", m, server)
	if err == nil && in.Truncated {
		in, err = r.exchangeOver(ctx, "tcp", m, server)
	}
	if err != nil {
		if isTimeout(err) || ctx.Err() != nil {
			return nil, false, dnsError("query timed out", tname, qname)
		}
		return nil, false, dnsError("network error", tname, qname)
	}

	switch {
	case in.Truncated:
		return nil, false, dnsError("truncated answer over TCP", tname, qname)
	case len(in.Question) != 1 || in.Question[0].Qtype != qtype ||
		!strings.EqualFold(in.Question[0].Name, qname):
		return nil, false, dnsError("answer to another question", tname, qname)
	case in.Rcode == dns.RcodeNameError:
		return nil, true, dnsError("NXDOMAIN", tname, qname)
	case in.Rcode != dns.RcodeSuccess:
		cond, ok := dns.RcodeToString[in.Rcode]
		if !ok {
			cond = fmt.Sprintf("rcode %d", in.Rcode)
		}
		return nil, false, dnsError(cond, tname, qname)
	}
	return in, false, nil
}

// exchangeOver sends m to server over network within the query timeout.
func (r *Resolver) exchangeOver(
	ctx context.Context,
	network string,
	m *dns.Msg,
	server string,
) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := &dns.Client{Net: network, Timeout: r.timeout, UDPSize: udpSize}
	in, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return nil, fmt.Errorf("querying %s over %s: %w", server, network, err)
	}
	return in, nil
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout() ||
		errors.Is(err, context.DeadlineExceeded)
}
