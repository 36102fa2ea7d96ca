package ca

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteNewFilesAllOrNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := filepath.Join(dir, "first.pem")
	second := filepath.Join(dir, "missing-dir", "second.pem")
	err := writeNewFiles([]newFile{
		{first, []byte("one"), certFileMode},
		{second, []byte("two"), keyFileMode},
	})
	if err == nil {
		t.Fatalf("writeNewFiles: got nil, want an error for the missing directory")
	}
	if _, err := os.Stat(first); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("first file after failure: got %v, want it removed", err)
	}
}

func TestWriteNewFileModeIgnoresUmask(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cert.pem")
	if err := writeNewFile(path, []byte("x"), 0o644); err != nil {
		t.Fatalf("writeNewFile: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o644 {
		t.Errorf("mode: got %v, want 0644", got)
	}
	if err := writeNewFile(path, []byte("y"), 0o644); !errors.Is(err, ErrExists) {
		t.Errorf("second write: got %v, want %v", err, ErrExists)
	}
}
