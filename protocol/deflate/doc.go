// Package deflate is permessage-deflate (RFC 7692) for protocol.Conn, with
// compress/flate: negotiation for both roles and the per-message transform.
//
// Decisions, and why:
//   - compress/flate always compresses with a 32 KiB window (15 bits). A
//     peer that limits this side's window below that (a server offered
//     server_max_window_bits=9, a client answered client_max_window_bits=9)
//     gets messages compressed with Huffman codes only (flate.HuffmanOnly):
//     no back-references, which every window allows, so the limit is
//     accepted and honoured. Decompression accepts any window from 8 to 15
//     bits.
//   - This side's compressor resets after every message unless
//     Config.ContextTakeover is set, whatever was negotiated: a stream with
//     no references across messages is valid for any peer, and a
//     compress/flate writer costs 0.7–1.2 MiB, so idle connections take
//     writers from a pool instead of holding one each. With ContextTakeover
//     (and the peer allowing it) a connection keeps its writer: about 1 MiB
//     per connection that has sent a compressed message.
//   - Decompression keeps the last 32 KiB of output per connection when the
//     peer uses context takeover (the default of browsers and peers), and
//     nothing when it negotiated no context takeover. Readers are pooled.
//   - compress/flate cannot pause when its input runs out and resume later,
//     so a compressed message is inflated when its last frame arrives. Its
//     compressed size and its inflated size are both bounded by the
//     connection's message limit: a compression bomb fails with 1009 having
//     produced at most the limit.
//   - A corrupt compressed payload fails with 1007 in a text message
//     (payload inconsistent with its type, as Node's ws does) and 1002 in a
//     binary one (the negotiated encoding was broken).
package deflate
