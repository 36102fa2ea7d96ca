package solver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/acmegate/acmegate/acme/client"
)

// Token answers tkauth-01 challenges with {"tkauth": "<token>"}. A token
// is single-use at acmegate; File lets a rotated token (a projected
// Kubernetes service account token) be picked up at each use. The zero
// value refuses every challenge.
type Token struct {
	// Value is the token, used when File is empty.
	Value string
	// File, when set, holds the token; it is read at every Present and
	// surrounding white space is dropped.
	File string
}

// Present returns the payload carrying the token. It reads File when set
// and fails when the token is empty.
func (t Token) Present(
	context.Context,
	*client.Authorization,
	*client.Challenge,
) (any, func(), error) {
	tok := t.Value
	if t.File != "" {
		raw, err := os.ReadFile(t.File)
		if err != nil {
			return nil, nil, fmt.Errorf("solver: reading the token: %w", err)
		}
		tok = strings.TrimSpace(string(raw))
	}
	if tok == "" {
		return nil, nil, errors.New("solver: the token is empty")
	}
	return map[string]string{"tkauth": tok}, func() {}, nil
}

// Close does nothing.
func (Token) Close() {}
