package resolver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/acmegate/acmegate/challenges"
)

// errSystemCAA is returned when CAA is asked of the operating system's
// resolver, which the net package cannot query for CAA records.
var errSystemCAA = errors.New("resolver: CAA lookups need configured DNS servers")

// LookupCAA returns the CAA records at name, following CNAMEs, and the answer
// records received in presentation form. The records carry name as their
// owner, also when they were found at the end of a CNAME chain.
//
// A name without CAA records and a name that does not exist (NXDOMAIN, here
// or at the end of a CNAME chain) both give no records and no error: the tree
// climbing of RFC 8659, Section 3 treats both as an empty RRset and moves on
// to the parent. SERVFAIL, REFUSED, timeouts, an answer still truncated over
// TCP, disagreeing resolvers (see [Resolver.Quorum]) and broken CNAME chains
// give a *challenges.Error of kind dns. A resolver without configured servers
// returns an error that is not a *challenges.Error: the operating system's
// resolver cannot be asked for CAA, and a CAA check must not be skipped.
func (r *Resolver) LookupCAA(ctx context.Context, name string) ([]*dns.CAA, []string, error) {
	if r.servers == nil {
		return nil, nil, errSystemCAA
	}
	res, err := r.lookup(ctx, name, dns.TypeCAA)
	if isNXDOMAIN(err) {
		return nil, res.answers, nil
	}
	if err != nil {
		return nil, res.answers, err
	}

	owner := dns.Fqdn(strings.ToLower(name))
	records := make([]*dns.CAA, 0, len(res.values))
	for _, v := range res.values {
		rr, ok := parseCAAValue(v)
		if !ok {
			// Values come from caaValue, so this is a fault of ours.
			return nil, res.answers, fmt.Errorf("resolver: decoding CAA value %q", v)
		}
		rr.Hdr = dns.RR_Header{Name: owner, Rrtype: dns.TypeCAA, Class: dns.ClassINET}
		records = append(records, rr)
	}
	return records, res.answers, nil
}

// isNXDOMAIN reports whether err is the NXDOMAIN failure of a CAA lookup, at
// the name asked or at a CNAME target.
func isNXDOMAIN(err error) bool {
	var ce *challenges.Error
	if !errors.As(err, &ce) || ce.Kind != challenges.KindDNS {
		return false
	}
	// The detail is built by dnsError; deriving the prefix from it keeps the
	// two from drifting apart.
	return strings.HasPrefix(ce.Detail, dnsError("NXDOMAIN", "CAA", "").Detail)
}

// caaValue encodes a CAA record as one lookup value: the flags in decimal,
// then the tag and the value as Go-quoted strings, e.g. `0 "issue" "ca.test"`.
// Unlike the DNS presentation format it keeps every byte, so that answers
// from several resolvers compare exactly and the record is rebuilt as it was
// received.
func caaValue(rr *dns.CAA) string {
	return strconv.Itoa(int(rr.Flag)) + " " + strconv.Quote(rr.Tag) + " " + strconv.Quote(rr.Value)
}

// parseCAAValue reverses [caaValue].
func parseCAAValue(v string) (*dns.CAA, bool) {
	flag, rest, ok := strings.Cut(v, " ")
	flags, err := strconv.ParseUint(flag, 10, 8)
	if !ok || err != nil {
		return nil, false
	}
	quotedTag, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return nil, false
	}
	tag, err := strconv.Unquote(quotedTag)
	if err != nil {
		return nil, false
	}
	quotedValue, ok := strings.CutPrefix(rest[len(quotedTag):], " ")
	if !ok {
		return nil, false
	}
	value, err := strconv.Unquote(quotedValue)
	if err != nil {
		return nil, false
	}
	return &dns.CAA{Flag: uint8(flags), Tag: tag, Value: value}, true
}
