"""Python websockets peer for wsengine's interop tests.

  websockets_peer.py client echo|p1|abrupt URL
  websockets_peer.py server          (prints PORT n; stops when stdin closes)

Each connection that ends prints: CLOSED [path] code reason
"""
import asyncio
import sys

import websockets

SIZES = [0, 125, 65536, 4 * 1024 * 1024]


def payload(n):
    return ("wsengine " * (n // 9 + 1))[:n]


def say(*words):
    print(*words, flush=True)


async def client(scenario, url):
    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        say("EXT", ws.response_headers.get("Sec-WebSocket-Extensions", "none"))
        if scenario == "echo":
            for n in SIZES:
                for msg in (payload(n), payload(n).encode()):
                    await ws.send(msg)
                    got = await asyncio.wait_for(ws.recv(), 30)
                    if got != msg:
                        say("FAIL echo of", type(msg).__name__, n, "bytes differs")
                        return
            pong = await ws.ping(b"interop")
            await asyncio.wait_for(pong, 10)
            say("PONG")
            await ws.close(code=4000, reason="peer done")
        elif scenario == "p1":
            say("MESSAGE", await ws.recv())
            try:
                await ws.recv()
            except websockets.ConnectionClosed:
                pass
        elif scenario == "abrupt":
            try:
                await ws.recv()
            except websockets.ConnectionClosed:
                pass
        await ws.wait_closed()
        say("CLOSED", ws.close_code, ws.close_reason)


async def handler(ws, path=None):
    path = ws.path
    say("EXT", path, ws.response_headers.get("Sec-WebSocket-Extensions", "none"))
    try:
        if path == "/p1":
            await ws.send("last message")
            await ws.close(1000, "done")
        elif path == "/abrupt":
            ws.transport.abort()
        else:
            async for msg in ws:
                await ws.send(msg)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    say("CLOSED", path, ws.close_code, ws.close_reason)


async def server():
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None) as srv:
        say("PORT", srv.sockets[0].getsockname()[1])
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    if sys.argv[1] == "client":
        asyncio.run(asyncio.wait_for(client(sys.argv[2], sys.argv[3]), 60))
    else:
        asyncio.run(server())
