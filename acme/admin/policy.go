package admin

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/acmegate/acmegate/acme/policy"
	"github.com/acmegate/acmegate/store"
)

// policyJSON is a saved policy version.
type policyJSON struct {
	Version   int       `json:"version"`
	Author    string    `json:"author"`
	SHA256    string    `json:"sha256"`
	SavedAt   time.Time `json:"saved_at"`
	Document  string    `json:"document"`
	Unchanged bool      `json:"unchanged,omitempty"`
}

// showPolicy answers GET /v1/policy with the newest saved version: as JSON,
// or the YAML document alone when the caller accepts application/yaml.
func (s *Server) showPolicy(w http.ResponseWriter, r *http.Request, _ *Operator) error {
	row, err := s.store.Read(r.Context()).LatestPolicy()
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound,
			"no policy version has been saved; the built-in rule is in force")
	}
	if err != nil {
		return err
	}
	if acceptsYAML(r) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set("X-Acmegate-Policy-Version", strconv.Itoa(row.Version))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(row.Document))
		return nil
	}
	writeJSON(w, http.StatusOK, policyJSON{Version: row.Version, Author: row.Author,
		SHA256: row.SHA256, SavedAt: row.CreatedAt.UTC(), Document: row.Document})
	return nil
}

func acceptsYAML(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && (mt == "application/yaml" || mt == "application/x-yaml" ||
			mt == "text/yaml") {
			return true
		}
	}
	return false
}

// savePolicy answers PUT /v1/policy: the YAML body is validated and saved
// as the next version, with the policy.changed audit event naming the
// operator as author. A body equal to the newest version saves nothing.
func (s *Server) savePolicy(w http.ResponseWriter, r *http.Request, op *Operator) error {
	text, err := readBody(w, r)
	if err != nil {
		return err
	}
	if _, err := policy.Parse(text); err != nil {
		return errorf(http.StatusBadRequest, "%s", truncate(err.Error(), 500))
	}
	version, err := policy.Save(r.Context(), s.store, text, op.Actor())
	unchanged := errors.Is(err, policy.ErrUnchanged)
	if err != nil && !unchanged {
		return err
	}
	row, err := s.store.Read(r.Context()).Policy(version)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, policyJSON{Version: row.Version, Author: row.Author,
		SHA256: row.SHA256, SavedAt: row.CreatedAt.UTC(), Document: row.Document,
		Unchanged: unchanged})
	return nil
}
