package spacegen

import (
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"
)

// vocabulary is what the generated prose is made of.
var vocabulary = strings.Fields(`
cache queue latency request service replica snapshot revision webhook deploy
index memory budget signal metric trace log error retry backoff jitter lease
leader follower shard cluster storage bytes page slug post author editor draft
publish content schema field link asset image entry collection order limit
skip include locale build compress gzip brotli header status client server
proxy edge network socket buffer thread goroutine channel mutex lock atomic
pointer slice map struct interface method package module test bench profile
heap stack garbage allocation pressure throughput tail percentile median load
small fast boring honest careful simple clear stable steady quiet early late
first last every other same different whole partial fresh stale warm cold
measure read write fetch serve render encode decode parse validate sign verify
choose keep drop swap merge split count share hold wait start stop ship learn
morning harbour river bridge window garden kitchen market winter summer
question answer lesson mistake habit rule pattern trade-off decision review
`)

// tagPool are the tags posts carry.
var tagPool = strings.Fields(`go caching http performance reliability webhooks on-call
projects databases testing observability design writing tooling security frontend
career redis postgres kubernetes`)

// firstNames and lastNames make people's names.
var (
	firstNames = strings.Fields("Noor Ada Bram Chiara Dario Elif Femke Goran Hana Ines Jonas Kaito Lena Milan Nadia Oskar")
	lastNames  = strings.Fields("Lindqvist Okafor Janssen Moreau Silva Novak Haddad Berg Tanaka Kowalski Romano Dubois")
)

// words returns n words of the vocabulary.
func words(r *rand.Rand, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = vocabulary[r.IntN(len(vocabulary))]
	}
	return out
}

// sentenceCase joins words with spaces and capitalises the first.
func sentenceCase(ws []string) string {
	s := strings.Join(ws, " ")
	c, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(c)) + s[size:]
}

// sentence returns a sentence of lo to hi words.
func sentence(r *rand.Rand, lo, hi int) string {
	return sentenceCase(words(r, lo+r.IntN(hi-lo+1))) + "."
}

// paragraph returns n sentences.
func paragraph(r *rand.Rand, n int) string {
	ss := make([]string, n)
	for i := range ss {
		ss[i] = sentence(r, 8, 18)
	}
	return strings.Join(ss, " ")
}

// personName returns a first and last name.
func personName(r *rand.Rand) string {
	return firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]
}

// slugify makes a URL path segment of words.
func slugify(ws []string) string {
	return strings.ToLower(strings.Join(ws, "-"))
}
