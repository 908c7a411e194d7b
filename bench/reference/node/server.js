// Reference fan-out server for bench/run.sh: Node.js with the `ws` library.
//
// Written the way the `ws` examples do it: rooms in memory (room -> Set of
// sockets) with a per-room counter; each message is stringified once and sent
// to every open socket of the room in a loop. Nothing is stored.
//
// With REDIS_URL set, several processes share the rooms the way the `ioredis`
// pub/sub examples do it: the seq comes from `INCR seq:<room>`, the message
// is published to the channel `room:<room>`, and every process, subscribed to
// `room:*`, sends what it receives to its own sockets in that room. Nothing
// is stored in Redis but the counters.
//
//   ws://host:port/ws/<room>   client sends {"text": ...};
//                              every socket in the room gets {"seq": n, "text": ...}
//
// Run: node server.js [port] [host]
//      REDIS_URL=redis://127.0.0.1:6379 node server.js [port] [host]

'use strict';

const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2] || 8102);
const host = process.argv[3] || '127.0.0.1';

const rooms = new Map(); // room -> Set<WebSocket>
const counters = new Map(); // room -> last seq (without Redis)

function sendToRoom(room, message) {
  const members = rooms.get(room);
  if (!members) return;
  for (const client of members) {
    if (client.readyState === WebSocket.OPEN) client.send(message);
  }
}

let publish; // (room, text): {"seq", "text"} to the room's sockets, here (at once) or in every process (through Redis)
if (process.env.REDIS_URL) {
  const Redis = require('ioredis');
  const pub = new Redis(process.env.REDIS_URL);
  const sub = new Redis(process.env.REDIS_URL);
  sub.psubscribe('room:*');
  sub.on('pmessage', (pattern, channel, message) => sendToRoom(channel.slice('room:'.length), message));
  publish = async (room, text) => {
    const seq = await pub.incr(`seq:${room}`);
    await pub.publish(`room:${room}`, JSON.stringify({ seq, text }));
  };
} else {
  publish = (room, text) => {
    const seq = (counters.get(room) || 0) + 1;
    counters.set(room, seq);
    sendToRoom(room, JSON.stringify({ seq, text }));
  };
}

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
    const published = publish(room, text); // a promise with Redis
    if (published) published.catch((error) => console.error(`publish: ${error.message}`));
  });

  ws.on('close', () => {
    const members = rooms.get(room);
    members.delete(ws);
    if (members.size === 0) rooms.delete(room);
  });
});

wss.on('listening', () => console.log(`listening on ws://${host}:${port}/ws/<room>`));
