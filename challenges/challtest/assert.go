package challtest

import (
	"errors"
	"strings"
	"testing"

	"github.com/acmegate/acmegate/challenges"
)

// WantError fails the test unless err matches the expectation: with kind
// empty, err must be nil; otherwise err must be a *challenges.Error of that
// kind whose detail contains detailPart.
func WantError(t testing.TB, err error, kind, detailPart string) {
	t.Helper()
	if kind == "" {
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		return
	}
	var ce *challenges.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got error %v (%T), want a *challenges.Error of kind %q", err, err, kind)
	}
	if ce.Kind != kind {
		t.Fatalf("got kind %q (detail %q), want %q", ce.Kind, ce.Detail, kind)
	}
	if !strings.Contains(ce.Detail, detailPart) {
		t.Fatalf("got detail %q, want it to contain %q", ce.Detail, detailPart)
	}
}
