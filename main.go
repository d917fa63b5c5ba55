// Command folio keeps a portfolio's Contentful content (a CV and a blog)
// pre-serialised in memory, regenerates it when Contentful's webhook says it
// changed, and serves it instantly. See README.md.
//
// This file only wires: it reads the configuration, builds the parts and runs
// them. The request path of GET /cv starts at handlers.NewRouter.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/config"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/handlers"
	"github.com/folio-cms/folio/metrics"
	"github.com/folio-cms/folio/refresh"
	"github.com/folio-cms/folio/web"
)

// Set at build time: go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc".
var (
	version = "dev"
	commit  = ""
)

const (
	// shutdownGrace bounds the drain on SIGTERM: below Docker's 10 s before SIGKILL.
	shutdownGrace = 8 * time.Second
	// queueSize holds a bulk publish of a whole space with room to spare;
	// beyond it webhooks get 503 and Contentful retries them.
	queueSize = 10_000
	dedupSize = 100_000
	// webhookRate and webhookBurst: per client, a bulk publish of a few
	// hundred entries passes at once, a runaway loop is slowed.
	webhookRate  = 50
	webhookBurst = 500
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "folio:", ue.msg)
		fmt.Fprintln(stderr, "Run 'folio --help' for usage.")
		return 2
	default:
		fmt.Fprintln(stderr, "folio:", err)
		return 1
	}
}

const usage = `folio serves a portfolio's Contentful CV and blog from memory.

Usage:
  folio [serve]                 run the server (demo mode without CONTENTFUL_SPACE_ID)
  folio webhook send [flags]    send a signed, Contentful-shaped webhook to a running folio
  folio healthcheck [--url URL] exit 0 when the server answers healthy
  folio version                 print the version, commit and Go version

Configuration is read from the environment; see README.md.
`

// run is the whole program, callable from tests.
func run(ctx context.Context, args []string, env config.Lookup, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		fs := newFlags("serve", stderr, "Usage: folio [serve]\n\nRuns the server. Settings come from the environment (README.md).\n")
		if len(args) > 0 && args[0] != "serve" {
			fs.Usage = func() { fmt.Fprint(stderr, usage) }
		}
		if err := parse(fs, rest); err != nil {
			return err
		}
		return serve(ctx, env, stdout, stderr)
	case "version":
		fs := newFlags("version", stderr, "Usage: folio version\n\nPrints the version, commit and Go version.\n")
		if err := parse(fs, rest); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "folio %s (commit %s, %s)\n", version, buildCommit(), runtime.Version())
		return nil
	case "healthcheck":
		fs := newFlags("healthcheck", stderr, "Usage: folio healthcheck [--url URL]\n\nExits 0 when the server answers healthy, 1 otherwise.\n")
		target := fs.String("url", "", "health URL (default: /healthz on FOLIO_ADDR's port on 127.0.0.1)")
		if err := parse(fs, rest); err != nil {
			return err
		}
		return healthcheck(ctx, *target, env, stdout)
	case "webhook":
		if len(rest) == 0 || rest[0] != "send" {
			if len(rest) > 0 && (rest[0] == "--help" || rest[0] == "-h") {
				fmt.Fprint(stdout, webhookUsage)
				return nil
			}
			return usageError{"webhook: the only subcommand is 'send' (folio webhook send --help)"}
		}
		return webhookSend(ctx, rest[1:], env, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

func newFlags(name string, stderr io.Writer, text string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package's own messages are dropped: parse reports errors once.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(stderr, text)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses flags; -h and --help print the usage (flag calls Usage) and
// end the command with exit 0.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return err
	case err != nil:
		return usageError{err.Error()}
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

func buildCommit() string {
	if commit != "" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				return s.Value[:7]
			}
		}
	}
	return "unknown"
}

