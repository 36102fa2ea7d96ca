package main

import (
	"fmt"

	"github.com/acmegate/acmegate/store"
	"github.com/spf13/cobra"
)

func migrateCommand() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema to this version's (serve also does it at start)",
		Long: `migrate applies the schema migrations under a database-wide lock, so it is safe
to run while replicas start. serve runs the same migrations when it opens the
database; run this explicitly before a rolling upgrade.`,
		Args: cobra.NoArgs,
		RunE: sf.runE(func(cmd *cobra.Command, _ []string, st *store.Store) error {
			v, err := st.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s database at schema version %d\n", st.Dialect(), v)
			return nil
		}),
	}
	sf.register(cmd)
	return cmd
}
