// Reference fan-out server for bench/run.sh: Node.js with the `ws` library.
//
// Written the way the `ws` examples do it: rooms in memory (room -> Set of
// sockets) with a per-room counter; each message is stringified once and sent
// to every open socket of the room in a loop. Nothing is stored.
//
//   ws://host:port/ws/<room>   client sends {"text": ...};
//                              every socket in the room gets {"seq": n, "text": ...}
//
// Run: node server.js [port] [host]

'use strict';

const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2] || 8102);
const host = process.argv[3] || '127.0.0.1';

const rooms = new Map(); // room -> Set<WebSocket>
const counters = new Map(); // room -> last seq

const wss = new WebSocketServer({ host, port });

wss.on('connection', (ws, request) => {
  const match = /^\/ws\/([^/?#]+)/.exec(request.url);
  if (!match) {
    ws.close(1008, 'use /ws/<room>');
    return;
  }
  const room = decodeURIComponent(match[1]);
  if (!rooms.has(room)) rooms.set(room, new Set());
  rooms.get(room).add(ws);

  ws.on('message', (data) => {
    let text;
    try {
      text = JSON.parse(data).text;
    } catch {
      return;
    }
    const seq = (counters.get(room) || 0) + 1;
    counters.set(room, seq);
    const message = JSON.stringify({ seq, text });
    for (const client of rooms.get(room)) {
      if (client.readyState === WebSocket.OPEN) client.send(message);
    }
  });

  ws.on('close', () => {
    const members = rooms.get(room);
    members.delete(ws);
    if (members.size === 0) rooms.delete(room);
  });
});

wss.on('listening', () => console.log(`listening on ws://${host}:${port}/ws/<room>`));
