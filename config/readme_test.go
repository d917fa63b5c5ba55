package config

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestREADMEConfigurationTable keeps the README's configuration table true:
// every variable Load reads is documented, and nothing documented is unread.
func TestREADMEConfigurationTable(t *testing.T) {
	read := map[string]bool{}
	Load(func(name string) (string, bool) {
		if !strings.HasSuffix(name, "_FILE") {
			read[name] = true
		}
		return "", false
	})
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## Configuration\n")
	section, _, _ = strings.Cut(section, "\n## ")
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)`").FindAllStringSubmatch(section, -1) {
		documented[m[1]] = true
	}
	for name := range read {
		if !documented[name] {
			t.Errorf("%s is read by config.Load but missing from the README's table", name)
		}
	}
	for name := range documented {
		if !read[name] {
			t.Errorf("%s is in the README's table but config.Load never reads it", name)
		}
	}
	if len(read) < 20 {
		t.Errorf("only %d variables read: %v", len(read), slices.Sorted(maps.Keys(read)))
	}
}
