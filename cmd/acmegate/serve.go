package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/acmegate/acmegate/acme/nonce"
	"github.com/acmegate/acmegate/acme/server"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/store"
)

func serveCommand() *cobra.Command {
	var configPath string
	var fl serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ACME gateway",
		Long: `serve runs the ACME server over HTTPS. On first start with an empty data folder
it runs a development CA ceremony: a root (key in <data>/dev-root, to be moved
offline) and an intermediate that signs certificates. Clients must trust
<data>/root.pem.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			fl.apply(cmd, &cfg)
			if err := cfg.Validate(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, newLogger(cfg.Log, cmd.ErrOrStderr()))
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "YAML configuration file (see configs/acmegate.yaml)")
	fl.register(cmd)
	return cmd
}

// serveFlags override configuration file values when given.
type serveFlags struct {
	data, listen, db, externalURL, logLevel, logFormat string
	http01Port, tlsalpn01Port                          int
	dnsResolvers                                       []string
}

func (f *serveFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.data, "data", "", "data folder: CA files and the SQLite database (default ./data)")
	fs.StringVar(&f.listen, "listen", "", "HTTPS listen address (default 127.0.0.1:8443)")
	fs.StringVar(&f.db, "db", "", "database URL: postgres://..., mysql://... (default SQLite in the data folder)")
	fs.StringVar(&f.externalURL, "external-url", "", "base URL clients use (default https://<listen>)")
	fs.IntVar(&f.http01Port, "http01-port", 0, "port http-01 validation connects to (default 80)")
	fs.IntVar(&f.tlsalpn01Port, "tlsalpn01-port", 0, "port tls-alpn-01 validation connects to (default 443)")
	fs.StringSliceVar(&f.dnsResolvers, "dns-resolver", nil, "DNS resolver host:port for validation (repeatable; default the system resolver)")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default info)")
	fs.StringVar(&f.logFormat, "log-format", "", "text or json (default text)")
}

func (f *serveFlags) apply(cmd *cobra.Command, cfg *Config) {
	changed := cmd.Flags().Changed
	set := func(name string, dst *string, v string) {
		if changed(name) {
			*dst = v
		}
	}
	set("data", &cfg.Data, f.data)
	set("listen", &cfg.Listen, f.listen)
	set("db", &cfg.DB, f.db)
	set("external-url", &cfg.ExternalURL, f.externalURL)
	set("log-level", &cfg.Log.Level, f.logLevel)
	set("log-format", &cfg.Log.Format, f.logFormat)
	if changed("http01-port") {
		cfg.Challenges.HTTP01Port = f.http01Port
	}
	if changed("tlsalpn01-port") {
		cfg.Challenges.TLSALPN01Port = f.tlsalpn01Port
	}
	if changed("dns-resolver") {
		cfg.Challenges.DNSResolvers = f.dnsResolvers
	}
}

func newLogger(cfg LogConfig, w interface{ Write([]byte) (int, error) }) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the gateway until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	setGCPercent()
	// 1. The CA: a development hierarchy on first start, then the
	// intermediate only. The root key is never opened here.
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("creating data folder: %w", err)
	}
	if err := ensureDevCA(cfg, log); err != nil {
		return err
	}
	issuer, issuers, closeSigner, err := loadIssuers(cfg, log)
	if err != nil {
		return err
	}
	defer closeSigner()

	// 2. The store and the services built on it.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	st, err := store.Open(ctx, store.Options{URL: cfg.dbURL(),
		Synchronous: cfg.ACME.SQLiteSynchronous, Observe: dbMetrics(reg)})
	if err != nil {
		return err
	}
	defer st.Close()
	registerCommitMetrics(reg, st)
	nonceKey, used, err := nonceRedemption(st)
	if err != nil {
		return err
	}
	nonces, err := nonce.New(used, nonceKey, time.Now, rand.Reader, time.Duration(cfg.ACME.NonceLifetime))
	if err != nil {
		return err
	}
	reg.MustRegister(newCertificateCollector(st, log))
	engine, err := buildEngine(cfg, st, issuers, log, reg, false)
	if err != nil {
		return err
	}
	srv, err := buildServer(cfg, engine, nonces, issuer, log, reg, false)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	engines := []*state.Engine{engine}
	if cfg.Staging.Enabled {
		stagingEngine, err := buildEngine(cfg, st, issuers, log, nil, true)
		if err != nil {
			return err
		}
		engines = append(engines, stagingEngine)
		staging, err := buildServer(cfg, stagingEngine, nonces, issuer, log, nil, true)
		if err != nil {
			return err
		}
		mux.Handle(cfg.Staging.Prefix+"/", staging.Handler())
		log.Info("client-honesty directory enabled", "directory", staging.DirectoryURL())
	}

	// 3. The HTTPS listener with a certificate from our own intermediate.
	tlsCfg, err := listenerTLS(cfg, issuer, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	ready := readiness(st, activeSigner(issuers))
	mux.HandleFunc("/readyz", ready)
	hs := &http.Server{
		Handler:           mux,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: time.Duration(cfg.ACME.ReadHeaderTimeout),
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       time.Duration(cfg.ACME.IdleTimeout),
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		Protocols:         listenerProtocols(cfg.HTTP2),
	}
	replica := replicaID(ln.Addr().String())
	log.Info("acmegate started", "version", version, "directory", srv.DirectoryURL(),
		"listen", ln.Addr().String(), "database", string(st.Dialect()), "replica", replica,
		"root_certificate", filepath.Join(cfg.Data, "root.pem"),
		"intermediate", issuer.Certificate.Subject.CommonName)

	// 4. Background upkeep, then serve until asked to stop. Every replica
	// runs the loops; a lease in the database lets one at a time work.
	bgCtx, bgCancel := context.WithCancel(context.Background())
	defer bgCancel()
	go retention(bgCtx, st, newLease(st, retentionLease, replica, 2*retentionPeriod, log), cfg, log)
	interval := time.Duration(cfg.ACME.UpkeepInterval)
	go upkeep(bgCtx, newLease(st, upkeepLease, replica, 2*interval, log), engines, nonces,
		time.Duration(cfg.ACME.RecoverAfter), interval, log)
	errc := make(chan error, 3)
	go func() { errc <- hs.ServeTLS(ln, "", "") }()
	// Operator interfaces (adminapi.go, webhooks.go).
	adminSrv, err := startAdmin(cfg, st, engine, issuer, reg, log, errc)
	if err != nil {
		return err
	}
	if adminSrv != nil {
		defer adminSrv.Close()
	}
	if err := startWebhooks(bgCtx, cfg, st, replica, reg, log); err != nil {
		return err
	}
	if cfg.HTTPListen != "" {
		plain, err := plainListener(cfg, srv, ready, reg, hs, errc)
		if err != nil {
			return err
		}
		defer plain.Close()
		log.Info("serving the CRL over plain HTTP", "listen", cfg.HTTPListen,
			"crl", "http://"+cfg.HTTPListen+server.Prefix+"/crl")
	}
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving: %w", err)
		}
	case <-ctx.Done():
	}
	return shutdown(hs, engines, time.Duration(cfg.ACME.ShutdownGrace), log)
}

// serveGCPercent is the garbage collector's target while serving unless
// GOGC says otherwise. Issuance allocates a few hundred kilobytes per
// certificate that die within the request, and the live heap stays small
// (about 10 MiB), so letting the heap grow to three times the live data
// instead of twice saves collections at a few MiB of memory.
const serveGCPercent = 200

func setGCPercent() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}

// nonceRedemption chooses how used nonces are recorded. Replicas on a
// shared database record them there under a key they share; a single
// process on SQLite keeps them in memory under a key of its own, which
// saves a write per request and invalidates its nonces when it restarts.
func nonceRedemption(st *store.Store) ([]byte, nonce.Redeemer, error) {
	if st.Dialect() == store.SQLite {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, nil, fmt.Errorf("generating the nonce key: %w", err)
		}
		return key, &nonce.MemoryRedeemer{}, nil
	}
	key, err := st.SharedSecret("nonce_hmac_key", 32)
	if err != nil {
		return nil, nil, err
	}
	return key, nonce.StoreRedeemer{Store: st}, nil
}

// shutdown stops accepting connections, lets in-flight requests,
// validations and issuances finish within the grace period, and returns.
// listenerProtocols is what the HTTPS listener offers in ALPN: HTTP/1.1,
// and HTTP/2 when configured.
func listenerProtocols(http2 bool) *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(http2)
	return p
}

func shutdown(hs *http.Server, engines []*state.Engine, grace time.Duration, log *slog.Logger) error {
	log.Info("shutting down", "grace", grace)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	errs := []error{hs.Shutdown(ctx)}
	for _, e := range engines {
		errs = append(errs, e.Close(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		log.Error("shutdown did not finish cleanly", "error", err)
		return err
	}
	log.Info("stopped")
	return nil
}

// plainListener serves the CRL and the health endpoints over plain HTTP,
// and the Prometheus metrics and profiles when the configuration asks.
func plainListener(cfg Config, srv *server.Server, ready http.HandlerFunc, reg *prometheus.Registry,
	tmpl *http.Server,
	errc chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.HTTPListen, err)
	}
	mux := http.NewServeMux()
	if cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle(server.Prefix+"/crl", srv.CRLHandler())
	mux.Handle(server.Prefix+"/crl/", srv.CRLHandler())
	if cfg.HTTPMetrics {
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/readyz", ready)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: tmpl.ReadHeaderTimeout,
		ReadTimeout: tmpl.ReadTimeout, WriteTimeout: tmpl.WriteTimeout, IdleTimeout: tmpl.IdleTimeout,
		ErrorLog: tmpl.ErrorLog}
	go func() { errc <- hs.Serve(ln) }()
	return hs, nil
}

// upkeep completes interrupted issuance and validations and purges used
// nonces every interval, on whichever replica holds the upkeep lease. The
// holder renews it each round; when the holder dies, the lease lapses and
// another replica takes the work over within two intervals.
func upkeep(ctx context.Context, l *lease, engines []*state.Engine, nonces *nonce.Service,
	recoverAfter, interval time.Duration, log *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if l.claim(ctx) {
			upkeepOnce(ctx, engines, nonces, recoverAfter, log)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// upkeepOnce runs one round of upkeep on this replica.
func upkeepOnce(ctx context.Context, engines []*state.Engine, nonces *nonce.Service,
	recoverAfter time.Duration, log *slog.Logger) {
	for _, engine := range engines {
		if n, err := engine.RecoverIssuance(ctx, recoverAfter); err != nil {
			log.Error("recovering interrupted issuance failed", "error", err)
		} else if n > 0 {
			log.Warn("recovered interrupted issuance", "orders", n)
		}
		if n, err := engine.RecoverValidations(ctx, recoverAfter); err != nil {
			log.Error("recovering interrupted validations failed", "error", err)
		} else if n > 0 {
			log.Warn("recovered interrupted validations", "challenges", n)
		}
	}
	if _, err := nonces.Purge(ctx); err != nil && ctx.Err() == nil {
		log.Error("purging nonces failed", "error", err)
	}
}

// ensureDevCA runs the development ceremony when the data folder has no
// intermediate yet: the root goes to <data>/dev-root with its generated
// passphrase, the intermediate passphrase to <data>/intermediate.pass.
func ensureDevCA(cfg Config, log *slog.Logger) error {
	if _, err := os.Stat(filepath.Join(cfg.Data, "intermediate.pem")); err == nil {
		return nil
	}
	// Replicas on a shared database must share one CA: a development CA
	// made by whichever replica starts first would split them.
	if u := cfg.dbURL(); !strings.HasPrefix(u, "sqlite://") {
		return fmt.Errorf("%s holds no intermediate.pem: with a shared database (%s), run acmegate "+
			"init once and copy the data folder's CA files to every replica", cfg.Data,
			strings.SplitN(u, "://", 2)[0])
	}
	alg, err := ca.ParseKeyAlgorithm(cfg.CA.KeyAlgorithm)
	if err != nil {
		return err
	}
	rootDir := filepath.Join(cfg.Data, "dev-root")
	rootPass, interPass := randomPassphrase(), randomPassphrase()
	if err := os.MkdirAll(rootDir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", rootDir, err)
	}
	res, err := ca.RunCeremony(ca.CeremonyOptions{
		RootDir: rootDir, DataDir: cfg.Data, RootPassphrase: rootPass,
		IntermediatePassphrase: interPass, KeyAlgorithm: alg,
		Organization: "acmegate development CA", Now: time.Now(), Rand: rand.Reader,
	})
	if err != nil {
		return fmt.Errorf("development CA ceremony: %w", err)
	}
	if err := os.WriteFile(filepath.Join(rootDir, "root.pass"), rootPass, 0o600); err != nil {
		return fmt.Errorf("writing root passphrase: %w", err)
	}
	if err := os.WriteFile(filepath.Join(cfg.Data, "intermediate.pass"), interPass, 0o600); err != nil {
		return fmt.Errorf("writing intermediate passphrase: %w", err)
	}
	log.Warn("created a development CA; move the root key offline for anything but development",
		"root_key", res.RootKeyPath, "root_passphrase_file", filepath.Join(rootDir, "root.pass"),
		"root_certificate", res.TrustAnchorPath)
	return nil
}

func randomPassphrase() []byte {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return []byte(base64.RawURLEncoding.EncodeToString(b))
}
