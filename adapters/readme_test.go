package adapters_test

import (
	"os"
	"strings"
	"testing"
)

// The README's usage snippets are the compiled code of example_test.go,
// byte for byte, so they cannot go stale.
func TestReadmeSnippets(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for _, part := range []struct{ from, to string }{
		{"// README: server\n", "// README: client\n"},
		{"// README: client\n", "// README: end\n"},
	} {
		a, b := strings.Index(s, part.from), strings.Index(s, part.to)
		if a < 0 || b < a {
			t.Fatalf("markers %q..%q not found", part.from, part.to)
		}
		snippet := strings.TrimRight(s[a+len(part.from):b], "\n")
		if !strings.Contains(string(readme), snippet) {
			t.Errorf("README.md does not contain, as written in example_test.go:\n%s", snippet)
		}
	}
}
