package main

import (
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/acmegate/acmegate/acme/admin"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/store"
)

// AdminConfig configures the operator API (package acme/admin): JSON over
// HTTPS on a listener of its own, for holders of an admin token or of a
// client certificate from the gateway's intermediate.
type AdminConfig struct {
	// Listen is the HTTPS listen address of the admin API, such as
	// 127.0.0.1:8444; empty (the default) turns the API off.
	Listen string `yaml:"listen"`
	// ClientNames are the client certificate names accepted as operators,
	// matched against the subject common name and the subject alternative
	// names. The certificate must come from the gateway's intermediate with
	// the clientAuth usage (the mtls profile) and not be revoked. Empty:
	// only tokens (`acmegate admin token create`) authenticate.
	//
	// Whoever can get a certificate for one of these names from this
	// gateway is an operator: pick names that the issuance policy grants
	// to the operators' accounts alone.
	ClientNames []string `yaml:"client_names"`
	// Pprof serves Go's profiling endpoints under /debug/pprof/ on the
	// admin listener, to operators only.
	Pprof bool `yaml:"pprof"`
}

// validate reports the first bad admin field; listen is the ACME
// listener's address, which the admin API may not share.
func (a AdminConfig) validate(listen string) error {
	if a.Listen == "" {
		if len(a.ClientNames) > 0 || a.Pprof {
			return errors.New("config: admin.client_names and admin.pprof need admin.listen")
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(a.Listen); err != nil {
		return fmt.Errorf("config: admin.listen %q must be host:port", a.Listen)
	}
	if a.Listen == listen {
		return fmt.Errorf("config: admin.listen %q must differ from listen", a.Listen)
	}
	for _, n := range a.ClientNames {
		if strings.TrimSpace(n) == "" {
			return errors.New("config: admin.client_names must not hold empty names")
		}
	}
	return nil
}

// startAdmin serves the admin API on cfg.Admin.Listen over HTTPS with a
// certificate from the intermediate, reporting the end of serving on errc.
// It returns nil when the API is off.
func startAdmin(cfg Config, st *store.Store, engine *state.Engine, issuer *ca.Issuer,
	reg *prometheus.Registry, log *slog.Logger, errc chan<- error) (*http.Server, error) {
	if cfg.Admin.Listen == "" {
		return nil, nil
	}
	directories := []string{"acme"}
	if cfg.Staging.Enabled {
		directories = append(directories, strings.TrimPrefix(cfg.Staging.Prefix, "/"))
	}
	var metrics prometheus.Gatherer
	if reg != nil {
		metrics = reg
	}
	api, err := admin.New(admin.Options{Store: st, Revoker: engine,
		Intermediate: issuer.Certificate, Root: issuer.Root, ClientNames: cfg.Admin.ClientNames,
		Directories: directories, Metrics: metrics, Pprof: cfg.Admin.Pprof, Logger: log})
	if err != nil {
		return nil, err
	}

	// The certificate names the admin address; the handler, not the TLS
	// layer, verifies client certificates, so refusals get JSON answers.
	adminCfg := cfg
	adminCfg.Listen = cfg.Admin.Listen
	tlsCfg, err := listenerTLS(adminCfg, issuer, log)
	if err != nil {
		return nil, err
	}
	tlsCfg.ClientAuth = tls.RequestClientCert
	ln, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Admin.Listen, err)
	}
	hs := &http.Server{
		// Addr only reports the address; the server runs on ln.
		Addr:              ln.Addr().String(),
		Handler:           api.Handler(),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Long enough for a 30-second CPU profile.
		WriteTimeout:   2 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 32 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { errc <- hs.ServeTLS(ln, "", "") }()
	log.Info("admin API started", "listen", ln.Addr().String(),
		"client_names", len(cfg.Admin.ClientNames), "pprof", cfg.Admin.Pprof)
	return hs, nil
}

func adminCommand() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage access to the admin API",
	}
	sf.register(cmd)
	token := &cobra.Command{
		Use:   "token",
		Short: "Manage admin API bearer tokens",
	}
	token.AddCommand(adminTokenCreateCommand(&sf), adminTokenListCommand(&sf),
		adminTokenRevokeCommand(&sf))
	cmd.AddCommand(token)
	return cmd
}

func adminTokenCreateCommand(sf *storeFlags) *cobra.Command {
	var label string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an admin API token and print it once",
		Long: `create makes a bearer token for the admin API. Only its SHA-256 is stored:
the token is printed now and cannot be shown again. Audit events of changes
made with it name "operator:<label>".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(label) == "" {
				return errors.New("--label is required: say who or what holds the token")
			}
			st, _, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			token, row, err := admin.CreateToken(cmd.Context(), st, rand.Reader, label, "operator")
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "token id: %s\n", row.ID)
			fmt.Fprintf(out, "token:    %s\n", token)
			fmt.Fprintln(out, "The token is shown only now; send it as \"Authorization: Bearer <token>\".")
			return nil
		},
	}
	cmd.Flags().StringVar(&label, "label", "", "who or what holds the token (required)")
	return cmd
}

func adminTokenListCommand(sf *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List admin API tokens (never the tokens themselves)",
		Args:  cobra.NoArgs,
		RunE: sf.runE(func(cmd *cobra.Command, _ []string, st *store.Store) error {
			rows, err := st.Read(cmd.Context()).AdminTokens()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TOKEN ID\tLABEL\tCREATED\tREVOKED")
			for _, r := range rows {
				revoked := "-"
				if r.RevokedAt != nil {
					revoked = r.RevokedAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.ID, r.Label,
					r.CreatedAt.UTC().Format(time.RFC3339), revoked)
			}
			return w.Flush()
		}),
	}
}

func adminTokenRevokeCommand(sf *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "Revoke an admin API token; requests with it are refused at once",
		Args:  cobra.ExactArgs(1),
		RunE: sf.runE(func(cmd *cobra.Command, args []string, st *store.Store) error {
			err := admin.RevokeToken(cmd.Context(), st, args[0], "operator", time.Now().UTC())
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no unrevoked admin token %s", args[0])
			}
			return err
		}),
	}
}
