package policy

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/store"
)

// ReplayOptions bound a [Replay].
type ReplayOptions struct {
	// Since and Until bound the creation times of the replayed orders.
	Since, Until time.Time
	// Limit caps how many orders are replayed; zero means 10000.
	Limit int
}

// Outcome is what one policy made of one order.
type Outcome struct {
	Allowed bool
	Rule    string
	// Problem and Detail describe a refusal.
	Problem problem.Type
	Detail  string
}

// String says "allowed by r" or "rejectedIdentifier by r".
func (o Outcome) String() string {
	if o.Allowed {
		return "allowed by " + o.Rule
	}
	return fmt.Sprintf("%s by %s", o.Problem, o.Rule)
}

// Change is a stored order that the candidate policy decides differently
// from the policy in force: allowed where the other refuses, refused for
// another reason, or decided by another rule.
type Change struct {
	OrderID     string
	AccountID   string
	CreatedAt   time.Time
	Identifiers []Identifier
	Current     Outcome
	Candidate   Outcome
}

// Report is the result of a [Replay].
type Report struct {
	// Replayed counts the orders decided under both policies.
	Replayed int
	Changes  []Change
	// Truncated is set when more orders matched than the limit allowed.
	Truncated bool
}

// Replay decides the stored orders created in the window again under the
// current and the candidate engine, as a dry run: nothing is written. Each
// order is decided as of its creation time, with rate limits counting only
// the orders and certificates that existed then, and, when it was
// finalized, its CSR key is checked too.
//
// Both outcomes are computed now, so "current" is what the policy in force
// would decide today, not what was decided at the time. Requests that
// were refused never became orders and are not replayed.
func Replay(ctx context.Context, st *store.Store, current, candidate *Engine,
	opts ReplayOptions) (*Report, error) {
	if opts.Limit <= 0 {
		opts.Limit = 10000
	}
	rep := &Report{}
	accounts := map[string]string{}
	var cursor store.OrderCursor
	for rep.Replayed < opts.Limit {
		page := min(500, opts.Limit-rep.Replayed)
		rows, err := st.Read(ctx).OrdersCreatedBetween(opts.Since, opts.Until, cursor, page)
		if err != nil {
			return nil, err
		}
		for i := range rows {
			ch, err := replayOne(ctx, st, current, candidate, &rows[i], accounts)
			if err != nil {
				return nil, err
			}
			if ch != nil {
				rep.Changes = append(rep.Changes, *ch)
			}
			rep.Replayed++
		}
		if len(rows) < page {
			return rep, nil
		}
		last := rows[len(rows)-1]
		cursor = store.OrderCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	more, err := st.Read(ctx).OrdersCreatedBetween(opts.Since, opts.Until, cursor, 1)
	if err != nil {
		return nil, err
	}
	rep.Truncated = len(more) > 0
	return rep, nil
}

func replayOne(ctx context.Context, st *store.Store, current, candidate *Engine, row *store.Order,
	accounts map[string]string) (*Change, error) {
	var ids []Identifier
	if err := json.Unmarshal([]byte(row.Identifiers), &ids); err != nil {
		return nil, fmt.Errorf("policy: decoding identifiers of order %s: %w", row.ID, err)
	}
	eab, ok := accounts[row.AccountID]
	if !ok {
		acct, err := st.Read(ctx).Account(row.AccountID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if acct != nil {
			eab = acct.EABKeyID
		}
		accounts[row.AccountID] = eab
	}
	req := OrderRequest{
		Subject: Subject{AccountID: row.AccountID, EABKeyID: eab, Identifiers: ids,
			Now: row.CreatedAt},
		Profile: row.Profile, NotBefore: row.NotBefore, NotAfter: row.NotAfter,
	}
	counter := StoreCounter{Store: st, Before: row.CreatedAt}
	cur, err := replayDecide(ctx, current, req, counter, row.CSR)
	if err != nil {
		return nil, err
	}
	cand, err := replayDecide(ctx, candidate, req, counter, row.CSR)
	if err != nil {
		return nil, err
	}
	if cur.Allowed == cand.Allowed && cur.Rule == cand.Rule && cur.Problem == cand.Problem {
		return nil, nil
	}
	return &Change{OrderID: row.ID, AccountID: row.AccountID, CreatedAt: row.CreatedAt,
		Identifiers: ids, Current: cur, Candidate: cand}, nil
}

// replayDecide decides one order under e, including its CSR key when the
// order was finalized. Only store failures are errors; refusals are
// outcomes.
func replayDecide(ctx context.Context, e *Engine, req OrderRequest, c Counter,
	csrDER []byte) (Outcome, error) {
	d, err := e.DecideOrder(ctx, req, c)
	if err == nil && len(csrDER) > 0 {
		if csr, perr := x509.ParseCertificateRequest(csrDER); perr == nil {
			err = d.CheckKey(csr.PublicKey)
		}
	}
	if err == nil {
		return Outcome{Allowed: true, Rule: d.Rule}, nil
	}
	var pe *problem.Error
	if !errors.As(err, &pe) {
		return Outcome{}, err
	}
	return Outcome{Rule: d.Rule, Problem: pe.Type, Detail: pe.Detail}, nil
}
