"""wsproto (sans-I/O) peer over blocking sockets, for wsengine's interop tests.

  wsproto_peer.py client echo|p1|abrupt URL
  wsproto_peer.py server          (prints PORT n; stops when stdin closes)
"""
import socket
import sys
import threading
from urllib.parse import urlparse

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.extensions import PerMessageDeflate
from wsproto.events import (AcceptConnection, BytesMessage, CloseConnection, Ping, Pong, Request,
                            TextMessage)

SIZES = [0, 125, 65536, 4 * 1024 * 1024]


def payload(n):
    return ("wsengine " * (n // 9 + 1))[:n]


def say(*words):
    print(*words, flush=True)


class Peer:
    def __init__(self, sock, conn):
        self.sock, self.conn, self.events = sock, conn, []

    def send(self, event):
        self.sock.sendall(self.conn.send(event))

    def next_event(self):
        while not self.events:
            data = self.sock.recv(65536)
            self.conn.receive_data(data or None)
            self.events.extend(self.conn.events())
            if not data and not self.events:
                return None
        return self.events.pop(0)

    def next_message(self):
        """Returns (kind, payload); kind is text, binary, pong, close or eof."""
        parts, kind = [], None
        while True:
            ev = self.next_event()
            if ev is None:
                return "eof", None
            if isinstance(ev, Ping):
                self.send(ev.response())
            elif isinstance(ev, Pong):
                return "pong", bytes(ev.payload)
            elif isinstance(ev, CloseConnection):
                if self.conn.state == ConnectionState.REMOTE_CLOSING:
                    self.send(ev.response())
                return "close", ev
            elif isinstance(ev, (TextMessage, BytesMessage)):
                kind = "text" if isinstance(ev, TextMessage) else "binary"
                parts.append(ev.data)
                if ev.message_finished:
                    return kind, "".join(parts) if kind == "text" else b"".join(bytes(p) for p in parts)


def client(scenario, url):
    u = urlparse(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=60)
    p = Peer(sock, WSConnection(ConnectionType.CLIENT))
    p.send(Request(host=u.netloc, target=u.path or "/", extensions=[PerMessageDeflate()]))
    ev = p.next_event()
    if not isinstance(ev, AcceptConnection):
        say("FAIL handshake", ev)
        return
    say("EXT", ", ".join(e.name for e in ev.extensions if e.enabled()) or "none")
    code, reason = None, None
    if scenario == "echo":
        for n in SIZES:
            for msg in (payload(n), payload(n).encode()):
                if isinstance(msg, str):
                    p.send(TextMessage(data=msg))
                else:
                    p.send(BytesMessage(data=msg))
                kind, got = p.next_message()
                if got != msg:
                    say("FAIL echo of", kind, n, "bytes differs")
                    return
        p.send(Ping(payload=b"interop"))
        kind, got = p.next_message()
        if kind != "pong" or got != b"interop":
            say("FAIL ping", kind)
            return
        say("PONG")
        p.send(CloseConnection(code=4000, reason="peer done"))
        kind, ev = p.next_message()
        code, reason = ev.code, ev.reason
    elif scenario == "p1":
        kind, msg = p.next_message()
        say("MESSAGE", msg)
        kind, ev = p.next_message()
        code, reason = ev.code, ev.reason
    else:
        kind, ev = p.next_message()
        code, reason = (ev.code, ev.reason) if kind == "close" else (None, None)
    say("CLOSED", int(code), reason or "")
    sock.close()


def serve_one(sock):
    p = Peer(sock, WSConnection(ConnectionType.SERVER))
    ev = p.next_event()
    if not isinstance(ev, Request):
        sock.close()
        return
    path = ev.target
    accept = AcceptConnection(extensions=[PerMessageDeflate()])
    p.send(accept)
    say("EXT", path, ", ".join(e.name for e in accept.extensions if e.enabled()) or "none")
    code, reason = 1006, ""
    if path == "/p1":
        p.send(TextMessage(data="last message"))
        p.send(CloseConnection(code=1000, reason="done"))
        kind, ev = p.next_message()
        code, reason = ev.code, ev.reason
    elif path == "/abrupt":
        sock.close()
    else:
        while True:
            kind, msg = p.next_message()
            if kind == "text":
                p.send(TextMessage(data=msg))
            elif kind == "binary":
                p.send(BytesMessage(data=msg))
            elif kind == "close":
                code, reason = msg.code, msg.reason
                break
            elif kind == "eof":
                break
    say("CLOSED", path, int(code), reason or "")
    sock.close()


def server():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen()
    say("PORT", ls.getsockname()[1])

    def accept():
        while True:
            try:
                s, _ = ls.accept()
            except OSError:
                return
            s.settimeout(60)
            threading.Thread(target=serve_one, args=(s,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()
    ls.close()


if __name__ == "__main__":
    if sys.argv[1] == "client":
        client(sys.argv[2], sys.argv[3])
    else:
        server()
