package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/dnspersist"
	"github.com/acmegate/acmegate/store"
)

// validationJob is one queued validation attempt.
type validationJob struct {
	challengeID string
	req         challenges.Request
	typ         string
	accountID   string
	authzID     string
	wildcard    bool
}

// RespondChallenge starts validation of a pending challenge (RFC 8555,
// Section 7.5.1) and waits up to the configured bound for its result. A
// challenge that is already processing, valid or invalid is returned as it
// is: a client's retry never starts a second validation.
func (e *Engine) RespondChallenge(ctx context.Context, acct *Account, challengeID string,
	payload json.RawMessage) (*Challenge, string, error) {
	r := e.store.Read(ctx)
	chal, err := r.Challenge(challengeID)
	if err != nil {
		return nil, "", storeErr(err, "challenge")
	}
	authz, err := r.Authorization(chal.AuthzID)
	if err != nil {
		return nil, "", storeErr(err, "challenge")
	}
	if authz.AccountID != acct.ID {
		return nil, "", notFound("challenge")
	}
	now := e.clock.Now()
	if chal.Status != StatusPending || authz.Status != StatusPending {
		c := challengeFromModel(chal)
		return &c, authz.ID, nil
	}
	if !now.Before(authz.Expires) {
		return nil, "", problem.New(problem.Malformed, "the authorization has expired")
	}
	if _, ok := e.validators[chal.Type]; !ok {
		return nil, "", problem.New(problem.Malformed, "challenge type %s is not enabled", chal.Type)
	}

	job := e.validationJobFor(chal, authz, acct.Thumbprint, payload)

	// 1. Claim the challenge: pending to processing. Only one request wins.
	err = e.store.TransactProgress(ctx, func(tx *store.Tx) error {
		if err := tx.SetChallengeStatus(chal.ID, []string{StatusPending}, StatusProcessing, nil); err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: EventChallengeStarted, Actor: acct.ID,
			Subject: "challenge:" + chal.ID, Outcome: OutcomeSuccess,
			Data: map[string]any{"type": chal.Type, "identifier": authz.IdentifierValue,
				"authz_id": authz.ID}})
	})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return nil, "", err
	}
	if err == nil {
		done := e.waiter(chal.ID)
		if !e.enqueue(job) {
			return nil, "", e.unclaim(ctx, chal.ID)
		}
		// 2. Wait a short, bounded time so fast validations answer in one
		// round trip; otherwise the client polls.
		timer := time.NewTimer(e.cfg.ValidationWait)
		select {
		case <-done:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
	}
	fresh, err := e.store.Read(ctx).Challenge(chal.ID)
	if err != nil {
		return nil, "", err
	}
	c := challengeFromModel(fresh)
	return &c, authz.ID, nil
}

// validationJobFor builds the validation of chal for the account of authz,
// whose key has the given thumbprint.
func (e *Engine) validationJobFor(chal *store.Challenge, authz *store.Authorization, thumbprint string,
	payload []byte) validationJob {
	return validationJob{
		challengeID: chal.ID,
		typ:         chal.Type,
		accountID:   authz.AccountID,
		authzID:     authz.ID,
		wildcard:    authz.Wildcard,
		req: challenges.Request{
			Identifier:       challenges.Identifier{Type: authz.IdentifierType, Value: authz.IdentifierValue},
			Token:            chal.Token,
			KeyAuthorization: keyAuthorization(chal.Token, thumbprint),
			AccountURI:       e.cfg.AccountURLPrefix + authz.AccountID,
			Payload:          payload,
			Wildcard:         authz.Wildcard,
		},
	}
}

// waiter returns a channel closed when the challenge's validation ends.
func (e *Engine) waiter(challengeID string) chan struct{} {
	e.waitersM.Lock()
	defer e.waitersM.Unlock()
	ch, ok := e.waiters[challengeID]
	if !ok {
		ch = make(chan struct{})
		e.waiters[challengeID] = ch
	}
	return ch
}

func (e *Engine) wake(challengeID string) {
	e.waitersM.Lock()
	defer e.waitersM.Unlock()
	if ch, ok := e.waiters[challengeID]; ok {
		close(ch)
		delete(e.waiters, challengeID)
	}
}

// enqueue hands a job to the worker pool without blocking; it reports false
// when the queue is full or the engine is stopping.
func (e *Engine) enqueue(job validationJob) bool {
	select {
	case <-e.stop:
		return false
	default:
	}
	e.inflight.Add(1)
	select {
	case e.queue <- job:
		return true
	default:
		e.inflight.Done()
		return false
	}
}

// unclaim returns a challenge to pending when its validation could not be
// queued, and tells the client to retry later.
func (e *Engine) unclaim(ctx context.Context, challengeID string) error {
	err := e.store.Transact(ctx, func(tx *store.Tx) error {
		return tx.SetChallengeStatus(challengeID, []string{StatusProcessing}, StatusPending, nil)
	})
	if err != nil {
		return err
	}
	return &problem.Error{Type: problem.RateLimited, RetryAfter: 2,
		Detail: "the validation queue is full; retry the challenge shortly"}
}

