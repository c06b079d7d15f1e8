// Load generator for bench/: many socket.io-client sockets in one Node process.
//
//   node generator.js <config.json>
//
// Reads the config written by bench/run.py, connects every client (with its cookie and
// Origin, WebSocket only), joins its rooms, then runs one mode:
//   closed  each sender sends its next message as soon as the previous one is acknowledged
//   open    the senders together send `rate` messages per second, whatever the answers
//   idle    connect in steps; after each step print it and wait for "next" on stdin
// It prints one JSON object per line on stdout: {"event": ...}. Message bodies carry the
// send time, so every member that receives one measures send -> receipt latency.
"use strict";

const fs = require("fs");
const readline = require("readline");
const { io } = require("socket.io-client");
const { performance } = require("perf_hooks");

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const stdinLines = readline.createInterface({ input: process.stdin });
const waiting = [];
stdinLines.on("line", (line) => { const w = waiting.shift(); if (w) w(line.trim()); });
const nextLine = () => new Promise((resolve) => waiting.push(resolve));

let measuring = false;
let delivered = 0;
let acked = 0;
let ackErrors = 0;
let sent = 0;
let latencies = [];
let ackLatencies = [];
let otherEvents = 0;
const otherByName = {};

function onMessage(msg) {
  const body = msg && msg.body;
  if (typeof body !== "string" || !body.startsWith("b:")) return;
  if (!measuring) return;
  delivered += 1;
  const t = Number(body.slice(2, body.indexOf(":", 2)));
  latencies.push(performance.now() - t);
}

function connectOne(client) {
  return new Promise((resolve, reject) => {
    const socket = io(cfg.url, {
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      extraHeaders: { Cookie: client.cookie || "", Origin: cfg.origin },
      auth: client.auth || {},
      timeout: 30000,
    });
    socket.on("message:new", onMessage);
    socket.onAny((name) => {
      if (name !== "message:new" && measuring) {
        otherEvents += 1;
        otherByName[name] = (otherByName[name] || 0) + 1;
      }
    });
    socket.once("connect", async () => {
      try {
        for (const ticketId of client.join || []) {
          const answer = await socket.timeout(30000).emitWithAck("ticket:join", { ticket_id: ticketId });
          if (!answer.ok) throw new Error("join failed: " + JSON.stringify(answer.error));
        }
        resolve(socket);
      } catch (err) { reject(err); }
    });
    socket.once("connect_error", (err) => reject(err));
  });
}

async function connectAll(clients, concurrency) {
  const sockets = new Array(clients.length);
  let next = 0;
  async function worker() {
    while (next < clients.length) {
      const i = next++;
      sockets[i] = await connectOne(clients[i]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, clients.length) }, worker));
  return sockets;
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

let seq = 0;
function sendOne(socket, ticketId) {
  const t = performance.now();
  seq += 1;
  const payload = { ticket_id: ticketId, body: `b:${t}:${seq}`, client_msg_id: `bench-${process.pid}-${seq}` };
  if (measuring) sent += 1;
  return socket.timeout(30000).emitWithAck("message:send", payload).then(
    (answer) => {
      if (!measuring) return;
      if (answer && answer.ok) { acked += 1; ackLatencies.push(performance.now() - t); }
      else ackErrors += 1;
    },
    () => { if (measuring) ackErrors += 1; },
  );
}

async function main() {
  const started = performance.now();
  let sockets = [];
  if (cfg.mode === "idle") {
    for (const step of cfg.steps) {
      const more = await connectAll(cfg.clients.slice(sockets.length, step), cfg.concurrency || 100);
      sockets = sockets.concat(more);
      say({ event: "step", connected: sockets.length, seconds: (performance.now() - started) / 1000 });
      if ((await nextLine()) !== "next") break;
    }
    for (const s of sockets) s.close();
    return;
  }

  sockets = await connectAll(cfg.clients, cfg.concurrency || 100);
  say({ event: "connected", connected: sockets.length, seconds: (performance.now() - started) / 1000 });
  const senders = [];
  cfg.clients.forEach((c, i) => { if (c.send_to) senders.push([sockets[i], c.send_to]); });

  let running = true;
  let windowStart = 0;
  let cpuStart = null;
  const startMeasuring = () => {
    measuring = true;
    windowStart = performance.now();
    cpuStart = process.cpuUsage();
    say({ event: "measure-start" });
  };
  setTimeout(startMeasuring, cfg.warmup_s * 1000);

  if (cfg.mode === "closed") {
    const loops = senders.map(async ([socket, ticketId]) => {
      while (running) await sendOne(socket, ticketId);
    });
    await new Promise((r) => setTimeout(r, (cfg.warmup_s + cfg.duration_s) * 1000));
    measuring = false;
    running = false;
    const windowS = (performance.now() - windowStart) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    say({ event: "measure-end" });
    await Promise.all(loops);
    report(windowS, cpu);
  } else if (cfg.mode === "open") {
    let owed = 0;
    let last = performance.now();
    let turn = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      owed += ((now - last) / 1000) * cfg.rate;
      last = now;
      while (owed >= 1) {
        const [socket, ticketId] = senders[turn++ % senders.length];
        sendOne(socket, ticketId);
        owed -= 1;
      }
    }, 5);
    await new Promise((r) => setTimeout(r, (cfg.warmup_s + cfg.duration_s) * 1000));
    clearInterval(timer);
    const windowS = (performance.now() - windowStart) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    measuring = false;
    say({ event: "measure-end" });
    report(windowS, cpu);
  }
  for (const s of sockets) s.close();
}

function report(windowS, cpu) {
  latencies.sort((a, b) => a - b);
  ackLatencies.sort((a, b) => a - b);
  say({
    event: "result",
    window_s: windowS,
    sent_per_s: sent / windowS,
    acked_per_s: acked / windowS,
    ack_errors: ackErrors,
    delivered_per_s: delivered / windowS,
    other_events_per_s: otherEvents / windowS,
    other_events_by_name: otherByName,
    latency_ms: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? null },
    ack_ms: { p50: percentile(ackLatencies, 50), p99: percentile(ackLatencies, 99) },
    generator_cpu_pct: ((cpu.user + cpu.system) / 1e6 / windowS) * 100,
  });
}

main().then(
  () => { stdinLines.close(); process.exit(0); },
  (err) => { say({ event: "error", message: String(err && err.stack || err) }); process.exit(1); },
);