// newLogger logs JSON, or text on a terminal, as FOLIO_LOG_FORMAT says.
func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// serve runs folio until ctx ends.
func serve(ctx context.Context, env config.Lookup, stdout, stderr io.Writer) error {
	cfg, err := config.Load(env)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat, stderr)
	// Shutdown order: ctx (the signal) stops HTTP first, so in-flight
	// webhooks are answered and queued; then work stops the workers, which
	// are waited for; then Redis is closed (its lease released).
	work, stopWork := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	defer func() {
		stopWork()
		workers.Wait()
	}()

	src := source{baseURL: cfg.BaseURL, space: cfg.SpaceID, env: cfg.Environment, token: cfg.AccessToken.Reveal()}
	if cfg.Demo {
		if src, err = startDemo(work, log); err != nil {
			return err
		}
		if cfg.WebhookSecret == "" {
			cfg.WebhookSecret = config.Secret(demoSecret())
		}
	}
	client, err := contentful.New(contentful.Options{
		BaseURL: src.baseURL, Space: src.space, Environment: src.env, Token: src.token,
		Locale: cfg.Locale, Logger: log,
		HTTPClient: &http.Client{Transport: http.DefaultTransport},
	})
	if err != nil {
		return err
	}

	store := &cache.Store{}
	cols := refresh.Collections{CVTypes: cfg.CVTypes, BlogType: cfg.BlogType, BlogOrder: cfg.BlogOrder, SlugField: cfg.SlugField}
	loader := refresh.NewLoader(client, store, cols, log)
	local := refresh.NewMemoryQueue(queueSize)
	dur, err := newDurability(cfg, src, log, store, loader, local)
	if err != nil {
		return err
	}
	defer func() {
		stopWork()
		workers.Wait()
		dur.close()
	}()
	met := metrics.New(metrics.Sources{Snapshot: store.Load, QueueDepth: local.Len, RedisUp: dur.up})
	engine := refresh.NewEngine(loader, refresh.EngineOptions{
		WaitBound: cfg.CDNWait,
		OnFinal: func(r refresh.Record) {
			dur.ack(r)
			met.Event(string(r.Outcome))
		},
	}, log)

	guard, err := newGuard(cfg, log)
	if err != nil {
		return err
	}
	status := handlers.NewStatus(handlers.Info{
		Version: version, Commit: buildCommit(), Demo: cfg.Demo,
		Space: src.space, Environment: src.env, StartedAt: time.Now(),
	}, store, func(d *handlers.StatusDoc) {
		if f := loader.LastFailure(); f != nil {
			d.LastError = f
		}
		d.Events = engine.Log().Recent(50)
		d.DeadLetters = engine.Log().DeadLetters()
		d.Redis = dur.status()
	})
	router := handlers.NewRouter(handlers.Deps{
		Store: store, CORS: cfg.CORSOrigins, Logger: log, Status: status, Dashboard: web.Dashboard,
		Webhook: handlers.NewWebhook(store, dur.queue, dur.dedup, engine.Log(),
			handlers.WebhookOptions{Space: src.space, Environment: src.env, Collections: cols, Busy: engine.Busy, Defer: dur.follower}),
		Auth:         guard,
		Limits:       handlers.NewClientLimits(webhookRate, webhookBurst),
		Admin:        handlers.NewAdmin(engine, dur.queue),
		Metrics:      met.Handler(),
		CountWebhook: met.Webhook,
	})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if cfg.Demo {
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		log.Warn("DEMO MODE: webhooks are accepted when signed with this generated secret (a new one at every start)",
			"secret", cfg.WebhookSecret.Reveal(),
			"try", "CONTENTFUL_WEBHOOK_SECRET="+cfg.WebhookSecret.Reveal()+" FOLIO_ADDR=:"+port+
				" folio webhook send --type blogPost --id post-retries --revision 2")
	}

	// Snapshots stored in Redis are served before Contentful is asked.
	dur.preload(work, &workers)
	workers.Go(func() { engine.Run(work, local.Events()) })
	workers.Go(func() { engine.RunSafetyRefresh(work, dur.safety, cfg.RefreshEvery) })
	dur.start(work, &workers, engine)
	workers.Go(func() {
		if err := loader.Initial(work, refresh.RealClock{}); err == nil {
			log.Info("ready: content loaded", "addr", ln.Addr().String())
		}
	})

	log.Info("folio listening", "addr", ln.Addr().String(), "version", version, "space", src.space,
		"environment", src.env, "demo", cfg.Demo)
	return serveHTTP(ctx, newServer(router), ln, shutdownGrace, log)
}

func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// serveHTTP serves on ln until ctx ends, then stops accepting, lets in-flight
// requests finish for up to grace, and returns nil on a clean stop.
func serveHTTP(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	<-errc // http.ErrServerClosed
	log.Info("stopped")
	return nil
}

// source is where the Delivery API is.
type source struct{ baseURL, space, env, token string }

// startDemo serves the embedded sample space through an in-process Delivery
// API on loopback, so demo mode runs the same fetch and normalise code as a
// real space.
func startDemo(ctx context.Context, log *slog.Logger) (source, error) {
	token := randomHex(16)
	api := localapi.New("folio-demo", "master", token)
	if err := api.Load(web.DemoSpace); err != nil {
		return source{}, fmt.Errorf("demo space: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return source{}, fmt.Errorf("demo delivery API: %w", err)
	}
	srv := newServer(api)
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Warn("DEMO MODE: CONTENTFUL_SPACE_ID is not set, so folio serves its built-in sample space " +
		"from a local Delivery API. Set CONTENTFUL_SPACE_ID and CONTENTFUL_ACCESS_TOKEN to serve your own.")
	return source{baseURL: "http://" + ln.Addr().String(), space: "folio-demo", env: "master", token: token}, nil
}

// demoSecret makes a signing secret of Contentful's form: 64 characters.
func demoSecret() string { return randomHex(32) }

// newGuard builds webhook authentication from the configuration: a
// signature check when a signing secret is set, Auth0 when it is set, and a
// guard that refuses everything when neither is (fail closed).
func newGuard(cfg config.Config, log *slog.Logger) (*auth.Guard, error) {
	var sig *auth.SignatureVerifier
	if s := cfg.WebhookSecret.Reveal(); s != "" {
		sig = auth.NewSignatureVerifier(s, cfg.WebhookMaxAge)
	}
	var a0 *auth.Auth0
	if cfg.Auth0Enabled() {
		var err error
		a0, err = auth.NewAuth0(auth.Auth0Config{
			IssuerURL: cfg.Auth0IssuerURL, Audience: cfg.Auth0Audience,
			AllowedClients: cfg.Auth0AllowedClients, RequiredScope: cfg.Auth0RequiredScope, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("auth0: %w", err)
		}
	}
	g := auth.NewGuard(sig, a0)
	if len(g.Methods()) == 0 {
		log.Warn("no webhook authentication is configured: every webhook is refused with 503 until " +
			"CONTENTFUL_WEBHOOK_SECRET or AUTH0_DOMAIN/AUTH0_AUDIENCE is set")
	} else {
		log.Info("webhook authentication", "methods", g.Methods())
	}
	return g, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// healthcheck asks a running folio whether it is alive.
func healthcheck(ctx context.Context, target string, env config.Lookup, stdout io.Writer) error {
	if target == "" {
		addr, _ := env("FOLIO_ADDR")
		if addr == "" {
			addr = config.DefaultAddr
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return usageError{fmt.Sprintf("FOLIO_ADDR %q is not host:port", addr)}
		}
		target = "http://127.0.0.1:" + port + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usageError{fmt.Sprintf("--url: %v", err)}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %s", target, res.Status)
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}
