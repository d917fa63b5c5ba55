package cache

import "time"

// forward returns next with its validators moved forward from prev, the
// part it replaces, so that Last-Modified never moves back while the bytes
// change (RFC 9110 §8.8.2: a client that revalidates by date would
// otherwise be told "304" for content it does not have):
//
//   - a resource whose bytes are prev's at the same route is prev's
//     resource, validators and all;
//   - one whose bytes changed gets a Last-Modified no earlier than prev's
//     at that route (the latest updatedAt inside can move back: an entry it
//     linked was unpublished): now, when the content's own date is not
//     later;
//   - one at a route prev does not serve (a new or returning post, a new
//     page) gets one no earlier than every date the collection gave out
//     before (Part.Floor).
//
// No date is later than now, so a restarted process, whose first build is
// dated now, is never behind one given out before. HTTP dates have whole
// seconds: bytes that change twice within one second keep one date (their
// strong ETags differ). next is not changed; the part returned is.
func forward(prev, next *Part) *Part {
	out := *next
	if prev == nil {
		out.Floor = latest(next.Floor, highest(next))
		return &out
	}
	now := time.Now()
	out.Root = step(prev.Root, next.Root, prev.Floor, now)
	if next.Pages != nil {
		out.Pages = make([]*Resource, len(next.Pages))
		for i, r := range next.Pages {
			out.Pages[i] = step(at(prev.Pages, i), r, prev.Floor, now)
		}
		out.Root = out.Pages[0]
	}
	if next.Posts != nil {
		out.Posts = make(map[string]*Resource, len(next.Posts))
		for slug, r := range next.Posts {
			out.Posts[slug] = step(prev.Posts[slug], r, prev.Floor, now)
		}
	}
	out.Floor = latest(prev.Floor, highest(&out))
	return &out
}

// step is one route's rule; before is nil for a route prev did not serve.
func step(before, after *Resource, floor time.Time, now time.Time) *Resource {
	if before != nil {
		if before.hash == after.hash {
			return before
		}
		floor = latest(floor, before.ModTime())
	}
	if after.ModTime().After(floor) {
		return after
	}
	// Forward to now, never past it (RFC 9110 §8.8.2.1: no date later
	// than the response's); bytes changed twice in one second keep the
	// same date, which their strong ETags still tell apart.
	return after.withModTime(latest(now, floor))
}

// highest is the latest Last-Modified a part gives out.
func highest(p *Part) time.Time {
	t := p.Root.ModTime()
	for _, r := range p.Pages {
		t = latest(t, r.ModTime())
	}
	for _, r := range p.Posts {
		t = latest(t, r.ModTime())
	}
	return t
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
