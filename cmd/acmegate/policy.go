package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/acmegate/acmegate/acme/policy"
	"github.com/acmegate/acmegate/store"
)

// policyReloadInterval is how often a running gateway looks for a newer
// policy version.
const policyReloadInterval = 30 * time.Second

// startPolicy loads the newest saved policy version and keeps reloading it
// until ctx ends. A version that does not load at start is an error: the
// gateway must not start on a policy other than the one saved.
func startPolicy(ctx context.Context, st *store.Store, log *slog.Logger) (*policy.Engine, error) {
	engine := policy.New(policy.Options{Store: st, Logger: log})
	if _, err := engine.Reload(ctx); err != nil {
		return nil, fmt.Errorf("loading the issuance policy: %w", err)
	}
	log.Info("issuance policy loaded", "version", engine.Version(),
		"rules", len(engine.Document().Rules))
	go engine.Run(ctx, policyReloadInterval)
	return engine, nil
}

func policyCommand() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Manage the versioned issuance policy: rules, exceptions, dry runs",
		Long: `The issuance policy is a YAML document of rules and exceptions (see the
acme/policy package documentation). Each "policy set" saves a new version
with an audit event; running gateways pick it up within 30 seconds.`,
	}
	sf.register(cmd)
	cmd.AddCommand(policySetCommand(&sf), policyShowCommand(&sf), policyVersionsCommand(&sf),
		policyTestCommand(&sf), policyExceptionsCommand(&sf))
	return cmd
}

func policySetCommand(sf *storeFlags) *cobra.Command {
	author := os.Getenv("USER")
	cmd := &cobra.Command{
		Use:   "set FILE",
		Short: "Validate a policy document and save it as the next version",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(author) == "" {
				return errors.New("--author is required: say who makes the change")
			}
			text, doc, err := readPolicyFile(args[0])
			if err != nil {
				return err
			}
			st, cfg, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			warnPolicy(cmd.ErrOrStderr(), doc, cfg, time.Now())
			v, err := policy.Save(cmd.Context(), st, text, author)
			if errors.Is(err, policy.ErrUnchanged) {
				fmt.Fprintf(cmd.OutOrStdout(), "unchanged: the document is version %d\n", v)
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "saved policy version %d (%d rules, %d exceptions)\n",
				v, len(doc.Rules), len(doc.Exceptions))
			return nil
		},
	}
	cmd.Flags().StringVar(&author, "author", author, "who makes the change (default $USER)")
	return cmd
}

// readPolicyFile reads and parses a candidate document.
func readPolicyFile(path string) ([]byte, *policy.Document, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading policy: %w", err)
	}
	doc, err := policy.Parse(text)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return text, doc, nil
}

// warnPolicy points out what is valid but probably a mistake: profiles the
// configuration does not offer and exceptions that have already lapsed.
func warnPolicy(w io.Writer, doc *policy.Document, cfg Config, now time.Time) {
	for _, r := range doc.Rules {
		for _, p := range r.Profiles {
			if _, ok := cfg.Profiles[p]; !ok {
				fmt.Fprintf(w, "warning: rule %s allows profile %q, which the configuration does "+
					"not offer\n", r.Name, p)
			}
		}
	}
	for _, x := range doc.Exceptions {
		if !x.InForce(now) {
			fmt.Fprintf(w, "warning: exception %s has already lapsed\n", x.Label())
		}
	}
}

func policyShowCommand(sf *storeFlags) *cobra.Command {
	var version int
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print a saved policy version (default the newest)",
		Args:  cobra.NoArgs,
		RunE: sf.runE(func(cmd *cobra.Command, _ []string, st *store.Store) error {
			row, err := loadPolicyVersion(cmd.Context(), st, version)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "# policy version %d, saved by %s at %s, sha256 %s\n", row.Version,
				row.Author, row.CreatedAt.UTC().Format(time.RFC3339), row.SHA256)
			_, err = io.WriteString(out, row.Document)
			return err
		}),
	}
	cmd.Flags().IntVar(&version, "version", 0, "version to print (default the newest)")
	return cmd
}

// loadPolicyVersion loads the given version, or the newest for 0.
func loadPolicyVersion(ctx context.Context, st *store.Store,
	version int) (*store.PolicyVersion, error) {
	r := st.Read(ctx)
	var row *store.PolicyVersion
	var err error
	if version == 0 {
		row, err = r.LatestPolicy()
	} else {
		row, err = r.Policy(version)
	}
	if errors.Is(err, store.ErrNotFound) {
		if version == 0 {
			return nil, errors.New("no policy version has been saved; the built-in rule is in force")
		}
		return nil, fmt.Errorf("policy version %d does not exist", version)
	}
	return row, err
}

func policyVersionsCommand(sf *storeFlags) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "versions",
		Short: "List saved policy versions, newest first",
		Args:  cobra.NoArgs,
		RunE: sf.runE(func(cmd *cobra.Command, _ []string, st *store.Store) error {
			rows, err := st.Read(cmd.Context()).PolicyVersions(limit)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "VERSION\tAUTHOR\tSAVED\tSHA256")
			for _, r := range rows {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", r.Version, r.Author,
					r.CreatedAt.UTC().Format(time.RFC3339), r.SHA256)
			}
			return w.Flush()
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "how many versions to list")
	return cmd
}

