package main

import (
	"testing"

	testpeers "github.com/wsengine/ws/internal/peers"
)

// missingPeers are the interop peers whose tests were skipped.
var missingPeers testpeers.Missing

// TestMain says in one line which interop peers did not run.
func TestMain(m *testing.M) { missingPeers.Run(m, "examples/chat") }
