package admin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/acmegate/acmegate/store"
)

// auditEventJSON is one audit event as the API shows it.
type auditEventJSON struct {
	Seq      int64           `json:"seq"`
	Time     time.Time       `json:"time"`
	Type     string          `json:"type"`
	Actor    string          `json:"actor"`
	Subject  string          `json:"subject"`
	Outcome  string          `json:"outcome"`
	Reason   string          `json:"reason,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

func auditEventFromModel(e *store.AuditEvent) auditEventJSON {
	out := auditEventJSON{Seq: e.Seq, Time: e.Time.UTC(), Type: e.Type, Actor: e.Actor,
		Subject: e.Subject, Outcome: e.Outcome, Reason: e.Reason, PrevHash: e.PrevHash,
		Hash: e.Hash}
	if e.Data != "" && json.Valid([]byte(e.Data)) {
		out.Data = json.RawMessage(e.Data)
	}
	return out
}

// listAudit answers GET /v1/audit with up to limit (default 100, at most
// 1000) events after the sequence number after_seq, oldest first, and the
// after_seq that continues the listing.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, _ *Operator) error {
	q := r.URL.Query()
	var after int64
	if v := q.Get("after_seq"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, "after_seq must be a sequence number")
		}
		after = n
	}
	limit, err := queryLimit(q.Get("limit"), 100, 1000)
	if err != nil {
		return err
	}
	rows, err := s.store.AuditEvents(r.Context(), after, time.Time{}, limit)
	if err != nil {
		return err
	}
	out := make([]auditEventJSON, 0, len(rows))
	for i := range rows {
		out = append(out, auditEventFromModel(&rows[i]))
		after = rows[i].Seq
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out, "next_after_seq": after})
	return nil
}

// verifyAudit answers GET /v1/audit/verify with the result of walking the
// whole chain. A broken chain is a finding, not a failed request: the
// answer is 200 with intact false and the first broken link.
func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, _ *Operator) error {
	brk, n, err := s.store.VerifyAudit(r.Context())
	if err != nil {
		return err
	}
	out := map[string]any{"intact": brk == nil, "events": n}
	if brk != nil {
		out["broken_at"] = brk.Seq
		out["reason"] = brk.Reason
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// report answers GET /v1/report with the lifecycle report over [from, to)
// (RFC 3339; default the 30 days up to now).
func (s *Server) report(w http.ResponseWriter, r *http.Request, _ *Operator) error {
	now := s.clock.Now().UTC()
	q := r.URL.Query()
	from, err := queryTime(q.Get("from"), "from")
	if err != nil {
		return err
	}
	to, err := queryTime(q.Get("to"), "to")
	if err != nil {
		return err
	}
	if to.IsZero() {
		to = now
	}
	if from.IsZero() {
		from = to.AddDate(0, 0, -30)
	}
	if !from.Before(to) {
		return errorf(http.StatusBadRequest, "from must be before to")
	}
	rep, err := s.store.BuildReport(r.Context(), from, to, now)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
