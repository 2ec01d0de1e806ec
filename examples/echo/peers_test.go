package main

import (
	"fmt"
	"os"
	"testing"

	testpeers "github.com/wsengine/ws/internal/peers"
)

// missingPeers are the interop peers whose tests were skipped.
var missingPeers testpeers.Missing

// commandEnv, set to "goroutines" or "loop", makes this test binary the
// echo command itself (run, or runLoop as with -loop, on a loopback port
// of the system's choice), for the tests that signal it.
const commandEnv = "ECHO_TEST_COMMAND"

// TestMain says in one line which interop peers did not run, or is the
// echo command (commandEnv).
func TestMain(m *testing.M) {
	switch os.Getenv(commandEnv) {
	case "":
		missingPeers.Run(m, "examples/echo")
	case "loop":
		exitWith(runLoop("127.0.0.1:0", false))
	default:
		exitWith(run("127.0.0.1:0", false))
	}
}

func exitWith(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
