"""Reference fan-out server for bench/run.sh: FastAPI + uvicorn + websockets.

Written the way the FastAPI WebSocket tutorials do it: a ConnectionManager
keeps, in memory, room -> set of sockets and a per-room counter, and
broadcasts by awaiting send_text on each socket in turn. Nothing is stored.

    ws://host:port/ws/<room>   client sends {"text": ...};
                               every socket in the room gets {"seq": n, "text": ...}

Run: python3 -m uvicorn server:app --host 127.0.0.1 --port 8101
"""

import json

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
        for connection in list(self.rooms.get(room, ())):
            await connection.send_text(message)


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
