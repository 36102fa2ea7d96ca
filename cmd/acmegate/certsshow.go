package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

// maxLineage bounds the walk through replaces, in case of a cycle in
// hand-edited data.
const maxLineage = 100

// writeCertContext prints, for certs show, the certificate's order with
// its identifiers and validations, its account, and its renewal lineage.
// Missing rows are reported in place rather than failing the command.
func writeCertContext(out io.Writer, r *store.Tx, c *store.Certificate, now time.Time) error {
	fmt.Fprintln(out, "\norder:")
	if err := writeCertOrder(out, r, c.OrderID); err != nil {
		return err
	}
	fmt.Fprintln(out, "\naccount:")
	acct, err := r.Account(c.AccountID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		fmt.Fprintf(out, "  %s: not found\n", c.AccountID)
	case err != nil:
		return err
	default:
		var contacts []string
		if acct.Contacts != "" {
			_ = json.Unmarshal([]byte(acct.Contacts), &contacts)
		}
		contact := strings.Join(contacts, ", ")
		if contact == "" {
			contact = "(none)"
		}
		fmt.Fprintf(out, "  id:        %s\n", acct.ID)
		fmt.Fprintf(out, "  status:    %s\n", acct.Status)
		fmt.Fprintf(out, "  contacts:  %s\n", contact)
	}
	fmt.Fprintln(out, "\nlineage:")
	return writeLineage(out, r, c, now)
}

func writeCertOrder(out io.Writer, r *store.Tx, orderID string) error {
	o, err := r.Order(orderID)
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(out, "  %s: not found\n", orderID)
		return nil
	}
	if err != nil {
		return err
	}
	var ids []state.Identifier
	_ = json.Unmarshal([]byte(o.Identifiers), &ids)
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		names = append(names, id.Type+":"+id.Value)
	}
	fmt.Fprintf(out, "  id:           %s\n", o.ID)
	fmt.Fprintf(out, "  status:       %s\n", o.Status)
	fmt.Fprintf(out, "  identifiers:  %s\n", strings.Join(names, ", "))
	authzIDs, err := r.OrderAuthzIDs(o.ID)
	if err != nil {
		return err
	}
	authzs, err := r.Authorizations(authzIDs)
	if err != nil {
		return err
	}
	chals, err := r.ChallengesFor(authzIDs)
	if err != nil {
		return err
	}
	byAuthz := map[string][]store.Challenge{}
	for _, ch := range chals {
		byAuthz[ch.AuthzID] = append(byAuthz[ch.AuthzID], ch)
	}
	fmt.Fprintln(out, "  validations:")
	for _, a := range authzs {
		value := a.IdentifierValue
		if a.Wildcard {
			value = "*." + value
		}
		fmt.Fprintf(out, "    %s:%s  authorization %s %s\n", a.IdentifierType, value, a.ID, a.Status)
		for _, ch := range byAuthz[a.ID] {
			validated := "-"
			if ch.ValidatedAt != nil {
				validated = ch.ValidatedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(out, "      %-16s %-10s validated %s\n", ch.Type, ch.Status, validated)
		}
	}
	return nil
}

// writeLineage prints the certificates this one renewed, walking back
// through replaces, then this one, then those that renewed it.
func writeLineage(out io.Writer, r *store.Tx, c *store.Certificate, now time.Time) error {
	var back []store.Certificate
	seen := map[string]bool{c.Serial: true}
	for cur := c; cur.Replaces != "" && len(back) < maxLineage; {
		serial := store.ReplacedSerial(cur.Replaces)
		if serial == "" || seen[serial] {
			break
		}
		prev, err := r.Certificate(serial)
		if errors.Is(err, store.ErrNotFound) {
			fmt.Fprintf(out, "  %s  (not found)\n", serial)
			break
		}
		if err != nil {
			return err
		}
		seen[serial] = true
		back = append(back, *prev)
		cur = prev
	}
	for i := len(back) - 1; i >= 0; i-- {
		writeLineageRow(out, back[i], now, "")
	}
	writeLineageRow(out, *c, now, "  (this certificate)")
	for cur := *c; len(seen) < 2*maxLineage; {
		next, err := r.CertificatesReplacing(cur.AccountID, cur.Serial)
		if err != nil {
			return err
		}
		if len(next) == 0 || seen[next[0].Serial] {
			break
		}
		for _, n := range next {
			writeLineageRow(out, n, now, "")
			seen[n.Serial] = true
		}
		cur = next[0]
	}
	return nil
}

func writeLineageRow(out io.Writer, c store.Certificate, now time.Time, note string) {
	fmt.Fprintf(out, "  %s  not after %s  %s%s\n", c.Serial, c.NotAfter.UTC().Format(time.RFC3339),
		certStatus(c, now), note)
}