func policyTestCommand(sf *storeFlags) *cobra.Command {
	var days, limit int
	cmd := &cobra.Command{
		Use:   "test FILE",
		Short: "Dry run: decide recent orders under FILE and list those that would change",
		Long: `test decides the orders stored in the last --days days again, under the
policy in force and under FILE, and lists every order the two decide
differently. Nothing is saved. Refused requests never became orders, so a
loosened policy shows no change for them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if days < 1 {
				return errors.New("--days must be at least 1")
			}
			_, doc, err := readPolicyFile(args[0])
			if err != nil {
				return err
			}
			st, _, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			current := policy.New(policy.Options{Store: st})
			if _, err := current.Reload(cmd.Context()); err != nil {
				return err
			}
			candidate := policy.New(policy.Options{})
			if err := candidate.Install(doc, current.Version()+1); err != nil {
				return err
			}
			now := time.Now().UTC()
			rep, err := policy.Replay(cmd.Context(), st, current, candidate, policy.ReplayOptions{
				Since: now.Add(-time.Duration(days) * 24 * time.Hour), Until: now, Limit: limit})
			if err != nil {
				return err
			}
			return printReplay(cmd.OutOrStdout(), rep, current.Version(), days)
		},
	}
	cmd.Flags().IntVar(&days, "days", 7, "replay the orders of this many past days")
	cmd.Flags().IntVar(&limit, "limit", 10000, "replay at most this many orders")
	return cmd
}

func printReplay(out io.Writer, rep *policy.Report, version, days int) error {
	fmt.Fprintf(out, "replayed %d orders of the last %d days against version %d: %d would change\n",
		rep.Replayed, days, version, len(rep.Changes))
	if rep.Truncated {
		fmt.Fprintln(out, "warning: more orders matched than --limit; the oldest were replayed")
	}
	if len(rep.Changes) == 0 {
		return nil
	}
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ORDER\tCREATED\tACCOUNT\tIDENTIFIERS\tIN FORCE\tCANDIDATE\tCANDIDATE DETAIL")
	for _, c := range rep.Changes {
		ids := make([]string, len(c.Identifiers))
		for i, id := range c.Identifiers {
			ids[i] = id.Value
		}
		detail := c.Candidate.Detail
		if detail == "" {
			detail = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.OrderID,
			c.CreatedAt.UTC().Format(time.RFC3339), c.AccountID,
			clip(strings.Join(ids, ","), 60), c.Current, c.Candidate, clip(detail, 200))
	}
	return w.Flush()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func policyExceptionsCommand(sf *storeFlags) *cobra.Command {
	var version int
	cmd := &cobra.Command{
		Use:   "exceptions",
		Short: "List the exceptions of a policy version: in force, then lapsed",
		Args:  cobra.NoArgs,
		RunE: sf.runE(func(cmd *cobra.Command, _ []string, st *store.Store) error {
			row, err := loadPolicyVersion(cmd.Context(), st, version)
			if err != nil {
				return err
			}
			doc, err := policy.Parse([]byte(row.Document))
			if err != nil {
				return fmt.Errorf("policy version %d: %w", row.Version, err)
			}
			return printExceptions(cmd.OutOrStdout(), doc.Exceptions, row.Version, time.Now())
		}),
	}
	cmd.Flags().IntVar(&version, "version", 0, "policy version (default the newest)")
	return cmd
}

func printExceptions(out io.Writer, xs []policy.Exception, version int, now time.Time) error {
	var inForce, lapsed []policy.Exception
	for _, x := range xs {
		if x.InForce(now) {
			inForce = append(inForce, x)
		} else {
			lapsed = append(lapsed, x)
		}
	}
	byExpiry := func(a, b policy.Exception) int { return a.Expires.Compare(b.Expires) }
	slices.SortStableFunc(inForce, byExpiry)
	slices.SortStableFunc(lapsed, byExpiry)
	fmt.Fprintf(out, "policy version %d: %d exceptions in force, %d lapsed\n", version,
		len(inForce), len(lapsed))
	if len(xs) == 0 {
		return nil
	}
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STATE\tRULE\tIDENTIFIER\tACCOUNT\tLIFTS\tOWNER\tEXPIRES\tREASON")
	for _, group := range []struct {
		state string
		xs    []policy.Exception
	}{{"in force", inForce}, {"lapsed", lapsed}} {
		for _, x := range group.xs {
			lifts := strings.Join(x.Lifts, ",")
			if lifts == "" {
				lifts = policy.LiftIdentifiers
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", group.state, x.Rule, dash(x.Identifier),
				dash(x.AccountID), lifts, x.Owner, x.Expires.UTC().Format(time.RFC3339),
				clip(x.Reason, 80))
		}
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
