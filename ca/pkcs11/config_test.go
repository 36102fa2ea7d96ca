package pkcs11

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := Config{
		Module:     "/usr/lib/softhsm/libsofthsm2.so",
		TokenLabel: "acmegate",
		PINFile:    "/etc/acmegate/hsm.pin",
		KeyLabel:   "intermediate-2026",
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string // empty: valid
	}{
		{"valid", func(*Config) {}, ""},
		{"token label of 32 bytes", func(c *Config) { c.TokenLabel = strings.Repeat("t", 32) }, ""},
		{"no module", func(c *Config) { c.Module = "" }, "module"},
		{"relative module", func(c *Config) { c.Module = "libsofthsm2.so" }, "module"},
		{"no token label", func(c *Config) { c.TokenLabel = "" }, "token_label"},
		{"long token label", func(c *Config) { c.TokenLabel = strings.Repeat("t", 33) },
			"token_label"},
		{"no PIN file", func(c *Config) { c.PINFile = "" }, "pin_file"},
		{"no key label", func(c *Config) { c.KeyLabel = "" }, "key_label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate: got %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Validate: got %q, want it to name %q", err, tt.field)
			}
		})
	}
}

func TestReadPIN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		want    string
		wantErr error
	}{
		{"bare", "1234", "1234", nil},
		{"newline", "1234\n", "1234", nil},
		{"CRLF", "1234\r\n", "1234", nil},
		{"only one newline removed", "1234\n\n", "1234\n", nil},
		{"spaces kept", " 12 34 \n", " 12 34 ", nil},
		{"empty", "", "", ErrEmptyPIN},
		{"only newline", "\n", "", ErrEmptyPIN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := readPIN(writePINFile(t, tt.content))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("readPIN: got error %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("readPIN: got %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		_, err := readPIN(filepath.Join(t.TempDir(), "absent"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("readPIN: got %v, want fs.ErrNotExist", err)
		}
	})
}
