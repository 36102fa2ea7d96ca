package main

import (
	"crypto/x509"
	"encoding/csv"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

func certsCommand() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Query the certificate inventory",
	}
	sf.register(cmd)
	cmd.AddCommand(certsListCommand(&sf), certsShowCommand(&sf), certsRenewEarlyCommand(&sf))
	return cmd
}

func certsListCommand(sf *storeFlags) *cobra.Command {
	var (
		name, account, profile, status, format string
		expiring                               time.Duration
		limit                                  int
	)
	cmd := &cobra.Command{
		Use:         "list",
		Short:       "List certificates, newest first",
		Args:        cobra.NoArgs,
		Annotations: remoteCapable,
		RunE: sf.runE(func(cmd *cobra.Command, _ []string, st *store.Store) error {
			now := time.Now().UTC()
			f := store.CertificateFilter{AccountID: account, Profile: profile, Status: status,
				Now: now, Limit: limit}
			if name != "" {
				f.NamePattern = "%" + strings.ReplaceAll(name, "*", "%") + "%"
			}
			if expiring > 0 {
				f.ExpiresBefore = now.Add(expiring)
				if f.Status == "" {
					f.Status = "valid"
				}
			}
			rows, err := st.Read(cmd.Context()).ListCertificates(f)
			if err != nil {
				return err
			}
			return writeCerts(cmd, rows, format, now)
		}),
	}
	local := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if !sf.remote() {
			return local(cmd, args)
		}
		q := url.Values{}
		for k, v := range map[string]string{"name": name, "account": account,
			"profile": profile, "status": status} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if expiring > 0 {
			q.Set("expiring_within", expiring.String())
		}
		q.Set("limit", strconv.Itoa(limit))
		rows, err := remoteCertificates(cmd, sf, q)
		if err != nil {
			return err
		}
		return writeCerts(cmd, rows, format, time.Now().UTC())
	}
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", "names containing this text (* matches anything)")
	fl.StringVar(&account, "account", "", "account ID")
	fl.StringVar(&profile, "profile", "", "profile name")
	fl.StringVar(&status, "status", "", "valid, revoked or expired")
	fl.DurationVar(&expiring, "expiring-within", 0, "valid certificates expiring within this duration")
	fl.IntVar(&limit, "limit", 1000, "maximum number of rows")
	fl.StringVar(&format, "format", "table", "table, json or csv")
	return cmd
}

func certStatus(c store.Certificate, now time.Time) string {
	if c.Status == "valid" && !now.Before(c.NotAfter) {
		return "expired"
	}
	return c.Status
}

func writeCerts(cmd *cobra.Command, rows []store.Certificate, format string, now time.Time) error {
	out := cmd.OutOrStdout()
	type row struct {
		Serial    string    `json:"serial"`
		Names     string    `json:"names"`
		Account   string    `json:"account"`
		Profile   string    `json:"profile"`
		Status    string    `json:"status"`
		NotBefore time.Time `json:"not_before"`
		NotAfter  time.Time `json:"not_after"`
		Replaces  string    `json:"replaces,omitempty"`
	}
	var list []row
	for _, c := range rows {
		list = append(list, row{c.Serial, c.Names, c.AccountID, c.Profile, certStatus(c, now),
			c.NotBefore.UTC(), c.NotAfter.UTC(), c.Replaces})
	}
	switch format {
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	case "csv":
		w := csv.NewWriter(out)
		_ = w.Write([]string{"serial", "names", "account", "profile", "status", "not_before", "not_after"})
		for _, r := range list {
			_ = w.Write([]string{r.Serial, r.Names, r.Account, r.Profile, r.Status,
				r.NotBefore.Format(time.RFC3339), r.NotAfter.Format(time.RFC3339)})
		}
		w.Flush()
		return w.Error()
	case "table":
		w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SERIAL\tNAMES\tPROFILE\tSTATUS\tNOT AFTER")
		for _, r := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Serial, r.Names, r.Profile, r.Status,
				r.NotAfter.Format(time.RFC3339))
		}
		return w.Flush()
	}
	return fmt.Errorf("--format must be table, json or csv")
}

