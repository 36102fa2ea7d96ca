package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/acmegate/acmegate/store"
)

// storeFlags locate the database for operator commands that work on it
// directly, on the gateway's host.
// With --admin-url, the commands that support it call the admin API
// instead (see adminclient.go).
type storeFlags struct {
	config, data, db string
	// remoteURL, tokenFile and caFile locate the admin API.
	remoteURL, tokenFile, caFile string
}

func (f *storeFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.config, "config", "", "YAML configuration file")
	cmd.PersistentFlags().StringVar(&f.data, "data", "", "data folder (default ./data)")
	cmd.PersistentFlags().StringVar(&f.db, "db", "", "database URL (default SQLite in the data folder)")
	cmd.PersistentFlags().StringVar(&f.remoteURL, "admin-url", "",
		"call the admin API at this URL (https://host:8444) instead of opening the database "+
			"(env "+envAdminURL+")")
	cmd.PersistentFlags().StringVar(&f.tokenFile, "admin-token-file", "",
		"file holding the admin API bearer token (env "+envAdminTokenFile+")")
	cmd.PersistentFlags().StringVar(&f.caFile, "admin-ca", "",
		"PEM CA certificates trusted for the admin API (default the system roots)")
	cmd.PersistentPreRunE = f.refuseRemote
}

// open loads the configuration, applies the flags and opens the store.
func (f *storeFlags) open(ctx context.Context) (*store.Store, Config, error) {
	if f.remote() {
		return nil, Config{}, fmt.Errorf("this command does not work through the admin API: "+
			"drop --admin-url (and unset %s)", envAdminURL)
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		return nil, cfg, err
	}
	if f.data != "" {
		cfg.Data = f.data
	}
	if f.db != "" {
		cfg.DB = f.db
	}
	st, err := store.Open(ctx, store.Options{URL: cfg.dbURL()})
	if err != nil {
		return nil, cfg, fmt.Errorf("opening the database: %w", err)
	}
	return st, cfg, nil
}

// runE adapts a command body that needs the store: it opens the store
// named by the flags, runs fn and closes the store.
func (f *storeFlags) runE(
	fn func(cmd *cobra.Command, args []string, st *store.Store) error,
) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		st, _, err := f.open(cmd.Context())
		if err != nil {
			return err
		}
		defer st.Close()
		return fn(cmd, args, st)
	}
}
