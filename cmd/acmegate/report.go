package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/acmegate/acmegate/store"
)

func reportCommand() *cobra.Command {
	var sf storeFlags
	var from, to, format string
	var days int
	cmd := &cobra.Command{
		Use:         "report",
		Short:       "Lifecycle evidence per account and profile: issued, renewed, revoked, expired unrenewed",
		Args:        cobra.NoArgs,
		Annotations: remoteCapable,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now().UTC()
			start, end := now.AddDate(0, 0, -days), now
			var err error
			if from != "" {
				if start, err = time.Parse(time.RFC3339, from); err != nil {
					return fmt.Errorf("--from must be an RFC 3339 time: %w", err)
				}
			}
			if to != "" {
				if end, err = time.Parse(time.RFC3339, to); err != nil {
					return fmt.Errorf("--to must be an RFC 3339 time: %w", err)
				}
			}
			var rep *store.Report
			if sf.remote() {
				c, err := sf.client()
				if err != nil {
					return err
				}
				q := url.Values{"from": {start.Format(time.RFC3339)},
					"to": {end.Format(time.RFC3339)}}
				rep = new(store.Report)
				if err := c.do(cmd.Context(), http.MethodGet, "/v1/report", q, nil, rep); err != nil {
					return err
				}
			} else {
				st, _, err := sf.open(cmd.Context())
				if err != nil {
					return err
				}
				defer st.Close()
				if rep, err = st.BuildReport(cmd.Context(), start, end, now); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			switch format {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			case "table":
			default:
				return fmt.Errorf("--format must be table or json")
			}
			fmt.Fprintf(out, "period %s to %s\n", rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339))
			w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ACCOUNT\tPROFILE\tISSUED\tRENEWED\tREVOKED\tEXPIRED UNRENEWED\tMEDIAN LIFE USED\tPUSHED\tHONOURED")
			for _, r := range rep.Rows {
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%.0f%%\t%d\t%d\n", r.AccountID, r.Profile,
					r.Issued, r.Renewed, r.Revoked, r.ExpiredUnrenewed, 100*r.MedianLifetimeUsed,
					r.RenewalPushed, r.RenewalHonoured)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "operator actions: %d\n", rep.OperatorActions)
			return nil
		},
	}
	sf.register(cmd)
	cmd.Flags().StringVar(&from, "from", "", "start of the period (RFC 3339; default --days ago)")
	cmd.Flags().StringVar(&to, "to", "", "end of the period (RFC 3339; default now)")
	cmd.Flags().IntVar(&days, "days", 30, "length of the period when --from is not given")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}
