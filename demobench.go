package main

import (
	"net"
	"net/url"

	"github.com/folio-cms/folio/config"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/demo"
	"github.com/folio-cms/folio/web"
)

// newBench builds demo mode's webhook test bench: it changes the entries
// of the demo's local Delivery API and sends the signed webhook to folio's
// own listener at addr, on loopback when folio listens on every address,
// signed for the path folio checks (FOLIO_PUBLIC_URL's prefix first).
func newBench(cfg config.Config, src source, api *localapi.Server, addr net.Addr) (*demo.Bench, error) {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1" // Go listens on both stacks for an unspecified address
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: "/webhooks/contentful"}
	send := &demo.WebhookSender{URL: u.String(), Target: publicPath(cfg) + u.Path, Secret: cfg.WebhookSecret.Reveal()}
	return demo.New(web.DemoSpace, api, send, demo.Options{Space: src.space, Environment: src.env,
		BlogType: cfg.BlogType, SlugField: cfg.SlugField, CVTypes: cfg.CVTypes})
}
