// Package bench measures wsengine against gorilla/websocket, coder/websocket,
// gobwas/ws and lxzan/gws, doing the same work for each in one run.
//
// Each library's echo server runs in a child process (the test binary or
// the report command, re-executed; nbio's, cmd/nbioserver, built once per
// run with the go command, or WSENGINE_BENCH_NBIO=path), so its
// allocations and its memory per connection are measured alone. nbio is a
// binary of its own because its package init keeps half a megabyte live,
// which would be in every process here and in BenchmarkLoop's garbage
// collection. One fixed client, gorilla's, drives every
// server, so only the server differs. Each server uses its library the way
// its documentation recommends for production:
//   - wsengine: adapters.Accept with Options.OnMessage echoing in the
//     connection's read goroutine (the event model gws uses); the handler
//     returns after Accept, so net/http's goroutine does not wait beside it.
//     Also, in the handler, a Read/Write loop (Read returns each message in
//     an allocation of its own), a Reader/Writer loop, and a
//     ReadAppend/Write loop (whole messages into one reused buffer).
//   - gorilla: Upgrader with a WriteBufferPool, NextReader/NextWriter and
//     io.CopyBuffer with a reused buffer, EnableCompression for deflate.
//     Also its whole-message loop, ReadMessage/WriteMessage (gorilla-rw),
//     the counterpart of wsengine's Read/Write.
//   - coder: Accept, Reader/Writer and io.CopyBuffer with a reused buffer,
//     CompressionContextTakeover for deflate.
//   - gobwas: the low-level API its README recommends for speed:
//     ws.ReadHeader, a reused payload buffer, ws.Cipher, ws.WriteHeader.
//     (No permessage-deflate here: gobwas/ws needs its wsflate add-on.)
//   - gws: Upgrader with ReadLoop and OnMessage echoing message.Bytes(),
//     PermessageDeflate{Enabled: true} for deflate.
//
// BenchmarkLoop runs the same server loops (and gorilla's) over a
// connection in memory: each read returns one masked client frame, writes
// are dropped. Without the kernel's share of a loopback echo (most of the
// CPU, and most of the noise) it measures each library's own CPU and
// allocations per message in steady state.
//
// BenchmarkEcho reports, besides the server's CPU per message, the part of
// it the GC's marking took (srv-gc-µs/msg): what allocations per message
// cost beyond the allocations themselves.
//
// To profile a server, set WSENGINE_BENCH_CPUPROFILE=dir or
// WSENGINE_BENCH_MEMPROFILE=dir: each server child writes its profile
// there when it stops, for `go tool pprof`.
package bench
