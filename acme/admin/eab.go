package admin

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

// eabKeyJSON is an EAB key as the API shows it. MACKey is set only in the
// answer to its creation.
type eabKeyJSON struct {
	ID        string     `json:"id"`
	Label     string     `json:"label"`
	Directory string     `json:"directory"`
	Reusable  bool       `json:"reusable"`
	Policy    string     `json:"policy,omitempty"`
	Bindings  int        `json:"bindings"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// MACKey is the base64url HMAC key (RFC 8555, Section 7.3.4).
	MACKey string `json:"mac_key,omitempty"`
}

func eabKeyFromModel(k *store.EABKey) eabKeyJSON {
	return eabKeyJSON{ID: k.ID, Label: k.Label, Directory: k.Directory, Reusable: k.Reusable,
		Policy: k.Policy, Bindings: k.Bindings, CreatedAt: k.CreatedAt.UTC(),
		RevokedAt: k.RevokedAt}
}

// listEABKeys answers GET /v1/eab-keys, newest first, without MAC keys.
func (s *Server) listEABKeys(w http.ResponseWriter, r *http.Request, _ *Operator) error {
	keys, err := s.store.Read(r.Context()).EABKeys()
	if err != nil {
		return err
	}
	out := make([]eabKeyJSON, 0, len(keys))
	for i := range keys {
		out = append(out, eabKeyFromModel(&keys[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"eab_keys": out})
	return nil
}

// eabKeyRequest is the body of POST /v1/eab-keys.
type eabKeyRequest struct {
	Label    string `json:"label"`
	Reusable bool   `json:"reusable"`
	// Directory defaults to "acme".
	Directory string `json:"directory"`
	// Policy names the issuance policy rule of accounts bound by the key.
	Policy string `json:"policy"`
}

// createEABKey answers POST /v1/eab-keys with the new key, its MAC key
// included: the only time the MAC key leaves the store.
func (s *Server) createEABKey(w http.ResponseWriter, r *http.Request, op *Operator) error {
	var req eabKeyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	req.Label = strings.TrimSpace(req.Label)
	if checkLabel(req.Label) != nil {
		return errorf(http.StatusBadRequest, "label is required: 1 to %d printable characters "+
			"saying who the key is for", maxLabelLength)
	}
	if req.Directory == "" {
		req.Directory = "acme"
	}
	if !s.directories[req.Directory] {
		return errorf(http.StatusBadRequest, "directory %q is not served here",
			truncate(req.Directory, 40))
	}
	if len(req.Policy) > 200 {
		return errorf(http.StatusBadRequest, "policy must be at most 200 characters")
	}
	key, err := newEABKey(s.rand, req)
	if err != nil {
		return err
	}
	err = s.store.Transact(r.Context(), func(tx *store.Tx) error {
		if err := tx.CreateEABKey(key); err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: state.EventEABKeyCreated, Actor: op.Actor(),
			Subject: "eab:" + key.ID, Outcome: state.OutcomeSuccess,
			Data: map[string]any{"label": key.Label, "reusable": key.Reusable,
				"policy": key.Policy, "directory": key.Directory, "credential": op.Credential}})
	})
	if err != nil {
		return err
	}
	out := eabKeyFromModel(key)
	out.MACKey = base64.RawURLEncoding.EncodeToString(key.MACKey)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// newEABKey draws a key ID and a 64-byte MAC key, long enough for HS512
// (RFC 7518, Section 3.2), from rand.
func newEABKey(rand io.Reader, req eabKeyRequest) (*store.EABKey, error) {
	id := make([]byte, 12)
	mac := make([]byte, 64)
	if _, err := io.ReadFull(rand, id); err != nil {
		return nil, fmt.Errorf("admin: generating EAB key ID: %w", err)
	}
	if _, err := io.ReadFull(rand, mac); err != nil {
		return nil, fmt.Errorf("admin: generating EAB MAC key: %w", err)
	}
	return &store.EABKey{ID: "eab_" + hex.EncodeToString(id), Label: req.Label, MACKey: mac,
		Reusable: req.Reusable, Policy: req.Policy, Directory: req.Directory}, nil
}

// revokeEABKey answers DELETE /v1/eab-keys/{id}: the key binds no further
// accounts; accounts it bound stay.
func (s *Server) revokeEABKey(w http.ResponseWriter, r *http.Request, op *Operator) error {
	id := r.PathValue("id")
	now := s.clock.Now().UTC()
	err := s.store.Transact(r.Context(), func(tx *store.Tx) error {
		if err := tx.RevokeEABKey(id, now); err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: state.EventEABKeyRevoked, Actor: op.Actor(),
			Subject: "eab:" + id, Outcome: state.OutcomeSuccess,
			Data: map[string]any{"credential": op.Credential}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "no unrevoked EAB key %q", truncate(id, 64))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "revoked_at": now})
	return nil
}
