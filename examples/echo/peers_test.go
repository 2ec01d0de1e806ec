package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	testpeers "github.com/wsengine/ws/internal/peers"
)

// missingPeers are the interop peers whose tests were skipped.
var missingPeers testpeers.Missing

// commandEnv, set to "goroutines" or "loop", with " tls" or not, makes
// this test binary the echo command itself (run, or runLoop as with -loop,
// and with -tls or not, on a loopback port of the system's choice), for
// the tests that signal it.
const commandEnv = "ECHO_TEST_COMMAND"

// TestMain says in one line which interop peers did not run, or is the
// echo command (commandEnv).
func TestMain(m *testing.M) {
	mode := os.Getenv(commandEnv)
	useTLS := strings.HasSuffix(mode, " tls")
	switch strings.TrimSuffix(mode, " tls") {
	case "":
		missingPeers.Run(m, "examples/echo")
	case "loop":
		exitWith(runLoop("127.0.0.1:0", useTLS))
	default:
		exitWith(run("127.0.0.1:0", useTLS))
	}
}

func exitWith(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
