package peers

import "testing"

func TestLine(t *testing.T) {
	var m Missing
	if got := m.Line("adapters"); got != "" {
		t.Errorf("no peer missing: %q", got)
	}
	m.Note("python-wsproto", "exit status 1")
	m.Note("node-ws", "run npm ci in adapters/testdata/interop")
	m.Note("node-ws", "run npm ci in adapters/testdata/interop") // once per peer
	want := "adapters: interop peers not installed, their tests skipped: node-ws (run npm ci in adapters/testdata/interop), python-wsproto (exit status 1); .ci/run installs them all (WSENGINE_INTEROP=required fails instead of skipping)\n"
	if got := m.Line("adapters"); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
