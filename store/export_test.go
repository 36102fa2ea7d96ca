package store

// SynchronousLevel reads the synchronous pragma of the connection the
// transaction runs on (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA). SQLite fixes
// the level for the whole transaction, so it is the level the commit
// syncs at.
func (tx *Tx) SynchronousLevel() (int, error) {
	var level int
	err := tx.db.Raw("PRAGMA synchronous").Scan(&level).Error
	return level, err
}
