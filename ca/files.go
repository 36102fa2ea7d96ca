package ca

import (
	"errors"
	"fmt"
	"os"
)

// newFile is one file that a multi-file operation (the ceremony, a new
// intermediate) will create.
type newFile struct {
	path string
	data []byte
	mode os.FileMode
}

// checkAbsent reports [ErrExists] if any of paths exists, so that a
// multi-file operation fails before it generates keys or writes anything.
func checkAbsent(paths ...string) error {
	for _, path := range paths {
		_, err := os.Lstat(path)
		if err == nil {
			return fmt.Errorf("checking %s: %w", path, ErrExists)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("checking %s: %w", path, err)
		}
	}
	return nil
}

// writeNewFiles creates every file or none: if one fails, those already
// written are removed again.
func writeNewFiles(files []newFile) error {
	for n, f := range files {
		if err := writeNewFile(f.path, f.data, f.mode); err != nil {
			for _, done := range files[:n] {
				_ = os.Remove(done.path)
			}
			return err
		}
	}
	return nil
}

// writeNewFile creates path with exactly mode perm (whatever the umask),
// writes data and syncs it. It refuses to replace an existing file
// ([ErrExists]) and removes what it created if writing fails.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating %s: %w", path, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	err = writeAndClose(f, data, perm)
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// writeAndClose sets the mode, writes, syncs and closes f.
func writeAndClose(f *os.File, data []byte, perm os.FileMode) error {
	err := f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	return err
}
