package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/config"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/handlers"
	"github.com/folio-cms/folio/internal/httpserver"
	"github.com/folio-cms/folio/metrics"
	"github.com/folio-cms/folio/refresh"
	"github.com/folio-cms/folio/web"
)

const (
	// gcPercent is folio's GOGC unless the environment sets one.
	gcPercent = 50
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
	if _, set := env("GOGC"); !set {
		// Almost all of folio's heap is what it serves, live until the
		// next refresh: collect at half again the live heap rather than
		// twice it (Go's default), for a little CPU at refresh time.
		debug.SetGCPercent(gcPercent)
	}
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
	generatedSecret := false // the demo's own signing secret, which its log gives
	var demoAPI *localapi.Server
	if cfg.Demo {
		if src, demoAPI, err = startDemo(work, log); err != nil {
			return err
		}
		if cfg.WebhookSecret == "" {
			cfg.WebhookSecret = config.Secret(demoSecret())
			generatedSecret = true
		}
	}
	met := metrics.New()
	client, err := contentful.New(contentful.Options{
		BaseURL: src.baseURL, Space: src.space, Environment: src.env, Token: src.token,
		Locale: cfg.Locale, Logger: log, Observe: met.DeliveryRequest,
		// Rendering stops at the link depth; past it a linked post is
		// still a summary (one level) with its assets (one more).
		Include:    cfg.LinkDepth + 2,
		HTTPClient: &http.Client{Transport: http.DefaultTransport},
	})
	if err != nil {
		return err
	}

	store := &cache.Store{}
	cols := refresh.Collections{CVTypes: cfg.CVTypes, BlogType: cfg.BlogType, BlogOrder: cfg.BlogOrder, SlugField: cfg.SlugField,
		PageSize: cfg.BlogPageSize, FullList: cfg.BlogFullList, LinkDepth: cfg.LinkDepth, SummaryFields: cfg.SummaryFields}
	loader := refresh.NewLoader(client, store, cols, log)
	local := refresh.NewMemoryQueue(queueSize)
	events := refresh.NewEventLog(refresh.Retention{Events: cfg.HistorySize, MaxAge: cfg.HistoryAge})
	dur, err := newDurability(cfg, src, log, local, events)
	if err != nil {
		return err
	}
	if saver := dur.Saver(); saver != nil {
		loader.SetSaver(saver)
	}
	defer func() {
		stopWork()
		workers.Wait()
		dur.Close()
	}()
	guard, err := newGuard(cfg, log, met)
	if err != nil {
		return err
	}
	hist := dur.History()
	met.Watch(metrics.Sources{Snapshot: store.Load, QueueDepth: local.Len, DeadLetters: deadLetters(hist),
		RedisUp: dur.Up, RedisLeader: redisLeader(dur),
		WebhookAuthDegraded: func() float64 { return float64(min(1, len(guard.Degraded()))) }})
	loader.Observe(func(col cache.Collection, outcome string, took time.Duration) {
		met.Refresh(string(col), outcome, took)
	})
	engine := refresh.NewEngine(loader, refresh.EngineOptions{
		WaitBound: cfg.CDNWait, Events: events, DeadLetters: hist,
		OnFinal: func(r refresh.Record) {
			dur.Ack(r)
			met.Event(string(r.Outcome))
		},
	}, log)

	status := handlers.NewStatus(handlers.Info{
		Version: version, Commit: buildCommit(), Demo: cfg.Demo,
		Space: src.space, Environment: src.env, StartedAt: time.Now(),
	}, store, func(d *handlers.StatusDoc) {
		if f := loader.LastFailure(); f != nil {
			d.LastError = f
		}
		v := hist.ReadUpTo(context.Background(), statusListed, statusListed)
		d.Events, d.DeadLetters = v.Events, v.DeadLetters
		d.Redis = dur.Status()
		d.Auth = guard.Status()
	}).WithDegradation(guard.Degraded)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	var bench *handlers.Demo
	if cfg.Demo {
		b, err := newBench(cfg, src, demoAPI, ln.Addr())
		if err != nil {
			ln.Close()
			return err
		}
		bench = handlers.NewDemo(b)
	}
	router := handlers.NewRouter(handlers.Deps{
		Store: store, CORS: cfg.CORSOrigins, Logger: log, Status: status, Dashboard: web.DashboardAt(publicPath(cfg)),
		Webhook: handlers.NewWebhook(refresh.NewIntake(store, dur.Queue(), dur.Dedup(), events, refresh.IntakeOptions{
			Space: src.space, Environment: src.env, Collections: cols, Busy: engine.Busy, Follows: dur.Follows})),
		Auth:         guard,
		Limits:       handlers.NewClientLimits(webhookRate, webhookBurst),
		Admin:        handlers.NewAdmin(engine, hist, dur.Queue()),
		History:      handlers.NewHistory(hist),
		Metrics:      met.Handler(),
		CountWebhook: met.Webhook,
		Requests:     met,
		Demo:         bench,
	})

	if cfg.Demo {
		// The address the commands dial: the bound host, or ":port"
		// (localhost) when folio listens on every address.
		addr := ln.Addr().String()
		if host, port, _ := net.SplitHostPort(addr); net.ParseIP(host).IsUnspecified() {
			addr = ":" + port
		}
		send := "FOLIO_ADDR=" + addr + publicEnv(cfg) + " folio webhook send --type blogPost --id post-retries --revision 2"
		if generatedSecret {
			log.Warn("DEMO MODE: webhooks are accepted when signed with this generated secret (a new one at every start)",
				"secret", cfg.WebhookSecret.Reveal(), "try", "CONTENTFUL_WEBHOOK_SECRET="+cfg.WebhookSecret.Reveal()+" "+send)
		} else {
			// The operator's own secret never reaches the log.
			log.Warn("DEMO MODE: webhooks are accepted when signed with CONTENTFUL_WEBHOOK_SECRET, as set",
				"try", "CONTENTFUL_WEBHOOK_SECRET=... "+send)
		}
	}

	// Snapshots stored in Redis are served before Contentful is asked.
	dur.Preload(work, &workers, loader.Adopt)
	workers.Go(func() { guard.Watch(work) })
	workers.Go(func() { engine.Run(work, local.Events()) })
	workers.Go(func() { engine.RunSafetyRefresh(work, dur.SafetyQueue(), cfg.RefreshEvery) })
	dur.Start(work, &workers, engine)
	workers.Go(func() {
		if err := loader.Initial(work, refresh.RealClock{}); err == nil {
			log.Info("ready: content loaded", "addr", ln.Addr().String())
		}
	})

	log.Info("folio listening", "addr", ln.Addr().String(), "version", version, "space", src.space,
		"environment", src.env, "demo", cfg.Demo)
	return serveHTTP(ctx, httpserver.New(router), ln, shutdownGrace, log)
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
// real space. The test bench changes the returned API's entries.
func startDemo(ctx context.Context, log *slog.Logger) (source, *localapi.Server, error) {
	token := randomHex(16)
	api := localapi.New("folio-demo", "master", token)
	if err := api.Load(web.DemoSpace); err != nil {
		return source{}, nil, fmt.Errorf("demo space: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return source{}, nil, fmt.Errorf("demo delivery API: %w", err)
	}
	srv := httpserver.New(api)
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Warn("DEMO MODE: CONTENTFUL_SPACE_ID is not set, so folio serves its built-in sample space " +
		"from a local Delivery API. Set CONTENTFUL_SPACE_ID and CONTENTFUL_ACCESS_TOKEN to serve your own.")
	return source{baseURL: "http://" + ln.Addr().String(), space: "folio-demo", env: "master", token: token}, api, nil
}

// publicEnv is " FOLIO_PUBLIC_URL=..." when it is set: a command sent
// straight to folio signs the path folio checks only when it knows it.
func publicEnv(cfg config.Config) string {
	if cfg.PublicURL == nil {
		return ""
	}
	return " FOLIO_PUBLIC_URL=" + cfg.PublicURL.String()
}

// publicPath is FOLIO_PUBLIC_URL's path ("" when unset or none).
func publicPath(cfg config.Config) string {
	if cfg.PublicURL == nil {
		return ""
	}
	return cfg.PublicURL.EscapedPath()
}

// demoSecret makes a signing secret of Contentful's form: 64 characters.
func demoSecret() string { return randomHex(32) }

// newGuard builds webhook authentication from the configuration: a
// signature check when a signing secret is set, Auth0 (its exchanges and
// token cache counted in met) when it is set, and a guard that refuses
// everything when neither is (fail closed).
func newGuard(cfg config.Config, log *slog.Logger, met *metrics.Metrics) (*auth.Guard, error) {
	var sig *auth.SignatureVerifier
	if s := cfg.WebhookSecret.Reveal(); s != "" {
		sig = auth.NewSignatureVerifier(s, cfg.WebhookMaxAge, auth.PublicURL(cfg.PublicURL))
	}
	var a0 *auth.Auth0
	if cfg.Auth0Enabled() {
		var err error
		a0, err = auth.NewAuth0(auth.Auth0Config{
			IssuerURL: cfg.Auth0IssuerURL, Audience: cfg.Auth0Audience,
			AllowedClients: cfg.Auth0AllowedClients, RequiredScope: cfg.Auth0RequiredScope, Logger: log,
			OnExchange: met.Auth0Exchange, OnCache: met.Auth0Cache,
		})
		if err != nil {
			return nil, fmt.Errorf("auth0: %w", err)
		}
		if len(cfg.Auth0AllowedClients) == 0 {
			log.Warn("auth0: FOLIO_AUTH0_ALLOWED_CLIENTS is not set: any client of the audience may regenerate, and a flood " +
				"of made-up client ids can delay a client's first exchange after each start (its renewals are unaffected); list your client ids")
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
