package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Event is an audit event before it is chained. Type names come from the
// state machine's constant list (for example "certificate.issued").
type Event struct {
	Type    string
	Actor   string
	Subject string
	// Outcome is "success" or "failure".
	Outcome string
	Reason  string
	// Data is marshalled to JSON; it must never hold secrets.
	Data any
}

// Audit appends ev to the audit chain inside the current transaction. The
// head row is locked (FOR UPDATE where the database supports it), so
// concurrent writers on several replicas still produce one linear chain.
func (tx *Tx) Audit(ev Event) error {
	data := ""
	if ev.Data != nil {
		b, err := json.Marshal(ev.Data)
		if err != nil {
			return fmt.Errorf("store: encoding audit data for %s: %w", ev.Type, err)
		}
		data = string(b)
	}
	head, err := tx.auditHead()
	if err != nil {
		return err
	}
	// The time keeps milliseconds, the finest precision every database
	// stores (GORM makes MySQL columns datetime(3)): a finer time would
	// read back different and break the hash.
	row := AuditEvent{
		Seq:      head.Seq + 1,
		Time:     tx.Now().UTC().Truncate(time.Millisecond),
		Type:     ev.Type,
		Actor:    ev.Actor,
		Subject:  ev.Subject,
		Outcome:  ev.Outcome,
		Reason:   ev.Reason,
		Data:     data,
		PrevHash: head.Hash,
	}
	row.Hash = row.ComputeHash()
	if err := tx.db.Create(&row).Error; err != nil {
		return fmt.Errorf("store: appending audit event %s: %w", ev.Type, translate(err))
	}
	if tx.batch != nil {
		// The batch writes the head once, before it commits.
		tx.batch.head = &AuditHead{ID: 1, Seq: row.Seq, Hash: row.Hash}
		return nil
	}
	return moveAuditHead(tx.db, head.Seq, row)
}

// auditHead returns the head to chain the next event to: the batch's
// copy when a group-commit batch has one, the locked row otherwise.
func (tx *Tx) auditHead() (AuditHead, error) {
	if tx.batch != nil && tx.batch.head != nil {
		return *tx.batch.head, nil
	}
	var head AuditHead
	q := tx.db
	if tx.store.dialect != SQLite {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	err := q.Where("id = ?", 1).Take(&head).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		head = AuditHead{ID: 1}
		if err := tx.db.Create(&head).Error; err != nil {
			return head, fmt.Errorf("store: creating audit head: %w", translate(err))
		}
	} else if err != nil {
		return head, fmt.Errorf("store: locking audit head: %w", err)
	}
	if tx.batch != nil {
		tx.batch.head = &head
		tx.batch.loadedSeq = head.Seq
	}
	return head, nil
}

// moveAuditHead points the head row at ev, provided it still points at
// event seq.
func moveAuditHead(db *gorm.DB, seq int64, ev AuditEvent) error {
	res := db.Model(&AuditHead{}).Where("id = ? AND seq = ?", 1, seq).
		Updates(map[string]any{"seq": ev.Seq, "hash": ev.Hash})
	if res.Error != nil {
		return fmt.Errorf("store: moving audit head: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("store: audit head moved concurrently: %w", ErrConflict)
	}
	return nil
}

// ComputeHash returns the hex SHA-256 over the event's fields and the
// previous hash, each length-prefixed so that no two events encode alike.
func (e *AuditEvent) ComputeHash() string {
	h := sha256.New()
	for _, f := range []string{
		fmt.Sprint(e.Seq), e.Time.UTC().Format(time.RFC3339Nano), e.Type, e.Actor,
		e.Subject, e.Outcome, e.Reason, e.Data, e.PrevHash,
	} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AuditBreak describes the first broken link found by [Store.VerifyAudit].
type AuditBreak struct {
	Seq    int64
	Reason string
}

// VerifyAudit walks the whole chain in order and returns the first broken
// link, or nil when the chain is intact: every event's hash must match its
// content, link to its predecessor's hash, sequence numbers must have no
// gaps, and the head must point at the last event.
func (s *Store) VerifyAudit(ctx context.Context) (*AuditBreak, int64, error) {
	var prev AuditEvent
	var count int64
	const batch = 1000
	for {
		var rows []AuditEvent
		err := s.db.WithContext(ctx).Where("seq > ?", prev.Seq).Order("seq").
			Limit(batch).Find(&rows).Error
		if err != nil {
			return nil, count, fmt.Errorf("store: reading audit events: %w", err)
		}
		for i := range rows {
			r := &rows[i]
			if brk := checkLink(prev, r); brk != nil {
				return brk, count, nil
			}
			prev = *r
			count++
		}
		if len(rows) < batch {
			break
		}
	}
	var head AuditHead
	err := s.db.WithContext(ctx).Where("id = ?", 1).Limit(1).Find(&head).Error
	if err != nil {
		return nil, count, fmt.Errorf("store: reading audit head: %w", err)
	}
	return checkHead(head, prev), count, nil
}

// checkHead compares the head row with the last event of the chain. Only
// the head reveals changes at the end, where no successor links back.
func checkHead(head AuditHead, last AuditEvent) *AuditBreak {
	switch {
	case head.Seq > last.Seq:
		return &AuditBreak{Seq: last.Seq + 1, Reason: fmt.Sprintf(
			"head points at event %d but the last event is %d (events removed at the end)",
			head.Seq, last.Seq)}
	case head.Seq < last.Seq:
		return &AuditBreak{Seq: head.Seq + 1, Reason: fmt.Sprintf(
			"head points at event %d but events follow it up to %d (events appended)",
			head.Seq, last.Seq)}
	case head.Hash != last.Hash:
		return &AuditBreak{Seq: last.Seq,
			Reason: "last event does not match the head's hash (replaced)"}
	}
	return nil
}

func checkLink(prev AuditEvent, r *AuditEvent) *AuditBreak {
	if r.Seq != prev.Seq+1 {
		return &AuditBreak{Seq: prev.Seq + 1, Reason: fmt.Sprintf(
			"event %d is missing (next event is %d)", prev.Seq+1, r.Seq)}
	}
	if r.PrevHash != prev.Hash {
		return &AuditBreak{Seq: r.Seq, Reason: "previous-hash link does not match the preceding event"}
	}
	if r.ComputeHash() != r.Hash {
		return &AuditBreak{Seq: r.Seq, Reason: "content does not match its hash (edited)"}
	}
	return nil
}

// AuditEvents returns up to limit events with sequence numbers after
// afterSeq and times at or after since, oldest first.
func (s *Store) AuditEvents(ctx context.Context, afterSeq int64, since time.Time, limit int) ([]AuditEvent, error) {
	var rows []AuditEvent
	q := s.db.WithContext(ctx).Where("seq > ?", afterSeq)
	if !since.IsZero() {
		q = q.Where("time >= ?", since.UTC())
	}
	if err := q.Order("seq").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: listing audit events: %w", err)
	}
	return rows, nil
}
