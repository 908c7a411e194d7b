#!/usr/bin/python3
"""Smoke test of one Switchboard address (an instance or a load balancer),
with the standard library only: a token, the WebSocket, a join, a chat
message acknowledged and echoed with its seq, and a todo added. Prints the
instance that answered; exits non-zero with the reason on any failure. A
429 (SB_CONNECT_RATE) is retried after the server's Retry-After.

    packaging/smoke.py http://127.0.0.1:8081 [--expect-instance ID[,ID…]]
"""
import base64
import json
import os
import socket
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def fail(why):
    sys.exit(f"smoke: FAILED: {why}")


class RateLimited(Exception):
    """429 from SB_CONNECT_RATE (per client address, cluster-wide): a
    promotion and a rollback within a minute from one host can use it up."""

    def __init__(self, seconds):
        super().__init__(seconds)
        self.seconds = seconds


def retry_after(value):
    try:
        return max(1, min(int(value), 120))
    except (TypeError, ValueError):
        return 5


class WebSocket:
    def __init__(self, url, cookie=None, timeout=5.0):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + ("?" + u.query if u.query else "")
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           + (f"Cookie: {cookie}\r\n" if cookie else "") + "\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                fail("the server closed the connection during the upgrade")
            head += chunk
        head, self.buffer = head.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0].decode(errors="replace")
        if " 429 " in status + " ":
            value = next((line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")[1:]
                          if line.lower().startswith(b"retry-after:")), None)
            raise RateLimited(retry_after(value))
        if " 101 " not in status + " ":
            fail(f"upgrade refused: {status}")

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                fail("the server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def send(self, obj):
        payload = json.dumps(obj).encode()
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self):
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 1:
                return json.loads(payload)
            if opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                fail(f"the server closed the WebSocket with {code}")
            # pings and pongs: the server's heartbeat needs no answer in 5 s.

    def wait_for(self, predicate, what, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = self.recv()
            if frame.get("type") == "error":
                fail(f"{what}: error {frame.get('code')}: {frame.get('message')}")
            if predicate(frame):
                return frame
        fail(f"no {what} within {timeout} s")


def main():
    # A rate-limited attempt is repeated after the server's Retry-After, for
    # up to 90 s (the window of SB_CONNECT_RATE is 60 s by default).
    deadline = time.monotonic() + 90
    while True:
        try:
            return smoke()
        except RateLimited as limited:
            if time.monotonic() + limited.seconds > deadline:
                fail("still rate-limited (SB_CONNECT_RATE) after 90 s")
            print(f"smoke: rate-limited (SB_CONNECT_RATE), retrying in {limited.seconds} s", file=sys.stderr)
            time.sleep(limited.seconds)


def smoke():
    args = sys.argv[1:]
    if not args:
        fail("usage: smoke.py BASE_URL [--expect-instance ID[,ID…]]")
    base = args[0].rstrip("/")
    expect = args[args.index("--expect-instance") + 1].split(",") if "--expect-instance" in args else None
    client_id = f"smoke-{os.getpid()}-{int(time.time() * 1000)}"
    request = urllib.request.Request(base + "/api/token", method="POST",
                                     data=json.dumps({"user": "smoke", "client_id": client_id}).encode())
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            cookie = answer.headers.get("Set-Cookie")
            token = json.loads(answer.read())["token"]
    except urllib.error.HTTPError as e:
        if e.code == 429:
            raise RateLimited(retry_after(e.headers.get("Retry-After"))) from e
        fail(f"token request: {e}")
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        fail(f"token request: {e}")
    ws_url = base.replace("http://", "ws://", 1) + "/ws?token=" + urllib.parse.quote(token)
    # Through a load balancer, its stickiness cookie goes with the upgrade.
    ws = WebSocket(ws_url, cookie.split(";", 1)[0] if cookie else None)
    welcome = ws.wait_for(lambda f: f.get("type") == "welcome", "welcome")
    instance = welcome.get("instance")
    if expect and instance not in expect:
        fail(f"landed on {instance}, expected one of {','.join(expect)}")
    room = "smoke"
    ws.send({"type": "join", "room": room, "ref": "1"})
    ws.wait_for(lambda f: f.get("type") == "ack" and f.get("ref") == "1", "join ack")
    nonce = client_id
    ws.send({"type": "chat", "room": room, "text": "smoke test", "nonce": nonce, "ref": "2"})
    ack = ws.wait_for(lambda f: f.get("type") == "ack" and f.get("ref") == "2", "chat ack")
    seq = ack.get("seq")
    ws.wait_for(lambda f: f.get("type") == "chat" and f.get("seq") == seq, "the chat message back")
    ws.send({"type": "todo.add", "title": "smoke test", "ref": "3"})
    todo = ws.wait_for(lambda f: f.get("type") == "ack" and f.get("ref") == "3", "todo ack")
    ws.send({"type": "todo.delete", "id": todo["item"]["id"], "ref": "4"})
    ws.sock.close()
    print(f"smoke: OK on {instance} (chat seq {seq}, todo {todo['item']['id']})")


if __name__ == "__main__":
    main()
