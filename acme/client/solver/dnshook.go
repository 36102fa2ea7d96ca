package solver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"github.com/acmegate/acmegate/acme/client"
)

// DefaultHookTimeout bounds one run of a [DNSHook] command.
const DefaultHookTimeout = 2 * time.Minute

// DNSHook answers dns-01 challenges (RFC 8555, Section 8.4) by running an
// operator's command with "sh -c", which must publish (and later remove)
// the TXT record. The command finds in its environment:
//
//	ACMEGATE_ACTION     present, or cleanup once the authorization is decided
//	ACMEGATE_DOMAIN     the name being validated (a wildcard's base name)
//	ACMEGATE_TXT_NAME   _acme-challenge.<domain>
//	ACMEGATE_TXT_VALUE  the record's value
//
// On present it must exit 0 only once the record can be seen by the CA's
// resolvers. Its output goes to Output.
type DNSHook struct {
	// Command is the shell command.
	Command string
	// ACME computes the record values.
	ACME *client.Client
	// Output receives the command's standard output and error; nil
	// discards them.
	Output io.Writer
	// Timeout bounds one run; zero means DefaultHookTimeout.
	Timeout time.Duration
	// Log receives cleanup failures; nil discards them.
	Log *slog.Logger
}

// Present runs the command with ACMEGATE_ACTION=present and returns a nil
// payload ({}); the withdraw function runs it with cleanup.
func (d DNSHook) Present(
	ctx context.Context,
	authz *client.Authorization,
	ch *client.Challenge,
) (any, func(), error) {
	// A wildcard authorization's identifier is already its base name
	// (RFC 8555, Section 7.1.4).
	domain := authz.Identifier.Value
	env := []string{
		"ACMEGATE_DOMAIN=" + domain,
		"ACMEGATE_TXT_NAME=_acme-challenge." + domain,
		"ACMEGATE_TXT_VALUE=" + d.ACME.DNS01Value(ch.Token),
	}
	if err := d.run(ctx, "present", env); err != nil {
		return nil, nil, err
	}
	withdraw := func() {
		// The caller's context may be over; removing the record still
		// matters.
		if err := d.run(context.Background(), "cleanup", env); err != nil && d.Log != nil {
			d.Log.Warn("dns hook cleanup failed", "identifier", domain, "error", err)
		}
	}
	return nil, withdraw, nil
}

// run runs the command for action with env added.
func (d DNSHook) run(ctx context.Context, action string, env []string) error {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", d.Command)
	cmd.Env = append(append(os.Environ(), "ACMEGATE_ACTION="+action), env...)
	cmd.Stdout, cmd.Stderr = d.Output, d.Output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("solver: dns hook (%s): %w", action, err)
	}
	return nil
}

// Close does nothing.
func (DNSHook) Close() {}
