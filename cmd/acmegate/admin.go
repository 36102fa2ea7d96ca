package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/acmegate/acmegate/store"
)

// storeFlags locate the database for operator commands that work on it
// directly, on the gateway's host.
type storeFlags struct {
	config, data, db string
}

func (f *storeFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.config, "config", "", "YAML configuration file")
	cmd.PersistentFlags().StringVar(&f.data, "data", "", "data folder (default ./data)")
	cmd.PersistentFlags().StringVar(&f.db, "db", "", "database URL (default SQLite in the data folder)")
}

// open loads the configuration, applies the flags and opens the store.
func (f *storeFlags) open(ctx context.Context) (*store.Store, Config, error) {
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
