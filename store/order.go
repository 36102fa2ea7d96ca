package store

import (
	"fmt"
	"time"
)

// CreateOrder inserts o and links it to the given authorizations.
func (tx *Tx) CreateOrder(o *Order, authzIDs []string) error {
	names, err := OrderNames(o.Identifiers)
	if err != nil {
		return fmt.Errorf("store: creating order: %w", err)
	}
	o.NamesHash = NameSetHash(names)
	if err := tx.db.Create(o).Error; err != nil {
		return fmt.Errorf("store: creating order: %w", translate(err))
	}
	if err := recordNameSet(tx.db, names); err != nil {
		return fmt.Errorf("store: recording the names of order %s: %w", o.ID, translate(err))
	}
	links := make([]OrderAuthorization, 0, len(authzIDs))
	for _, id := range authzIDs {
		links = append(links, OrderAuthorization{OrderID: o.ID, AuthzID: id})
	}
	if len(links) > 0 {
		if err := tx.db.Create(&links).Error; err != nil {
			return fmt.Errorf("store: linking order %s to authorizations: %w", o.ID, translate(err))
		}
	}
	return nil
}

// Order loads an order by ID.
func (tx *Tx) Order(id string) (*Order, error) {
	var o Order
	if err := tx.db.Where("id = ?", id).Take(&o).Error; err != nil {
		return nil, fmt.Errorf("store: loading order %s: %w", id, translate(err))
	}
	return &o, nil
}

// OrderAuthzIDs returns the IDs of the authorizations of an order, in
// insertion order.
func (tx *Tx) OrderAuthzIDs(orderID string) ([]string, error) {
	var ids []string
	err := tx.db.Model(&OrderAuthorization{}).Where("order_id = ?", orderID).
		Order("authz_id").Pluck("authz_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("store: listing authorizations of order %s: %w", orderID, err)
	}
	return ids, nil
}

// OrdersForAuthz returns the IDs of the orders that use an authorization.
func (tx *Tx) OrdersForAuthz(authzID string) ([]string, error) {
	var ids []string
	err := tx.db.Model(&OrderAuthorization{}).Where("authz_id = ?", authzID).
		Pluck("order_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("store: listing orders of authorization %s: %w", authzID, err)
	}
	return ids, nil
}

// AccountOrders returns up to limit IDs of an account's orders created
// after the cursor (an order ID; empty starts at the beginning), oldest
// first, and only those whose status is one of statuses when given.
func (tx *Tx) AccountOrders(accountID, cursor string, limit int, statuses ...string) ([]Order, error) {
	q := tx.db.Where("account_id = ?", accountID)
	if cursor != "" {
		q = q.Where("id > ?", cursor)
	}
	if len(statuses) > 0 {
		q = q.Where("status IN ?", statuses)
	}
	var rows []Order
	if err := q.Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: listing orders of account %s: %w", accountID, err)
	}
	return rows, nil
}

// CountPendingOrders counts an account's orders that are pending or ready
// and not yet expired at now.
func (tx *Tx) CountPendingOrders(accountID string, now time.Time) (int64, error) {
	var n int64
	err := tx.db.Model(&Order{}).
		Where("account_id = ? AND status IN ? AND expires > ?", accountID,
			[]string{"pending", "ready"}, now).
		Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("store: counting pending orders: %w", err)
	}
	return n, nil
}

// CountOrdersSince counts the orders an account created at or after since.
func (tx *Tx) CountOrdersSince(accountID string, since time.Time) (int64, error) {
	var n int64
	err := tx.db.Model(&Order{}).Where("account_id = ? AND created_at >= ?", accountID, since).
		Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("store: counting orders: %w", err)
	}
	return n, nil
}

// SetOrderStatus moves an order from one of the statuses in from to status
// to, with the given extra column updates, and reports [ErrConflict] when
// the order was not in one of those statuses. This compare-and-swap is what
// lets exactly one of several concurrent finalize requests win.
func (tx *Tx) SetOrderStatus(id string, from []string, to string, fields map[string]any) error {
	updates := map[string]any{"status": to, "updated_at": tx.Now()}
	for k, v := range fields {
		updates[k] = v
	}
	res := tx.db.Model(&Order{}).Where("id = ? AND status IN ?", id, from).Updates(updates)
	if res.Error != nil {
		return fmt.Errorf("store: updating order %s: %w", id, translate(res.Error))
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("store: order %s is not in state %v: %w", id, from, ErrConflict)
	}
	return nil
}

// CountReplacingOrders counts the orders in one of statuses whose ARI
// replaces field names certID.
func (tx *Tx) CountReplacingOrders(certID string, statuses []string) (int64, error) {
	var n int64
	err := tx.db.Model(&Order{}).Where("replaces = ? AND status IN ?", certID, statuses).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("store: counting replacing orders: %w", err)
	}
	return n, nil
}

// TouchProcessingOrder moves the update time of a processing order whose
// update time is still seen, and reports [ErrConflict] when another writer
// touched it first. Recovery uses it to claim an interrupted issuance.
func (tx *Tx) TouchProcessingOrder(id string, seen time.Time) error {
	res := tx.db.Model(&Order{}).Where("id = ? AND status = ? AND updated_at = ?", id, "processing", seen).
		Update("updated_at", tx.Now())
	if res.Error != nil {
		return fmt.Errorf("store: claiming order %s: %w", id, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("store: order %s was claimed by another writer: %w", id, ErrConflict)
	}
	return nil
}

// StuckOrders returns orders that have been processing since before the
// given time: issuance that a crash interrupted.
func (tx *Tx) StuckOrders(before time.Time, limit int) ([]Order, error) {
	var rows []Order
	err := tx.db.Where("status = ? AND updated_at < ?", "processing", before).
		Order("updated_at").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: listing processing orders: %w", err)
	}
	return rows, nil
}
