"""Reference fan-out server for bench/run.sh: FastAPI + uvicorn + websockets.

Written the way the FastAPI WebSocket tutorials do it: a ConnectionManager
keeps, in memory, room -> set of sockets and a per-room counter, and
broadcasts by awaiting send_text on each socket in turn. Nothing is stored.

With REDIS_URL set, several processes share the rooms the way the FastAPI +
redis-py pub/sub examples do it: the seq comes from `INCR seq:<room>`, the
message is published to the channel `room:<room>`, and one task per process,
subscribed to `room:*`, sends what it receives to that process's sockets in
the room, in turn. Nothing is stored in Redis but the counters.

    ws://host:port/ws/<room>   client sends {"text": ...};
                               every socket in the room gets {"seq": n, "text": ...}

Run: python3 -m uvicorn server:app --host 127.0.0.1 --port 8101
     REDIS_URL=redis://127.0.0.1:6379 python3 -m uvicorn server:app --host 127.0.0.1 --port 8101
"""

import asyncio
import json
import os

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()


class ConnectionManager:
    def __init__(self) -> None:
        self.rooms: dict[str, set[WebSocket]] = {}
        self.counters: dict[str, int] = {}

    async def connect(self, room: str, websocket: WebSocket) -> None:
        await websocket.accept()
        self.rooms.setdefault(room, set()).add(websocket)

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        members = self.rooms.get(room)
        if members is None:
            return
        members.discard(websocket)
        if not members:
            del self.rooms[room]

    async def broadcast(self, room: str, text: str) -> None:
        seq = self.counters.get(room, 0) + 1
        self.counters[room] = seq
        message = json.dumps({"seq": seq, "text": text})
        await self.send_local(room, message)

    async def send_local(self, room: str, message: str) -> None:
        for connection in list(self.rooms.get(room, ())):
            await connection.send_text(message)


class RedisConnectionManager(ConnectionManager):
    """The same rooms, shared by several processes through Redis pub/sub."""

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis.asyncio as redis  # python3-redis, only needed here

        self.redis = redis.from_url(url, decode_responses=True)
        self.listener: asyncio.Task | None = None

    async def start(self) -> None:
        pubsub = self.redis.pubsub()
        await pubsub.psubscribe("room:*")
        self.listener = asyncio.create_task(self.listen(pubsub))

    async def listen(self, pubsub) -> None:
        async for message in pubsub.listen():
            if message["type"] != "pmessage":
                continue
            room = message["channel"][len("room:"):]
            try:
                await self.send_local(room, message["data"])
            except Exception as error:  # a socket that closed meanwhile: keep listening
                print(f"send: {error!r}", flush=True)

    async def broadcast(self, room: str, text: str) -> None:
        seq = await self.redis.incr(f"seq:{room}")
        await self.redis.publish(f"room:{room}", json.dumps({"seq": seq, "text": text}))


if os.environ.get("REDIS_URL"):
    manager = RedisConnectionManager(os.environ["REDIS_URL"])

    @app.on_event("startup")
    async def start_listening() -> None:
        await manager.start()

else:
    manager = ConnectionManager()


@app.websocket("/ws/{room}")
async def websocket_endpoint(websocket: WebSocket, room: str) -> None:
    await manager.connect(room, websocket)
    try:
        while True:
            data = await websocket.receive_json()
            await manager.broadcast(room, data["text"])
    except WebSocketDisconnect:
        manager.disconnect(room, websocket)
