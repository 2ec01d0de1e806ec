package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// The transport comparison: wsengine's Read/Write server over TLS, reached
// by wsengine's client over HTTP/1.1 (a TCP connection per WebSocket) and
// over HTTP/2 (RFC 8441: every WebSocket a stream of one TCP connection).
// No other Go library speaks RFC 8441, so wsengine is compared with itself.

// TLSLib is the child server of the transport comparison: wsengine's
// Read/Write echo over TLS with HTTP/1.1 and HTTP/2, in a process started
// with GODEBUG=http2xconnect=1.
const TLSLib = "wsengine-tls"

// Transports are the rows of the comparison.
var Transports = []string{"HTTP/1.1", "HTTP/2"}

// serveTLS serves handler over TLS (ALPN h2 and http/1.1) with a
// self-signed certificate.
func serveTLS(ctx context.Context, ln net.Listener, handler http.Handler) error {
	cert, err := selfSigned()
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go func() { <-ctx.Done(); srv.Close() }()
	return srv.ServeTLS(ln, "", "")
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// DialTransport opens conns wsengine clients to s (a TLSLib server) over
// transport: over HTTP/2 all share one TCP connection.
func DialTransport(s *Server, conns int, transport string) ([]*adapters.Conn, error) {
	cfg := protocol.DefaultConfig()
	cfg.MaxMessageSize = MaxMessage
	tlsConfig := &tls.Config{InsecureSkipVerify: true} // the child's self-signed certificate
	opts := &adapters.DialOptions{Options: adapters.Options{Config: &cfg, DisableCompression: !s.Compress}, TLSConfig: tlsConfig}
	if transport == "HTTP/2" {
		opts.HTTP2 = adapters.NewHTTP2Client(&http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := make([]*adapters.Conn, 0, conns)
	for i := 0; i < conns; i++ {
		c, resp, err := adapters.Dial(ctx, "wss://"+s.Addr+"/", opts)
		if err == nil && (transport == "HTTP/2") != (resp.ProtoMajor == 2) {
			err = fmt.Errorf("bench: a WebSocket over %s, not %s", resp.Proto, transport)
		}
		if err != nil {
			CloseTransport(out)
			return nil, fmt.Errorf("bench: dial %s over %s (%d of %d): %w", s.Lib, transport, i, conns, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// EchoTransport is Echo for wsengine clients; the result's Lib names the
// transport.
func EchoTransport(s *Server, conns []*adapters.Conn, transport string, size, messages int) (EchoResult, error) {
	ctx := context.Background()
	r, err := echo(s, len(conns), size, messages, func(i int, msg []byte) ([]byte, error) {
		if err := conns[i].Write(ctx, frame.OpText, msg); err != nil {
			return nil, err
		}
		_, got, err := conns[i].Read(ctx)
		return got, err
	})
	r.Lib = transport
	return r, err
}

// CloseTransport closes wsengine clients.
func CloseTransport(conns []*adapters.Conn) {
	for _, c := range conns {
		c.CloseNow()
	}
}
