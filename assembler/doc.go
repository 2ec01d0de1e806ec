// Package assembler is the message queue between protocol.Conn and the
// application: it joins data frames into messages, applies flow control with
// high and low water marks, and closes only after every message already
// received has been consumed.
package assembler