func (e *Engine) validationWorker() {
	for {
		select {
		case <-e.stop:
			// Drain what was queued before the stop so nothing stays
			// processing.
			for {
				select {
				case job := <-e.queue:
					e.runValidation(job)
				default:
					return
				}
			}
		case job := <-e.queue:
			e.runValidation(job)
		}
	}
}

// runValidation performs one validation and records its outcome.
func (e *Engine) runValidation(job validationJob) {
	defer e.inflight.Done()
	defer e.wake(job.challengeID)
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.ValidationTimeout)
	defer cancel()
	if d := e.validationDelay(); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	start, wallStart := e.clock.Now(), time.Now()
	record, verr := e.validate(ctx, job)
	if verr == nil && e.caa != nil {
		// RFC 8659, Section 3: CAA is checked before the name counts as
		// validated.
		answers, err := e.caa.Check(ctx, job.req.Identifier, job.wildcard, job.req.AccountURI, job.typ)
		record.Answers = append(record.Answers, answers...)
		verr = err
	}
	e.metrics.observeValidation(job.typ, outcomeOf(verr), time.Since(wallStart))
	if err := e.recordValidation(job, record, verr, start); err != nil {
		e.log.Error("recording validation result failed", "challenge_id", job.challengeID,
			"authz_id", job.authzID, "error", err)
		return
	}
	outcome := OutcomeSuccess
	if verr != nil {
		outcome = OutcomeFailure
	}
	e.log.Info("validation finished", "challenge_id", job.challengeID, "authz_id", job.authzID,
		"account_id", job.accountID, "type", job.typ, "identifier", job.req.Identifier.Value,
		"outcome", outcome, "duration", e.clock.Now().Sub(start))
}

// validate runs the validator of the job's challenge type. A panic in it,
// such as a parser failing on a hostile answer, fails this validation
// with serverInternal instead of ending the process (SECURITY-CATALOGUE
// A13); the named results let the deferred recover set the error.
func (e *Engine) validate(ctx context.Context, job validationJob) (record challenges.Record, err error) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("validator panicked", "challenge_id", job.challengeID, "type", job.typ,
				"panic", r)
			err = fmt.Errorf("state: %s validator panicked: %v", job.typ, r)
		}
	}()
	if job.typ == dnspersist.Type {
		retired, err := e.store.Read(ctx).RetiredAccountKeys(job.accountID)
		if err != nil {
			return challenges.Record{}, err
		}
		job.req.RetiredThumbprints = retired
	}
	return e.validators[job.typ].Validate(ctx, job.req)
}

func (e *Engine) recordValidation(job validationJob, record challenges.Record, verr error, start time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := e.clock.Now().UTC()
	return e.store.TransactProgress(ctx, func(tx *store.Tx) error {
		if verr == nil {
			err := tx.SetChallengeStatus(job.challengeID, []string{StatusProcessing}, StatusValid,
				map[string]any{"validated_at": now, "record": mustJSON(record)})
			if err != nil {
				return err
			}
			err = tx.SetAuthorizationStatus(job.authzID, []string{StatusPending}, StatusValid)
			if err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
			// A valid authorization is reusable for its valid lifetime, but
			// not past what the validation vouches for, such as a
			// dns-persist-01 record's persistUntil
			// (draft-ietf-acme-dns-persist-02, Section 4.1).
			expires := now.Add(e.cfg.ValidAuthzLifetime)
			if !record.ValidUntil.IsZero() && record.ValidUntil.Before(expires) {
				expires = record.ValidUntil
			}
			if err := tx.ExtendAuthorization(job.authzID, expires); err != nil {
				return err
			}
			if err := e.promoteOrdersOf(tx, job.authzID, now); err != nil {
				return err
			}
			return tx.Audit(store.Event{Type: EventChallengeValid, Actor: job.accountID,
				Subject: "challenge:" + job.challengeID, Outcome: OutcomeSuccess,
				Data: map[string]any{"type": job.typ, "identifier": job.req.Identifier.Value,
					"authz_id": job.authzID, "record": record,
					"duration_ms": now.Sub(start).Milliseconds()}})
		}
		prob := validationProblem(verr, job.req.Identifier)
		err := tx.SetChallengeStatus(job.challengeID, []string{StatusProcessing}, StatusInvalid,
			map[string]any{"error": mustJSON(prob.ToDocument()), "record": mustJSON(record)})
		if err != nil {
			return err
		}
		err = tx.SetAuthorizationStatus(job.authzID, []string{StatusPending}, StatusInvalid)
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
		if err := e.invalidateOrdersOf(tx, job.authzID, "validation of "+job.req.Identifier.Value+
			" failed: "+prob.Detail); err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: EventChallengeInvalid, Actor: job.accountID,
			Subject: "challenge:" + job.challengeID, Outcome: OutcomeFailure, Reason: prob.Detail,
			Data: map[string]any{"type": job.typ, "identifier": job.req.Identifier.Value,
				"authz_id": job.authzID, "problem": string(prob.Type), "record": record}})
	})
}

