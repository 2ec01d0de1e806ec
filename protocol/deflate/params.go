package deflate

import (
	"errors"
	"strconv"

	"github.com/wsengine/ws/protocol"
)

// Name is the extension token.
const Name = "permessage-deflate"

// params are the four parameters of RFC 7692 §7.1.
type params struct {
	serverNoContextTakeover bool
	clientNoContextTakeover bool
	serverMaxWindowBits     int // 0: absent
	clientMaxWindowBits     int // 0: absent; -1: present without a value (offers only)
}

var (
	errUnknownParam   = errors.New("unknown parameter")
	errDuplicateParam = errors.New("duplicate parameter")
	errBadValue       = errors.New("malformed parameter value")
)

// parseParams validates an element's parameters: "A server MUST decline an
// extension negotiation offer [...] if [it] includes an extension parameter
// not defined for use in an offer, [...] has an invalid value, [or]
// includes multiple extension parameters with the same name." In a
// response client_max_window_bits must have a value.
func parseParams(o protocol.ExtensionOffer, response bool) (params, error) {
	var p params
	seen := map[string]bool{}
	for _, x := range o.Params {
		if seen[x.Name] {
			return p, errDuplicateParam
		}
		seen[x.Name] = true
		switch x.Name {
		case "server_no_context_takeover":
			if x.HasValue {
				return p, errBadValue
			}
			p.serverNoContextTakeover = true
		case "client_no_context_takeover":
			if x.HasValue {
				return p, errBadValue
			}
			p.clientNoContextTakeover = true
		case "server_max_window_bits":
			bits, ok := windowBits(x)
			if !ok {
				return p, errBadValue
			}
			p.serverMaxWindowBits = bits
		case "client_max_window_bits":
			if !x.HasValue && !response {
				p.clientMaxWindowBits = -1
				continue
			}
			bits, ok := windowBits(x)
			if !ok {
				return p, errBadValue
			}
			p.clientMaxWindowBits = bits
		default:
			return p, errUnknownParam
		}
	}
	return p, nil
}

// windowBits parses a value of 8 to 15, written without leading zeros.
func windowBits(x protocol.ExtensionParam) (int, bool) {
	if !x.HasValue || x.Value == "" || x.Value[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(x.Value)
	return n, err == nil && n >= 8 && n <= 15
}
