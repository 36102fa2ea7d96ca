package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestExampleConfigsLoad loads every example in configs/ and validates it,
// so the documented files never drift from the code.
func TestExampleConfigsLoad(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("got %d example configs (%v), want at least one", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			cfg, err := loadConfig(f)
			if err != nil {
				t.Fatalf("loading: %v", err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("validating: %v", err)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if got, want := cfg.externalURL(), "https://127.0.0.1:8443"; got != want {
		t.Errorf("external URL: got %q, want %q", got, want)
	}
	if got, want := cfg.dbURL(), "sqlite://data/acmegate.db"; got != want {
		t.Errorf("database URL: got %q, want %q", got, want)
	}
	profiles, _, err := cfg.profiles()
	if err != nil {
		t.Fatal(err)
	}
	if got := profiles["default"].Lifetime; got != 24*time.Hour {
		t.Errorf("default profile lifetime: got %s, want 24h", got)
	}
}

func TestConfigRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"unknown key", "listne: 1.2.3.4:5\n", "listne"},
		{"bad duration", "acme:\n  order_lifetime: forever\n", "duration"},
		{"bad listen", "listen: nowhere\n", "listen"},
		{"http external url", "external_url: http://x\n", "external_url"},
		{"metrics without http_listen", "http_metrics: true\n", "http_listen"},
		{"pprof without http_listen", "pprof: true\n", "http_listen"},
		{"missing default profile", "profiles:\n  only:\n    lifetime: 1h\n", "default_profile"},
		{"bad eku", "profiles:\n  default:\n    ext_key_usage: [codeSigning]\n", "ext_key_usage"},
		{"bad network", "challenges:\n  deny_networks: [10.0.0.0/33]\n", "CIDR"},
		{"bad resolver", "challenges:\n  dns_resolvers: [10.0.0.1]\n", "host:port"},
		{"bad log level", "log:\n  level: loud\n", "log.level"},
		{"bad key algorithm", "ca:\n  key_algorithm: dsa\n", "key_algorithm"},
		{"zero upkeep interval", "acme:\n  upkeep_interval: 0s\n", "upkeep_interval"},
		{"negative rate", "acme:\n  rate_limit:\n    per_ip: {rate: -1, burst: 5}\n", "per_ip"},
		{"rate without burst", "acme:\n  rate_limit:\n    per_account: {rate: 5}\n", "per_account.burst"},
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
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got error %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := "listen: 127.0.0.1:1\nchallenges:\n  http01_port: 81\n  dns_resolvers: [127.0.0.1:53]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := &cobra.Command{Use: "serve"}
	var fl serveFlags
	fl.register(cmd)
	err := cmd.ParseFlags([]string{"--listen", "127.0.0.1:2", "--http01-port", "5002",
		"--dns-resolver", "127.0.0.1:5353"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	fl.apply(cmd, &cfg)
	if cfg.Listen != "127.0.0.1:2" || cfg.Challenges.HTTP01Port != 5002 ||
		len(cfg.Challenges.DNSResolvers) != 1 || cfg.Challenges.DNSResolvers[0] != "127.0.0.1:5353" {
		t.Fatalf("flags did not override the file: listen %s, http01 %d, resolvers %v",
			cfg.Listen, cfg.Challenges.HTTP01Port, cfg.Challenges.DNSResolvers)
	}
	if cfg.Data != "./data" {
		t.Errorf("data: got %q, want the default ./data", cfg.Data)
	}
}

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	root := rootCommand()
	root.SetOut(&out)
	root.SetArgs([]string{"version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "acmegate ") {
		t.Fatalf("got %q, want it to start with %q", out.String(), "acmegate ")
	}
}

// TestDevCARefusedWithSharedDatabase checks that serve does not make a
// development CA of its own when the database is shared by replicas.
func TestDevCARefusedWithSharedDatabase(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.Data = t.TempDir()
	cfg.DB = "postgres://acmegate@db.internal/acmegate"
	err := ensureDevCA(cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "acmegate init") {
		t.Fatalf("got %v, want an error telling to run acmegate init", err)
	}
	if _, statErr := os.Stat(filepath.Join(cfg.Data, "root.pem")); !os.IsNotExist(statErr) {
		t.Fatalf("a CA was written to the data folder: %v", statErr)
	}
}
