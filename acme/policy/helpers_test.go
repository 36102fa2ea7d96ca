package policy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/acme/policy"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

// epoch is where fake clocks start: whole seconds, as the store keeps.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock moves only when told to.
type fakeClock = storetest.Clock

func newClock() *fakeClock { return storetest.NewClock(epoch) }

// openStore returns a fresh SQLite store whose row times come from clock.
func openStore(t *testing.T, clock *fakeClock) *store.Store {
	t.Helper()
	return storetest.OpenWith(t, store.SQLite, store.Options{Now: clock.Now})
}

// engineFor parses text and returns an engine with it in force as
// version 1.
func engineFor(t *testing.T, text string) *policy.Engine {
	t.Helper()
	doc, err := policy.Parse([]byte(text))
	if err != nil {
		t.Fatalf("parsing the policy: %v", err)
	}
	e := policy.New(policy.Options{})
	if err := e.Install(doc, 1); err != nil {
		t.Fatalf("installing the policy: %v", err)
	}
	return e
}

// noUsage is a Counter that has seen nothing.
type noUsage struct{}

func (noUsage) Recent(context.Context, policy.Usage, time.Time, int) ([]time.Time, error) {
	return nil, nil
}

// wantProblem fails the test unless err is a problem of type want whose
// detail holds every fragment.
func wantProblem(t *testing.T, err error, want problem.Type, fragments ...string) *problem.Error {
	t.Helper()
	var pe *problem.Error
	if !errors.As(err, &pe) {
		t.Fatalf("got error %v, want a %s problem", err, want)
	}
	if pe.Type != want {
		t.Fatalf("got problem %s (%s), want %s", pe.Type, pe.Detail, want)
	}
	for _, f := range fragments {
		if !strings.Contains(pe.Detail, f) {
			t.Errorf("detail %q: want it to contain %q", pe.Detail, f)
		}
	}
	return pe
}

func dns(names ...string) []policy.Identifier {
	out := make([]policy.Identifier, 0, len(names))
	for _, n := range names {
		out = append(out, policy.Identifier{Type: policy.TypeDNS, Value: n})
	}
	return out
}
