package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/acmegate/acmegate/store"
	"github.com/spf13/cobra"
)

func auditCommand() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify and export the hash-chained audit log",
	}
	sf.register(cmd)
	cmd.AddCommand(&cobra.Command{
		Use:         "verify",
		Short:       "Check the whole audit chain and name the first broken link",
		Args:        cobra.NoArgs,
		Annotations: remoteCapable,
		RunE: remoteOr(&sf, func(cmd *cobra.Command, _ []string, c *adminClient) error {
			var res struct {
				Intact   bool   `json:"intact"`
				Events   int64  `json:"events"`
				BrokenAt int64  `json:"broken_at"`
				Reason   string `json:"reason"`
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/audit/verify", nil, nil,
				&res); err != nil {
				return err
			}
			if !res.Intact {
				return fmt.Errorf("audit chain broken at event %d: %s (%d events verified before it)",
					res.BrokenAt, res.Reason, res.Events)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "audit chain intact: %d events\n", res.Events)
			return nil
		}, func(cmd *cobra.Command, _ []string, st *store.Store) error {
			brk, n, err := st.VerifyAudit(cmd.Context())
			if err != nil {
				return err
			}
			if brk != nil {
				return fmt.Errorf("audit chain broken at event %d: %s (%d events verified before it)",
					brk.Seq, brk.Reason, n)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "audit chain intact: %d events\n", n)
			return nil
		}),
	})
	var since, format string
	export := &cobra.Command{
		Use:   "export",
		Short: "Stream audit events as JSON lines, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "jsonl" {
				return fmt.Errorf("--format must be jsonl")
			}
			var from time.Time
			if since != "" {
				t, err := time.Parse(time.RFC3339, since)
				if err != nil {
					return fmt.Errorf("--since must be an RFC 3339 time: %w", err)
				}
				from = t
			}
			st, _, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			enc := json.NewEncoder(cmd.OutOrStdout())
			var after int64
			for {
				rows, err := st.AuditEvents(cmd.Context(), after, from, 1000)
				if err != nil {
					return err
				}
				for _, r := range rows {
					if err := enc.Encode(r); err != nil {
						return err
					}
					after = r.Seq
				}
				if len(rows) < 1000 {
					return nil
				}
			}
		},
	}
	export.Flags().StringVar(&since, "since", "", "only events at or after this RFC 3339 time")
	export.Flags().StringVar(&format, "format", "jsonl", "output format: jsonl")
	cmd.AddCommand(export)
	return cmd
}
