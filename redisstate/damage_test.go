package redisstate

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/internal/redistest"
)

// savedBlog starts a server, saves blog(20, 1, day) as its leader and
// returns a second process's State that holds nothing yet, with the
// version to load.
func savedBlog(t *testing.T) (*redistest.Server, *State, *State, *cache.Part, string) {
	t.Helper()
	ctx := context.Background()
	rds := redistest.Start(t)
	leader := newStateLeasing(t, rds, time.Minute)
	if !leads(t, leader) {
		t.Fatal("could not take the lease")
	}
	p := blog(20, 1, day)
	if err := leader.SavePart(ctx, p); err != nil {
		t.Fatal(err)
	}
	reader := newStateLeasing(t, rds, time.Minute)
	v, err := reader.Versions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rds, leader, reader, p, v[cache.Blog]
}

// entityBlob returns the key of one of the part's entity blobs.
func entityBlob(t *testing.T, s *State) string {
	t.Helper()
	names, err := s.rdb.SMembers(context.Background(), s.keys.live("blog")).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "entity:") {
			return s.keys.res("blog", n)
		}
	}
	t.Fatal("no entity blob is live")
	return ""
}

// A follower does not load a part whose entity blob is missing or whose
// blobs hold other bytes than their names say: it keeps serving what it
// serves.
func TestDamagedBlobsAreNotLoaded(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, want string
		damage     func(t *testing.T, s *State, p *cache.Part)
	}{
		{"entity blob gone", "gone", func(t *testing.T, s *State, _ *cache.Part) {
			s.rdb.Del(ctx, entityBlob(t, s))
		}},
		{"entity blob other bytes", "other bytes", func(t *testing.T, s *State, _ *cache.Part) {
			s.rdb.Set(ctx, entityBlob(t, s), `{"sys":{"id":"x"}}`, 0)
		}},
		{"resource blob of another resource", "other bytes", func(t *testing.T, s *State, p *cache.Part) {
			s.rdb.Set(ctx, s.keys.res("blog", p.Posts["post-3"].Hash()), p.Posts["post-4"].MarshalBlob(), 0)
		}},
		{"resource blob cut short", "cut short", func(t *testing.T, s *State, p *cache.Part) {
			b := p.Posts["post-3"].MarshalBlob()
			s.rdb.Set(ctx, s.keys.res("blog", p.Posts["post-3"].Hash()), b[:len(b)/2], 0)
		}},
		{"resource blob with a byte changed", "corrupt", func(t *testing.T, s *State, p *cache.Part) {
			b := p.Posts["post-3"].MarshalBlob()
			b[len(b)/3] ^= 0x40 // in the gzip form
			s.rdb.Set(ctx, s.keys.res("blog", p.Posts["post-3"].Hash()), b, 0)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, leader, reader, p, v := savedBlog(t)
			c.damage(t, leader, p)
			_, err := reader.LoadPart(ctx, cache.Blog, v)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("loaded: %v, want an error saying %q", err, c.want)
			}
			if c.want != "gone" && !errors.Is(err, cache.ErrCorrupt) {
				t.Errorf("%v is not ErrCorrupt", err)
			}
			store := follow(t, reader)
			time.Sleep(200 * time.Millisecond) // a few pointer checks
			if snap := store.Load(); snap != nil && snap.Blog != nil {
				t.Fatal("a damaged part was installed")
			}
		})
	}
}

// A blob an older folio stored, its identity beside its gzip and brotli
// forms, loads into a resource that serves the same bytes; one whose gzip
// form was damaged does not load.
func TestOlderBlobsWithIdentity(t *testing.T) {
	ctx := context.Background()
	rds, leader, reader, p, v := savedBlog(t)
	r := p.Posts["post-5"]
	old := func(gz []byte) []byte {
		var b []byte
		for _, f := range [][]byte{r.Body(), gz, r.Variant(cache.Brotli).Body} {
			b = binary.AppendUvarint(b, uint64(len(f))+1)
			b = append(b, f...)
		}
		return b
	}
	key := leader.keys.res("blog", r.Hash())
	leader.rdb.Set(ctx, key, old(r.Variant(cache.Gzip).Body), 0)
	got, err := reader.LoadPart(ctx, cache.Blog, v)
	if err != nil {
		t.Fatal(err)
	}
	samePart(t, got, p)
	if got.Posts["post-5"].Variant(cache.Identity).Body != nil {
		t.Error("the identity is held beside its gzip form")
	}

	gz := append([]byte(nil), r.Variant(cache.Gzip).Body...)
	gz[len(gz)/2] ^= 0x40
	leader.rdb.Set(ctx, key, old(gz), 0)
	fresh := newStateLeasing(t, rds, time.Minute)
	if _, err := fresh.LoadPart(ctx, cache.Blog, v); !errors.Is(err, cache.ErrCorrupt) {
		t.Fatalf("an old blob with a damaged gzip form: %v, want ErrCorrupt", err)
	}
}
