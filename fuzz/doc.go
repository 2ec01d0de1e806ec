// Package fuzz holds the go test -fuzz targets and the rapid properties that
// cut across wsengine's packages. It has no code of its own, only tests.
//
// Run a target with, for example:
//
//	go test ./fuzz -run '^$' -fuzz FuzzParseHeader -fuzztime 60s
//
// Seed corpora live in testdata/fuzz/<Target>; plain go test runs every seed.
// Failing rapid properties print their seed; replay one with
// go test ./fuzz -run TestName -rapid.seed=N.
package fuzz
