package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acmegate/acmegate/store"
)

// ErrUnchanged is returned by [Save] when the document is byte for byte
// the newest saved version.
var ErrUnchanged = errors.New("policy: the document is the same as the newest version")

// Engine holds the policy in force and decides orders with it. It is safe
// for concurrent use: decisions read an immutable snapshot, and
// [Engine.Install] and [Engine.Reload] swap the snapshot atomically.
type Engine struct {
	store *store.Store
	log   *slog.Logger

	active   atomic.Pointer[active]
	reloadMu sync.Mutex
}

// active is one installed version, compiled for matching.
type active struct {
	doc       *Document
	version   int
	rules     map[string]*compiled
	byAccount map[string]*compiled
	byEAB     map[string]*compiled
	def       *compiled
}

// builtIn is the rule in force for accounts no rule binds when the
// document has no default rule: it restricts nothing.
var builtIn = &compiled{Rule: &Rule{Name: BuiltInRule, Owner: "acmegate"}}

// Options are the dependencies of [New].
type Options struct {
	// Store holds the saved versions that [Engine.Reload] reads; nil makes
	// an engine that knows only what [Engine.Install] gives it.
	Store *store.Store
	// Logger receives reload events; nil discards them.
	Logger *slog.Logger
}

// New returns an engine with the empty document in force (version 0):
// every account falls under [BuiltInRule] until a version is installed or
// loaded.
func New(opts Options) *Engine {
	e := &Engine{store: opts.Store, log: opts.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log = e.log.With("component", "policy")
	a, _ := compileDocument(&Document{}, 0)
	e.active.Store(a)
	return e
}

// Install validates doc and puts it in force as the given version. On error
// the policy in force stays as it was.
func (e *Engine) Install(doc *Document, version int) error {
	a, err := compileDocument(doc, version)
	if err != nil {
		return err
	}
	e.active.Store(a)
	return nil
}

// Version returns the version in force; 0 means none was installed.
func (e *Engine) Version() int { return e.active.Load().version }

// Document returns the document in force. Callers must not modify it.
func (e *Engine) Document() *Document { return e.active.Load().doc }

// Reload reads the newest saved version and installs it when it is newer
// than the one in force, reporting whether it did. A version that no
// longer parses is an error and leaves the policy in force unchanged.
func (e *Engine) Reload(ctx context.Context) (bool, error) {
	if e.store == nil {
		return false, errors.New("policy: the engine has no store to reload from")
	}
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	r := e.store.Read(ctx)
	latest, err := r.LatestPolicyVersion()
	if err != nil {
		return false, err
	}
	if latest <= e.Version() {
		return false, nil
	}
	row, err := r.Policy(latest)
	if err != nil {
		return false, err
	}
	doc, err := Parse([]byte(row.Document))
	if err != nil {
		return false, fmt.Errorf("policy: version %d: %w", latest, err)
	}
	if err := e.Install(doc, latest); err != nil {
		return false, err
	}
	e.log.Info("policy version installed", "version", latest, "author", row.Author,
		"rules", len(doc.Rules), "exceptions", len(doc.Exceptions))
	return true, nil
}

// Run calls [Engine.Reload] every interval until ctx ends, so a saved
// change reaches every replica without a restart. Failures are logged and
// the policy in force stays.
func (e *Engine) Run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, err := e.Reload(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("reloading the policy failed; the version in force stays",
				"version", e.Version(), "error", err)
		}
	}
}

func compileDocument(doc *Document, version int) (*active, error) {
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	a := &active{doc: doc, version: version, rules: map[string]*compiled{},
		byAccount: map[string]*compiled{}, byEAB: map[string]*compiled{}, def: builtIn}
	for i := range doc.Rules {
		c, err := compileRule(&doc.Rules[i])
		if err != nil {
			return nil, fmt.Errorf("policy: rules[%d].%w", i, err)
		}
		a.rules[c.Name] = c
		switch m := c.Match; {
		case m.AccountID != "":
			a.byAccount[m.AccountID] = c
		case m.EABKeyID != "":
			a.byEAB[m.EABKeyID] = c
		default:
			a.def = c
		}
	}
	return a, nil
}