func certsShowCommand(sf *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use:         "show SERIAL",
		Short:       "Show one certificate with its order, account, validations and renewals",
		Args:        cobra.ExactArgs(1),
		Annotations: remoteCapable,
		RunE: remoteOr(sf, func(cmd *cobra.Command, args []string, c *adminClient) error {
			var body json.RawMessage
			if err := c.do(cmd.Context(), http.MethodGet,
				"/v1/certificates/"+url.PathEscape(args[0]), nil, nil, &body); err != nil {
				return err
			}
			_, err := cmd.OutOrStdout().Write(body)
			return err
		}, func(cmd *cobra.Command, args []string, st *store.Store) error {
			r := st.Read(cmd.Context())
			c, err := r.Certificate(strings.ToLower(args[0]))
			if err != nil {
				return err
			}
			cert, err := x509.ParseCertificate(c.DER)
			if err != nil {
				return fmt.Errorf("decoding stored certificate: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "serial:      %s\n", c.Serial)
			fmt.Fprintf(out, "status:      %s\n", certStatus(*c, time.Now()))
			if c.RevokedAt != nil {
				fmt.Fprintf(out, "revoked:     %s (reason %d)\n", c.RevokedAt.UTC().Format(time.RFC3339),
					c.RevocationReason)
			}
			fmt.Fprintf(out, "names:       %s\n", c.Names)
			fmt.Fprintf(out, "profile:     %s\n", c.Profile)
			fmt.Fprintf(out, "account:     %s\n", c.AccountID)
			fmt.Fprintf(out, "order:       %s\n", c.OrderID)
			fmt.Fprintf(out, "issuer:      %s\n", cert.Issuer.String())
			fmt.Fprintf(out, "not before:  %s\n", cert.NotBefore.UTC().Format(time.RFC3339))
			fmt.Fprintf(out, "not after:   %s\n", cert.NotAfter.UTC().Format(time.RFC3339))
			fmt.Fprintf(out, "key sha256:  %s\n", c.KeyHash)
			if c.Replaces != "" {
				fmt.Fprintf(out, "replaces:    %s\n", c.Replaces)
			}
			if err := writeCertContext(out, r, c, time.Now()); err != nil {
				return err
			}
			fmt.Fprintln(out)
			return pem.Encode(out, &pem.Block{Type: "CERTIFICATE", Bytes: c.DER})
		}),
	}
}

func certsRenewEarlyCommand(sf *storeFlags) *cobra.Command {
	var name, account, profile, reason string
	var at string
	cmd := &cobra.Command{
		Use:   "renew-early",
		Short: "Ask clients to renew matching certificates now, through renewal information (RFC 9773)",
		Long: `renew-early moves the renewal window of the valid certificates matching the
filters to start now (or at --at). Clients that poll renewal information
(lego, Caddy) renew at once; acmegate report shows which did, through the
replaces field of their new orders.`,
		Args:        cobra.NoArgs,
		Annotations: remoteCapable,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" && account == "" && profile == "" {
				return fmt.Errorf("give at least one of --name, --account or --profile")
			}
			if reason == "" {
				return fmt.Errorf("--reason is required: it goes into the audit log")
			}
			due := time.Now().UTC()
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return fmt.Errorf("--at must be an RFC 3339 time: %w", err)
				}
				due = t
			}
			if sf.remote() {
				c, err := sf.client()
				if err != nil {
					return err
				}
				var res struct {
					Serials []string  `json:"serials"`
					Due     time.Time `json:"due"`
				}
				body := map[string]any{"name": name, "account": account, "profile": profile,
					"reason": reason}
				if at != "" {
					body["at"] = due // else the gateway's now
				}
				err = c.do(cmd.Context(), http.MethodPost, "/v1/renewals", nil, body, &res)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "certificates marked for renewal from %[2]s: %[1]d\n",
					len(res.Serials), res.Due.Format(time.RFC3339))
				return nil
			}
			st, _, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			f := store.CertificateFilter{AccountID: account, Profile: profile, Now: time.Now().UTC()}
			if name != "" {
				f.NamePattern = "%" + strings.ReplaceAll(name, "*", "%") + "%"
			}
			var serials []string
			err = st.Transact(cmd.Context(), func(tx *store.Tx) error {
				var err error
				if serials, err = tx.MarkForRenewal(f, due); err != nil {
					return err
				}
				return tx.Audit(store.Event{Type: state.EventRenewalPushed, Actor: "operator",
					Subject: "certificates", Outcome: state.OutcomeSuccess, Reason: reason,
					Data: map[string]any{"serials": serials, "due": due, "name": name,
						"account": account, "profile": profile}})
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "certificates marked for renewal from %[2]s: %[1]d\n",
				len(serials), due.Format(time.RFC3339))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", "names containing this text (* matches anything)")
	fl.StringVar(&account, "account", "", "account ID")
	fl.StringVar(&profile, "profile", "", "profile name")
	fl.StringVar(&reason, "reason", "", "why (required, recorded in the audit log)")
	fl.StringVar(&at, "at", "", "start of the renewal window (RFC 3339; default now)")
	return cmd
}
