// The yardstick: a plain Socket.IO 4 server with the same protocol shape as the product's
// message path, and nothing else (no cookies, no validation, no database).
//
//   node reference-server.js <port>
//
// A socket joins rooms with "ticket:join" {ticket_id}; "message:send" {ticket_id, body,
// client_msg_id} is acknowledged {ok, message} and broadcast as "message:new" to the
// ticket's room, sender excluded. Socket.IO 4 defaults: permessage-deflate off.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 3000);
const httpServer = http.createServer((req, res) => {
  if (req.url === "/readyz") { res.writeHead(200, { "content-type": "application/json" }); res.end('{"status":"ok"}'); return; }
  res.writeHead(404); res.end();
});
const ioServer = new Server(httpServer, { cors: { origin: true, credentials: true } });
let ids = 0;

ioServer.on("connection", (socket) => {
  socket.on("ticket:join", (data, ack) => {
    socket.join(`ticket:${data.ticket_id}`);
    ack({ ok: true, ticket: { id: data.ticket_id }, messages: [], next_cursor: null });
  });
  socket.on("message:send", (data, ack) => {
    ids += 1;
    const message = {
      id: String(ids), ticket_id: data.ticket_id, kind: "message", sender_role: "guest",
      sender_name: "Guest", body: data.body, client_msg_id: data.client_msg_id,
      created_at: new Date().toISOString(), cursor: String(ids),
    };
    socket.to(`ticket:${data.ticket_id}`).emit("message:new", message);
    ack({ ok: true, message });
  });
});

httpServer.listen(port, "127.0.0.1", () => process.stdout.write(`reference server ready on ${port}\n`));
process.on("SIGTERM", () => { ioServer.close(); process.exit(0); });
