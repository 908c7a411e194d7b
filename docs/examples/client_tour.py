#!/usr/bin/python3
"""A participant's first minute with Switchboard, printed as it happens.

Asks for a one-time token, opens the WebSocket, joins a room, chats, adds a
todo, makes a mistake on purpose, then reconnects and recovers what it missed
with "since". Needs Debian's python3-websockets; run against any server:

    /usr/bin/python3 docs/examples/client_tour.py http://127.0.0.1:8080
"""
import asyncio
import json
import sys
import urllib.request

import websockets

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"


def token(user, client_id):
    body = json.dumps({"user": user, "client_id": client_id}).encode()
    request = urllib.request.Request(BASE + "/api/token", data=body, method="POST")
    with urllib.request.urlopen(request) as answer:
        reply = json.loads(answer.read())
    print("$ curl -XPOST %s/api/token -d '%s'" % (BASE, body.decode()))
    print(json.dumps(reply))
    return reply["token"]


async def say(ws, frame):
    text = json.dumps(frame)
    print("> " + text)
    await ws.send(text)


async def hear(ws, count=1):
    for _ in range(count):
        print("< " + await ws.recv())


async def main():
    url = BASE.replace("http", "ws", 1) + "/ws?token="
    async with websockets.connect(url + token("alice", "alice-laptop")) as ws:
        await hear(ws)                                      # welcome
        await say(ws, {"type": "join", "room": "lobby", "ref": "1"})
        await hear(ws)
        await say(ws, {"type": "chat", "room": "lobby", "text": "hello", "ref": "2"})
        await hear(ws, 2)                                   # ack, then the message itself
        await say(ws, {"type": "todo.add", "title": "buy milk", "ref": "3"})
        await hear(ws, 2)                                   # ack, then todo.changed
        await say(ws, {"type": "chat", "room": "Lobby!", "text": "x", "ref": "4"})
        await hear(ws)
    print("(connection closed; bob posts meanwhile)")
    async with websockets.connect(url + token("bob", "bob-phone")) as bob:
        await hear(bob)
        await bob.send(json.dumps({"type": "join", "room": "lobby"}))
        await bob.recv()
        await bob.send(json.dumps({"type": "chat", "room": "lobby", "text": "you there?"}))
        await bob.recv()
    async with websockets.connect(url + token("alice", "alice-laptop")) as ws:
        await hear(ws)
        await say(ws, {"type": "join", "room": "lobby", "since": 1, "ref": "5"})
        await hear(ws)


asyncio.run(main())