// validationProblem turns a validator's error into the problem stored on
// the challenge. Validation failures are not HTTP errors: the challenge
// and the authorization carry them (RFC 8555, Section 7.5.1).
func validationProblem(err error, id challenges.Identifier) *problem.Error {
	var ve *challenges.Error
	if errors.As(err, &ve) {
		p := problem.New(problem.Type(ve.Kind), "%s", ve.Detail)
		p.Identifier = &problem.Identifier{Type: id.Type, Value: id.Value}
		return p
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return problem.New(problem.Connection, "validation of %s timed out", id.Value)
	}
	return problem.New(problem.ServerInternal, "validation of %s failed unexpectedly", id.Value)
}

// keyAuthorization is the token joined to the account key thumbprint
// (RFC 8555, Section 8.1).
func keyAuthorization(token, thumbprint string) string { return token + "." + thumbprint }

// GetChallenge loads a challenge of acct and the ID of its authorization.
func (e *Engine) GetChallenge(ctx context.Context, acct *Account, challengeID string) (*Challenge, string, error) {
	r := e.store.Read(ctx)
	chal, err := r.Challenge(challengeID)
	if err != nil {
		return nil, "", storeErr(err, "challenge")
	}
	authz, err := r.Authorization(chal.AuthzID)
	if err != nil {
		return nil, "", storeErr(err, "challenge")
	}
	if authz.AccountID != acct.ID {
		return nil, "", notFound("challenge")
	}
	c := challengeFromModel(chal)
	return &c, authz.ID, nil
}

// payloadFreeTypes are the challenge types whose validation needs nothing
// the client posted, so an interrupted one can simply run again.
var payloadFreeTypes = map[string]bool{
	challenges.TypeHTTP01: true, challenges.TypeDNS01: true, challenges.TypeTLSALPN01: true,
	dnspersist.Type: true,
}

// errValidationInterrupted fails a recovered validation that cannot be run
// again because the client's payload is not stored.
var errValidationInterrupted = errors.New("state: the validation was interrupted by a restart")

// RecoverValidations completes validations that a crash interrupted:
// challenges processing since before olderThan ago (and at least one
// validation timeout, so that one still running on another replica is
// left alone). Types that need no client payload are validated again; the
// others, and those whose authorization has expired, become invalid with
// serverInternal, so that the client orders again instead of polling a
// challenge that never ends. It returns how many challenges it handled.
func (e *Engine) RecoverValidations(ctx context.Context, olderThan time.Duration) (int, error) {
	olderThan = max(olderThan, e.cfg.ValidationTimeout+e.cfg.Chaos.MaxValidationDelay)
	now := e.clock.Now()
	rows, err := e.store.Read(ctx).StuckChallenges(now.Add(-olderThan), 100)
	if err != nil {
		return 0, err
	}
	for i := range rows {
		e.recoverValidation(ctx, &rows[i], now)
	}
	return len(rows), nil
}

func (e *Engine) recoverValidation(ctx context.Context, chal *store.Challenge, now time.Time) {
	log := e.log.With("challenge_id", chal.ID, "authz_id", chal.AuthzID)
	r := e.store.Read(ctx)
	authz, err := r.Authorization(chal.AuthzID)
	if err != nil {
		log.Error("loading the authorization of a stuck challenge failed", "error", err)
		return
	}
	acct, err := r.Account(authz.AccountID)
	if err != nil {
		log.Error("loading the account of a stuck challenge failed", "error", err)
		return
	}
	job := e.validationJobFor(chal, authz, acct.KeyThumbprint, nil)
	_, known := e.validators[chal.Type]
	if !known || !payloadFreeTypes[chal.Type] || !now.Before(authz.Expires) {
		if err := e.recordValidation(job, challenges.Record{}, errValidationInterrupted, now); err != nil {
			log.Error("failing a stuck challenge failed", "error", err)
			return
		}
		log.Warn("an interrupted validation cannot run again; the challenge is now invalid", "type", chal.Type)
		return
	}
	// Touch the challenge so that the next round, here or on another
	// replica, leaves it to this validation; a full queue leaves it for
	// that round.
	err = e.store.Transact(ctx, func(tx *store.Tx) error {
		return tx.SetChallengeStatus(chal.ID, []string{StatusProcessing}, StatusProcessing, nil)
	})
	if err != nil {
		log.Error("claiming a stuck challenge failed", "error", err)
		return
	}
	if !e.enqueue(job) {
		log.Warn("validation queue full; the stuck challenge waits for the next round")
	}
}