// ruleFor selects the rule of an account: bound to the account, else to
// its EAB key, else the default.
func (a *active) ruleFor(accountID, eabKeyID string) *compiled {
	if c, ok := a.byAccount[accountID]; ok && accountID != "" {
		return c
	}
	if c, ok := a.byEAB[eabKeyID]; ok && eabKeyID != "" {
		return c
	}
	return a.def
}

// Save validates text as a policy document and stores it as the next
// version with a policy.changed audit event naming the author, the
// document's hash, its rules and the exceptions added and removed since
// the previous version, all in one transaction. It returns the new
// version, or [ErrUnchanged] with the newest version when text equals it.
func Save(ctx context.Context, st *store.Store, text []byte, author string) (int, error) {
	doc, err := Parse(text)
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(text)
	row := &store.PolicyVersion{Document: string(text), SHA256: hex.EncodeToString(sum[:]),
		Author: author}
	unchanged := 0
	err = st.Transact(ctx, func(tx *store.Tx) error {
		prev, err := previousDocument(tx)
		if err != nil {
			return err
		}
		if prev.row != nil && prev.row.SHA256 == row.SHA256 {
			unchanged = prev.row.Version
			return nil
		}
		added, removed := diffExceptions(prev.doc, doc)
		return tx.SavePolicy(row, store.Event{
			Type: EventChanged, Actor: author, Outcome: "success",
			Reason: fmt.Sprintf("policy version saved by %s", author),
			Data: map[string]any{"sha256": row.SHA256, "previous_version": prev.version(),
				"rules": ruleSummary(doc), "exceptions_added": added,
				"exceptions_removed": removed},
		})
	})
	if err != nil {
		return 0, err
	}
	if unchanged != 0 {
		return unchanged, ErrUnchanged
	}
	return row.Version, nil
}

type previous struct {
	row *store.PolicyVersion
	doc *Document
}

func (p previous) version() int {
	if p.row == nil {
		return 0
	}
	return p.row.Version
}

// previousDocument loads the newest saved version, if any. A version that
// no longer parses counts as empty for the exception diff.
func previousDocument(tx *store.Tx) (previous, error) {
	row, err := tx.LatestPolicy()
	if errors.Is(err, store.ErrNotFound) {
		return previous{doc: &Document{}}, nil
	}
	if err != nil {
		return previous{}, err
	}
	doc, err := Parse([]byte(row.Document))
	if err != nil {
		doc = &Document{}
	}
	return previous{row: row, doc: doc}, nil
}

// ruleSummary lists each rule as "name (owner: x, binds y)" for the audit.
func ruleSummary(doc *Document) []string {
	out := make([]string, 0, len(doc.Rules))
	for _, r := range doc.Rules {
		out = append(out, fmt.Sprintf("%s (owner: %s, binds %s)", r.Name, r.Owner, r.Match.key()))
	}
	return out
}

// diffExceptions returns the labels and reasons of exceptions in next but
// not in prev, and the other way round.
func diffExceptions(prev, next *Document) ([]string, []string) {
	key := func(x Exception) string { return x.Label() + " reason: " + x.Reason }
	old := map[string]bool{}
	for _, x := range prev.Exceptions {
		old[key(x)] = true
	}
	added := []string{}
	seen := map[string]bool{}
	for _, x := range next.Exceptions {
		k := key(x)
		seen[k] = true
		if !old[k] {
			added = append(added, k)
		}
	}
	removed := []string{}
	for _, x := range prev.Exceptions {
		if k := key(x); !seen[k] {
			removed = append(removed, k)
		}
	}
	return added, removed
}
