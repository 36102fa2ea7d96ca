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
