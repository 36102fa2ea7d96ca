package client

import (
	"context"
	"fmt"
	"time"
)

// poll calls fetch until it reports finished or fails, waiting between
// calls for what the server's Retry-After asks (as fetch returns it) or
// the poll interval. It gives up after the poll timeout or maxPolls calls,
// and when ctx is done.
func (c *Client) poll(
	ctx context.Context,
	what string,
	fetch func(ctx context.Context) (retry time.Duration, finished bool, err error),
) error {
	ctx, cancel := context.WithTimeout(ctx, c.pollTimeout)
	defer cancel()
	for range maxPolls {
		retry, finished, err := fetch(ctx)
		if err != nil || finished {
			return err
		}
		if err := sleep(ctx, c.pollWait(retry)); err != nil {
			return fmt.Errorf("client: waiting for %s: %w", what, err)
		}
	}
	return fmt.Errorf("client: %s still not done after %d polls", what, maxPolls)
}

// pollWait returns how long to wait before the next poll: the server's
// Retry-After when it sent one, within [minPollWait, MaxRetryAfter], and
// the poll interval otherwise.
func (c *Client) pollWait(retry time.Duration) time.Duration {
	if retry <= 0 {
		return c.pollInterval
	}
	return min(max(retry, minPollWait), c.maxRetry)
}

// sleep waits d, or returns the context's error when it is done first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
