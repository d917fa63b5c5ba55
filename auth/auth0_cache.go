package auth

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"time"
)

// credKey identifies a credential in the token cache: HMAC-SHA256, under a
// random per-process key, of client id, secret and audience. The raw
// secret is never stored, and a cache keyed by client id alone would hand a
// cached token to anyone who knows the id.
type credKey [sha256.Size]byte

type credHasher struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func (a *Auth0) credKey(clientID, secret string) credKey {
	ch := a.hashers.Get().(*credHasher)
	b := ch.buf[:0]
	for _, s := range [...]string{clientID, secret, a.audience} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	ch.h.Reset()
	ch.h.Write(b)
	clear(b) // the secret does not linger in the pool
	ch.buf = b[:0]
	var k credKey
	copy(k[:], ch.h.Sum(ch.sum[:0]))
	a.hashers.Put(ch)
	return k
}

// cacheEntry is one credential's remembered outcome. Entries are never
// modified after they are stored (they are replaced), so readers need no
// lock once they hold one.
type cacheEntry struct {
	created time.Time
	until   time.Time // used while now < until
	token   string    // the exchanged access token; "" for refused exchanges
	// The verdict: principal (accepted), err (refused), or neither (the
	// token still has to be verified).
	principal *Principal
	err       *Error
}

func (e *cacheEntry) settled() bool { return e.principal != nil || e.err != nil }

func (e *cacheEntry) result() (*Principal, error) {
	if e.err != nil {
		return nil, copyError(e.err)
	}
	return e.principal.clone(), nil
}

func copyError(err error) error {
	if e, ok := err.(*Error); ok {
		c := *e
		return &c
	}
	return err
}

func (a *Auth0) lookup(key credKey) *cacheEntry {
	a.cacheMu.RLock()
	e := a.cache[key]
	a.cacheMu.RUnlock()
	if e == nil || !a.now().Before(e.until) {
		return nil
	}
	return e
}

// store records e, a token (verified or not) that Auth0 issued, keeping at
// most maxCached entries: when full, expired entries go first, then the
// oldest. Refusals are kept apart (refuse).
func (a *Auth0) store(key credKey, e *cacheEntry) {
	a.cacheMu.Lock()
	defer a.cacheMu.Unlock()
	if _, ok := a.cache[key]; !ok && len(a.cache) >= a.maxCached {
		now := a.now()
		for k, old := range a.cache {
			if !now.Before(old.until) {
				delete(a.cache, k)
			}
		}
		for len(a.cache) >= a.maxCached {
			var oldest credKey
			var at time.Time
			first := true
			for k, old := range a.cache {
				if first || old.created.Before(at) {
					oldest, at, first = k, old.created, false
				}
			}
			delete(a.cache, oldest)
		}
	}
	a.cache[key] = e
}

// refuse remembers a refusal of these credentials for FailureTTL, apart
// from the tokens: a bounded LRU map, so a flood of made-up pairs evicts
// only other refusals.
func (a *Auth0) refuse(key credKey, now time.Time, e *Error) {
	a.refused.Add(key, &cacheEntry{created: now, until: now.Add(a.failureTTL), err: e})
}

// lookupRefused returns the refusal of these credentials still remembered.
func (a *Auth0) lookupRefused(key credKey) *cacheEntry {
	e, ok := a.refused.Get(key)
	if !ok {
		return nil
	}
	if !a.now().Before(e.until) {
		return nil // left for the LRU to evict: removing it could race a newer refusal
	}
	return e
}
