package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

func eabCommand() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "eab",
		Short: "Manage external account binding keys (RFC 8555, Section 7.3.4)",
	}
	sf.register(cmd)
	cmd.AddCommand(eabCreateCommand(&sf), eabListCommand(&sf), eabRevokeCommand(&sf))
	return cmd
}

func eabCreateCommand(sf *storeFlags) *cobra.Command {
	var label, policy, directory string
	var reusable bool
	cmd := &cobra.Command{
		Use:         "create",
		Short:       "Create an EAB key and print its key ID and MAC key once",
		Args:        cobra.NoArgs,
		Annotations: remoteCapable,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if label == "" {
				return fmt.Errorf("--label is required: say who the key is for")
			}
			if sf.remote() {
				c, err := sf.client()
				if err != nil {
					return err
				}
				var key remoteEABKey
				err = c.do(cmd.Context(), http.MethodPost, "/v1/eab-keys", nil,
					map[string]any{"label": label, "reusable": reusable, "policy": policy,
						"directory": directory}, &key)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "key id:  %s\n", key.ID)
				fmt.Fprintf(out, "hmac key: %s\n", key.MACKey)
				fmt.Fprintln(out, "The HMAC key is shown only now; hand it to the account owner over a secure channel.")
				return nil
			}
			st, _, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			idBytes := make([]byte, 12)
			mac := make([]byte, 64) // long enough for HS512 (RFC 7518, Section 3.2)
			if _, err := rand.Read(idBytes); err != nil {
				return err
			}
			if _, err := rand.Read(mac); err != nil {
				return err
			}
			key := &store.EABKey{ID: "eab_" + hex.EncodeToString(idBytes), Label: label,
				MACKey: mac, Reusable: reusable, Policy: policy, Directory: directory}
			err = st.Transact(cmd.Context(), func(tx *store.Tx) error {
				if err := tx.CreateEABKey(key); err != nil {
					return err
				}
				return tx.Audit(store.Event{Type: state.EventEABKeyCreated, Actor: "operator",
					Subject: "eab:" + key.ID, Outcome: state.OutcomeSuccess,
					Data: map[string]any{"label": label, "reusable": reusable, "policy": policy}})
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "key id:  %s\n", key.ID)
			fmt.Fprintf(out, "hmac key: %s\n", base64.RawURLEncoding.EncodeToString(mac))
			fmt.Fprintln(out, "The HMAC key is shown only now; hand it to the account owner over a secure channel.")
			return nil
		},
	}
	cmd.Flags().StringVar(&label, "label", "", "who or what the key is for (required)")
	cmd.Flags().StringVar(&policy, "policy", "", "name of the issuance policy bound to accounts of this key")
	cmd.Flags().BoolVar(&reusable, "reusable", false, "allow the key to bind more than one account")
	cmd.Flags().StringVar(&directory, "directory", "acme",
		"directory whose accounts the key binds: acme, or the staging prefix without its slash")
	return cmd
}

func eabListCommand(sf *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use:         "list",
		Short:       "List EAB keys (never their MAC keys)",
		Args:        cobra.NoArgs,
		Annotations: remoteCapable,
		RunE: remoteOr(sf, func(cmd *cobra.Command, _ []string, c *adminClient) error {
			var res struct {
				Keys []remoteEABKey `json:"eab_keys"`
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/v1/eab-keys", nil, nil, &res); err != nil {
				return err
			}
			keys := make([]store.EABKey, 0, len(res.Keys))
			for _, k := range res.Keys {
				keys = append(keys, store.EABKey{ID: k.ID, Label: k.Label, Reusable: k.Reusable,
					Bindings: k.Bindings, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt})
			}
			return writeEABKeys(cmd, keys)
		}, func(cmd *cobra.Command, _ []string, st *store.Store) error {
			keys, err := st.Read(cmd.Context()).EABKeys()
			if err != nil {
				return err
			}
			return writeEABKeys(cmd, keys)
		}),
	}
}

// remoteEABKey is an EAB key as the admin API shows it.
type remoteEABKey struct {
	ID        string     `json:"id"`
	Label     string     `json:"label"`
	Reusable  bool       `json:"reusable"`
	Bindings  int        `json:"bindings"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	MACKey    string     `json:"mac_key"`
}

func writeEABKeys(cmd *cobra.Command, keys []store.EABKey) error {
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KEY ID\tLABEL\tREUSABLE\tBOUND ACCOUNTS\tCREATED\tREVOKED")
	for _, k := range keys {
		revoked := "-"
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%v\t%d\t%s\t%s\n", k.ID, k.Label, k.Reusable, k.Bindings,
			k.CreatedAt.UTC().Format(time.RFC3339), revoked)
	}
	return w.Flush()
}

func eabRevokeCommand(sf *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use:         "revoke KEY_ID",
		Short:       "Revoke an EAB key so it binds no further accounts",
		Args:        cobra.ExactArgs(1),
		Annotations: remoteCapable,
		RunE: remoteOr(sf, func(cmd *cobra.Command, args []string, c *adminClient) error {
			return c.do(cmd.Context(), http.MethodDelete, "/v1/eab-keys/"+url.PathEscape(args[0]),
				nil, nil, nil)
		}, func(cmd *cobra.Command, args []string, st *store.Store) error {
			return st.Transact(cmd.Context(), func(tx *store.Tx) error {
				if err := tx.RevokeEABKey(args[0], time.Now().UTC()); err != nil {
					return err
				}
				return tx.Audit(store.Event{Type: state.EventEABKeyRevoked, Actor: "operator",
					Subject: "eab:" + args[0], Outcome: state.OutcomeSuccess})
			})
		}),
	}
}
