// Package peers tells, at the end of a test run, which interop peers
// (Python websockets and wsproto, Node ws, Chromium) were not installed, so
// that their tests were skipped. go test ./... shows a passing package's
// output only with -v; a skipped interop test would otherwise go unseen.
// Only tests use it.
package peers

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
)

// Missing collects the peers whose tests were skipped. The zero value is
// ready; it is safe for concurrent use.
type Missing struct {
	mu    sync.Mutex
	names map[string]string // name: why
}

// Note records that peer name is not installed, and why.
func (m *Missing) Note(name, why string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.names == nil {
		m.names = map[string]string{}
	}
	m.names[name] = why
}

// Line names the missing peers in one line for package pkg ("" if none).
func (m *Missing) Line(pkg string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.names) == 0 {
		return ""
	}
	var parts []string
	for name, why := range m.names {
		parts = append(parts, name+" ("+why+")")
	}
	slices.Sort(parts)
	return pkg + ": interop peers not installed, their tests skipped: " + strings.Join(parts, ", ") +
		"; .ci/run installs them all (WSENGINE_INTEROP=required fails instead of skipping)\n"
}

// ChildEnv is set in the environment of a test binary's child processes
// (tests that rerun themselves with other settings), which leave the
// report to their parent.
const ChildEnv = "WSENGINE_TEST_CHILD=1"

// Run runs a package's tests (m.Run), reports the missing peers for pkg,
// and exits with the tests' code: a TestMain's whole body.
func (m *Missing) Run(tm interface{ Run() int }, pkg string) {
	code := tm.Run()
	m.Report(pkg)
	os.Exit(code)
}

// Report writes Line to the terminal when there is one, else to stderr
// (seen with -v or on a failure), unless this process is a child.
func (m *Missing) Report(pkg string) {
	line := m.Line(pkg)
	if line == "" || slices.Contains(os.Environ(), ChildEnv) {
		return
	}
	var w io.Writer = os.Stderr
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		w = tty
	}
	fmt.Fprint(w, line)
}
