package handlers

import "testing"

// TestPageQuery: the page parameter as a browser or a client library may
// send it, percent-escapes included (page=%31 was a 400 page_invalid
// while page=01 was page 1).
func TestPageQuery(t *testing.T) {
	for q, want := range map[string]int{ // 0: page_invalid
		"":               1,
		"page=2":         2,
		"page=01":        1,
		"page=%31":       1,
		"p%61ge=3":       3,
		"x=%41&page=2":   2,
		"x=%41":          1,
		"page=%3":        0, // a broken escape
		"page=%2531":     0, // "%31" once decoded: not a number
		"page=+1":        0,
		"page=":          0,
		"page=0":         0,
		"page=1e3":       0,
		"page=2&page=3":  2,
		"page=%32&page=": 2,
	} {
		n, ok := page(q)
		if !ok {
			n = 0
		}
		if n != want {
			t.Errorf("page(%q) = %d, %v; want %d", q, n, ok, want)
		}
	}
}
