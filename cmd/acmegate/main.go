// Command acmegate runs the acmegate ACME gateway and its operator tools.
//
//	acmegate serve     run the gateway (creates a development CA on first start)
//	acmegate init      run the CA ceremony: offline root, online intermediate
//	acmegate version   print the version
//
// The command only wires configuration, store, signer, validators and the
// server together; protocol logic lives in the acme, ca, challenges and
// store packages.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := rootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "acmegate:", err)
		os.Exit(1)
	}
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "acmegate",
		Short:         "An ACME (RFC 8555) gateway for an internal certificate authority",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		serveCommand(), initCommand(), versionCommand(), migrateCommand(),
		eabCommand(), policyCommand(), grantsCommand(), tokenCommand(), adminCommand(),
		certsCommand(), reportCommand(), auditCommand(),
		requestCommand(),
	)
	return root
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the acmegate version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "acmegate", version)
		},
	}
}
