// Package promcheck runs Prometheus's own linter, `promtool check metrics`,
// on a scrape in tests. promtool comes from Debian's prometheus package,
// which scripts/test-deps.sh installs; a missing promtool fails the test.
package promcheck

import (
	"bytes"
	"os/exec"
	"testing"
)

// Check fails t unless `promtool check metrics` accepts scrape (the text
// exposition format), naming each problem promtool reports.
func Check(t testing.TB, scrape []byte) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not installed (%v): run scripts/test-deps.sh, which installs Debian's prometheus package", err)
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics refused the scrape (%v):\n%s", err, out)
	}
}
