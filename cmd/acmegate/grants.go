package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

func grantsCommand() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "grants",
		Short: "Pre-approve identifiers for an account or an EAB key, without challenges",
		Long: `An ownership grant records that an account, or every account bound with an
EAB key, controls some identifiers: an exact DNS name, "*." and a DNS suffix
(every name below it), or an IP address or CIDR prefix. While a grant is
active, new authorizations for the identifiers it covers are valid at once,
without a challenge, and audited as authorization.granted. The issuance
policy still applies. Revoking a grant deactivates the authorizations made
from it.`,
	}
	sf.register(cmd)
	cmd.AddCommand(grantsAddCommand(&sf), grantsListCommand(&sf), grantsRevokeCommand(&sf))
	return cmd
}

func grantsAddCommand(sf *storeFlags) *cobra.Command {
	var req state.GrantRequest
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Grant identifiers to an account or an EAB key until an expiry",
		Example: `  acmegate grants add --account ACCOUNT_ID --identifier '*.team-a.corp.internal' \
    --reason "team-a owns its zone" --owner team-a@corp.internal --expires 720h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if expires <= 0 {
				return fmt.Errorf("--expires must be a positive duration such as 720h")
			}
			st, _, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			req.Expires = time.Now().Add(expires)
			rows, err := state.Grants{Store: st}.Create(cmd.Context(), req)
			if err != nil {
				return err
			}
			for _, g := range rows {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\texpires %s\n", g.ID, g.Pattern,
					g.Expires.UTC().Format(time.RFC3339))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.AccountID, "account", "", "account ID (the last part of the account URL)")
	f.StringVar(&req.EABKeyID, "eab-key", "", "EAB key ID: every account bound with it")
	f.StringArrayVar(&req.Patterns, "identifier", nil,
		"name, *.suffix, IP address or CIDR prefix (repeatable; one grant each)")
	f.StringVar(&req.Reason, "reason", "", "why the identifiers are granted (required)")
	f.StringVar(&req.Owner, "owner", "", "who asked for the grant (required)")
	f.DurationVar(&expires, "expires", 0, "how long the grant lasts, e.g. 720h (required)")
	cmd.MarkFlagsMutuallyExclusive("account", "eab-key")
	cmd.MarkFlagsOneRequired("account", "eab-key")
	for _, name := range []string{"identifier", "reason", "owner", "expires"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func grantsListCommand(sf *storeFlags) *cobra.Command {
	var activeOnly bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List ownership grants, newest first",
		Args:  cobra.NoArgs,
		RunE: sf.runE(func(cmd *cobra.Command, _ []string, st *store.Store) error {
			rows, err := st.Read(cmd.Context()).Grants()
			if err != nil {
				return err
			}
			now := time.Now()
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tGRANTEE\tPATTERN\tSTATE\tEXPIRES\tOWNER\tREASON")
			for _, g := range rows {
				grantee := "account:" + g.AccountID
				if g.EABKeyID != "" {
					grantee = "eab:" + g.EABKeyID
				}
				status := "active"
				switch {
				case g.RevokedAt != nil:
					status = "revoked " + g.RevokedAt.UTC().Format(time.RFC3339)
				case !g.Active(now):
					status = "expired"
				}
				if activeOnly && status != "active" {
					continue
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.ID, grantee, g.Pattern, status,
					g.Expires.UTC().Format(time.RFC3339), g.Owner, g.Reason)
			}
			return w.Flush()
		}),
	}
	cmd.Flags().BoolVar(&activeOnly, "active", false, "list only grants in force")
	return cmd
}

func grantsRevokeCommand(sf *storeFlags) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke GRANT_ID",
		Short: "Revoke a grant and deactivate the authorizations made from it",
		Args:  cobra.ExactArgs(1),
		RunE: sf.runE(func(cmd *cobra.Command, args []string, st *store.Store) error {
			n, err := state.Grants{Store: st}.Revoke(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s; %d authorizations deactivated\n", args[0], n)
			return nil
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the grant is revoked, for the audit log")
	return cmd
}
