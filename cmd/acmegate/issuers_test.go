package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIntermediatesConfig(t *testing.T) {
	t.Parallel()
	const fileKey = "    key: /ca/b-key.pem\n    passphrase_file: /ca/b.pass\n"
	tests := []struct {
		name, yaml, wantErr string
	}{
		{name: "file key and active",
			yaml: "ca:\n  active: /ca/b.pem\n  intermediates:\n  - cert: /ca/b.pem\n" + fileKey},
		{name: "listed but not active",
			yaml: "ca:\n  intermediates:\n  - cert: /ca/b.pem\n" + fileKey},
		{name: "token key",
			yaml: "ca:\n  intermediates:\n  - cert: /ca/b.pem\n    pkcs11:\n" +
				"      module: /usr/lib/softhsm/libsofthsm2.so\n      token_label: ca\n" +
				"      pin_file: /ca/pin\n      key_label: b\n"},
		{name: "no cert", yaml: "ca:\n  intermediates:\n  - key: /ca/b-key.pem\n",
			wantErr: "ca.intermediates[0]: cert is required"},
		{name: "no passphrase file",
			yaml:    "ca:\n  intermediates:\n  - cert: /ca/b.pem\n    key: /ca/b-key.pem\n",
			wantErr: "passphrase_file"},
		{name: "key file and token",
			yaml: "ca:\n  intermediates:\n  - cert: /ca/b.pem\n" + fileKey +
				"    pkcs11:\n      module: /usr/lib/softhsm/libsofthsm2.so\n",
			wantErr: "not both"},
		{name: "incomplete token",
			yaml: "ca:\n  intermediates:\n  - cert: /ca/b.pem\n    pkcs11:\n" +
				"      module: /usr/lib/softhsm/libsofthsm2.so\n",
			wantErr: "pkcs11"},
		{name: "listed twice",
			yaml: "ca:\n  intermediates:\n  - cert: /ca/b.pem\n" + fileKey +
				"  - cert: /ca/./b.pem\n" + fileKey,
			wantErr: "ca.intermediates[1]: cert /ca/./b.pem is listed twice"},
		{name: "active not listed",
			yaml:    "ca:\n  active: /ca/c.pem\n  intermediates:\n  - cert: /ca/b.pem\n" + fileKey,
			wantErr: "ca.active"},
		{name: "active without intermediates", yaml: "ca:\n  active: /ca/b.pem\n",
			wantErr: "ca.active"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := loadConfig(path)
			if err == nil {
				err = cfg.Validate()
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got error %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}
