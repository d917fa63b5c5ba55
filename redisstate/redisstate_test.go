package redisstate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func TestURLForms(t *testing.T) {
	for url, want := range map[string]string{
		"redis://:pw@localhost:6379/0":                        "*redis.Client",
		"rediss://localhost:6380":                             "*redis.Client",
		"redis://s1:26379?master_name=mymaster&addr=s2:26379": "*redis.Client", // a failover client is a *redis.Client
		"redis://n1:6379?addr=n2:6379&addr=n3:6379":           "*redis.ClusterClient",
		"unix:///run/redis.sock":                              "*redis.Client",
	} {
		c, err := newClient(url)
		if err != nil {
			t.Errorf("%s: %v", url, err)
			continue
		}
		if got := typeName(c); got != want {
			t.Errorf("%s: %s, want %s", url, got, want)
		}
		c.Close()
	}
	_, err := newClient("redis://user:hunter2@host:notaport/0")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("a bad URL's error must not reveal the password: %v", err)
	}
}

func typeName(c redis.UniversalClient) string {
	switch c.(type) {
	case *redis.ClusterClient:
		return "*redis.ClusterClient"
	case *redis.Client:
		return "*redis.Client"
	}
	return "?"
}

func part(rev int) *cache.Part {
	return &cache.Part{Collection: cache.CV, Root: cache.NewResource([]byte(`{"profile":[]}`), time.Now()),
		Refs: map[contentful.Ref]int{"Entry:me": rev}, FetchedAt: time.Now()}
}

// TestOnlyTheLeaseHolderWrites: a leader that lost its lease (it stalled,
// another took over) cannot overwrite the new leader's snapshot.
func TestOnlyTheLeaseHolderWrites(t *testing.T) {
	rds := redistest.Start(t)
	ctx := context.Background()
	a, _ := New(Options{URL: rds.URL, LeaseTTL: time.Second})
	b, _ := New(Options{URL: rds.URL, LeaseTTL: time.Second})
	defer a.Close()
	defer b.Close()
	if err := a.SavePart(ctx, part(1)); err != ErrNotLeader {
		t.Fatalf("a non-leader wrote: %v", err)
	}
	if !leads(t, a) || leads(t, b) {
		t.Fatal("exactly one process must lead")
	}
	if err := a.SavePart(ctx, part(2)); err != nil {
		t.Fatal(err)
	}
	// a stalls; its lease expires; b leads and writes.
	rds.Do(t, "DEL", a.keys.lease)
	if !leads(t, b) {
		t.Fatal("b could not take a free lease")
	}
	if err := b.SavePart(ctx, part(3)); err != nil {
		t.Fatal(err)
	}
	// a still believes it leads: the script refuses it.
	if err := a.SavePart(ctx, part(1)); err != ErrNotLeader || a.Leader() {
		t.Fatalf("a stale leader wrote: %v", err)
	}
	v, err := b.Versions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.LoadPart(ctx, cache.CV, v[cache.CV])
	if err != nil || p.Refs["Entry:me"] != 3 {
		t.Fatalf("stored part: %v %+v", err, p)
	}
}
