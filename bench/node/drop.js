// The network-drop scenario's generator (bench/drop.py): many socket.io-client sockets in
// rooms exchanging messages at a fixed rate, a share of them cut off abruptly for a while,
// then back, catching up the way the product's browser code does.
//
//   node drop.js <config.json>
//
// Every (socket, ticket) pair is a member: one open conversation. A member keeps its
// messages as static/js/chat-core.js's Conversation does (by number, without duplicates,
// a watermark up to which it holds everything, holes asked about after a short grace) and
// on reconnect does what the widget's and the dashboard's watchConnection -> resume() do:
// `ticket:join` again, then `messages:history` with `after: <watermark>` page by page, then
// resend the messages that did not get through (same client_msg_id); a send without an
// answer in time is asked again (same client_msg_id) before it counts as failed. Each
// message held is recorded with when and how it came (live `message:new`, the send's
// acknowledgement, the first join's page, or catch-up), so bench/drop.py can compare every
// member with the store and tell what live delivery alone (plain Socket.IO) would give.
//
// A drop destroys the WebSocket's TCP connection (ws.terminate(): no close frame, no
// Socket.IO disconnect packet); the socket is connected again `drop_s` later.
//
// Prints one JSON object per line: connected, measure-start, dropped, measure-end,
// result. The members' views go to cfg.views_path (too large for a line).
"use strict";

const fs = require("fs");
const { io } = require("socket.io-client");

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The browser's constants (static/js/chat-core.js).
const CATCH_UP_PAGE = 100;
const ACK_TIMEOUT_MS = 10000;
const SEND_ATTEMPTS = 3;
const GAP_GRACE_MS = 250;
const HOLE_WAIT_MS = 3000;
const MAX_TRACKED_HOLES = 1000;

const stats = {
  sent: 0, acked: 0, duplicates: 0, failed: 0, resent: 0, waited: 0, askedAgain: 0,
  historyAsks: 0, historyMessages: 0, catchUps: 0, resumeRetries: 0, unexpectedDisconnects: 0,
  failures: {},
};
let lastLive = Date.now();

class ChatError extends Error {
  constructor(code) { super(code); this.code = code; }
}

// chat-core.js ask(): the answer when ok, else a ChatError with the server's code.
async function ask(socket, event, payload, timeoutMs = ACK_TIMEOUT_MS) {
  if (!socket.connected) throw new ChatError("disconnected");
  let answer;
  try {
    answer = await socket.timeout(timeoutMs).emitWithAck(event, payload);
  } catch {
    throw new ChatError(socket.connected ? "timeout" : "disconnected");
  }
  if (answer && answer.ok === true) return answer;
  throw new ChatError((answer && answer.error && answer.error.code) || "internal");
}

function seqOf(message) {
  const seq = message && message.seq;
  return Number.isSafeInteger(seq) && seq > 0 ? seq : null;
}

// One open conversation: chat-core.js's Conversation without the page.
class Member {
  constructor(peer, ticketId) {
    this.peer = peer;
    this.ticketId = ticketId;
    this.generation = 0;
    this.elements = new Map(); // id -> [id, seq, received at ms, via, came live or acked too]
    this.started = false;
    this.liveBuffer = [];
    this.watermark = 0;
    this.top = 0;
    this.held = new Set();
    this.holes = new Map();
    this.round = null;
    this.holeTimer = null;
    this.base = 0; // the highest number in the first join's page: bench/drop.py counts above it
    this.joinedAt = null; // when the join after the last reconnect answered
    this.caughtUpAt = null; // when the catch-up after the last reconnect ended
  }

  get socket() { return this.peer.socket; }

  start(answer) {
    const messages = answer.messages || [];
    const numbers = messages.map(seqOf).filter((seq) => seq !== null);
    this.watermark = numbers.length ? Math.min(...numbers) - 1 : 0;
    this.base = numbers.length ? Math.max(...numbers) : 0;
    for (const seq of this.held) if (seq <= this.watermark) this.held.delete(seq);
    this.started = true;
    const buffered = this.liveBuffer || [];
    this.liveBuffer = null;
    this.insert(messages, "join", { confirmedBelow: Math.max(0, ...numbers) });
    if (buffered.length) this.insert(buffered, "live");
  }

  async resume() {
    const generation = this.generation;
    const stale = () => generation !== this.generation || !this.socket.connected;
    try {
      const answer = await ask(this.socket, "ticket:join", { ticket_id: this.ticketId });
      if (stale()) return;
      this.joinedAt = Date.now();
      if (!this.started) {
        this.start(answer);
      } else {
        this.round = null;
        await this.catchUp({ rethrow: true });
        if (stale()) return;
      }
      this.caughtUpAt = Date.now();
      await this.peer.resendPending(this.ticketId);
    } catch (error) {
      if (generation !== this.generation) return;
      if (error.code === "disconnected") return;
      if (error.code === "timeout" || error.code === "internal") {
        stats.resumeRetries += 1;
        setTimeout(() => {
          if (generation === this.generation && this.socket.connected) this.resume();
        }, 2000);
        return;
      }
      fail("resume:" + error.code);
    }
  }

  receive(message) {
    if (!message || message.ticket_id !== this.ticketId) return;
    if (this.liveBuffer) {
      this.liveBuffer.push(message);
      return;
    }
    this.insert([message], "live");
  }

  insert(messages, via, { confirmedBelow = 0 } = {}) {
    const now = Date.now();
    for (const message of messages) {
      if (!message || message.ticket_id !== this.ticketId || !message.id) continue;
      const live = via === "live" || via === "ack";
      const held = this.elements.get(message.id);
      if (held) {
        if (live) held[4] = true; // plain Socket.IO would have had it too
        continue;
      }
      const seq = seqOf(message);
      this.elements.set(message.id, [message.id, seq, now, via, live]);
      if (seq !== null) this.count(seq);
    }
    this.settle({ confirmedBelow });
  }

  count(seq) {
    if (seq > this.watermark) this.held.add(seq);
    if (seq > this.top) this.top = seq;
  }

  settle({ confirmedBelow = 0 } = {}) {
    if (!this.started) return;
    const now = Date.now();
    const last = Math.min(this.top, this.watermark + MAX_TRACKED_HOLES);
    for (let seq = this.watermark + 1; seq < last; seq += 1) {
      if (!this.held.has(seq) && !this.holes.has(seq)) {
        this.holes.set(seq, { since: now, askAt: now + GAP_GRACE_MS, confirmed: false });
      }
    }
    for (const [seq, hole] of this.holes) if (seq < confirmedBelow) hole.confirmed = true;
    for (;;) {
      const next = this.watermark + 1;
      if (!this.held.delete(next)) {
        const hole = this.holes.get(next);
        if (!hole || !hole.confirmed || now - hole.since < HOLE_WAIT_MS) break;
      }
      this.holes.delete(next);
      this.watermark = next;
    }
    if (this.canAsk() && [...this.holes.values()].some((hole) => !hole.confirmed && hole.askAt <= now)) {
      this.catchUp();
    }
    this.planNextCheck(now);
  }

  canAsk() {
    return this.started && !this.round && this.socket.connected;
  }

  planNextCheck(now) {
    clearTimeout(this.holeTimer);
    this.holeTimer = null;
    let due = Infinity;
    const front = this.holes.get(this.watermark + 1);
    if (front && front.confirmed) due = front.since + HOLE_WAIT_MS;
    if (this.canAsk()) {
      for (const hole of this.holes.values()) if (!hole.confirmed) due = Math.min(due, hole.askAt);
    }
    if (due === Infinity) return;
    const generation = this.generation;
    this.holeTimer = setTimeout(() => {
      this.holeTimer = null;
      if (generation === this.generation) this.settle();
    }, Math.max(due - now, 50));
  }

  async catchUp({ rethrow = false } = {}) {
    if (!this.canAsk()) return false;
    stats.catchUps += 1;
    const round = {};
    this.round = round;
    const generation = this.generation;
    const current = () => generation === this.generation && this.round === round;
    const covered = [];
    for (const [seq, hole] of this.holes) {
      if (hole.confirmed) continue;
      hole.askAt = Infinity;
      covered.push(seq);
    }
    try {
      let after = this.watermark;
      for (;;) {
        stats.historyAsks += 1;
        const page = await ask(this.socket, "messages:history", { ticket_id: this.ticketId, after, limit: CATCH_UP_PAGE });
        if (!current()) return false;
        const messages = page.messages || [];
        stats.historyMessages += messages.length;
        const last = Math.max(after, ...messages.map(seqOf).filter((seq) => seq !== null));
        this.insert(messages, "catchup", { confirmedBelow: last });
        if (!page.has_more || last <= after) break;
        after = last;
      }
      for (const seq of covered) {
        const hole = this.holes.get(seq);
        if (hole) hole.confirmed = true;
      }
      return true;
    } catch (error) {
      if (!current()) return false;
      const retryAt = Date.now() + HOLE_WAIT_MS;
      for (const seq of covered) {
        const hole = this.holes.get(seq);
        if (hole && !hole.confirmed) hole.askAt = retryAt;
      }
      if (rethrow) throw error;
      return false;
    } finally {
      if (this.round === round) this.round = null;
      if (generation === this.generation) this.settle();
    }
  }

  // Nothing left to do: everything up to the highest number held, no catch-up running.
  get quiet() {
    return this.started && !this.round && this.holes.size === 0 && this.watermark >= this.top;
  }
}

function fail(code) {
  stats.failures[code] = (stats.failures[code] || 0) + 1;
}

// One socket (a widget tab or a dashboard) and the conversations it has open.
class Peer {
  constructor(index, client) {
    this.index = index;
    this.client = client;
    this.members = new Map(); // ticket id -> Member
    this.pending = new Map(); // client_msg_id -> {ticketId, body, clientMsgId, state}
    this.dropped = false; // one of the sockets cut off on purpose
    this.cut = false; // cut off right now: connected again by reconnect(), not by onDisconnect
    this.dropAt = null;
    this.reconnectAt = null;
    this.connectedAt = null;
    this.socket = io(cfg.url, {
      transports: ["websocket"],
      reconnection: false, // the drop's length is ours to decide; see onDisconnect
      forceNew: true,
      autoConnect: false, // open() connects, a few at a time
      extraHeaders: { Cookie: client.cookie || "", Origin: cfg.origin },
      auth: client.auth || {},
      timeout: 30000,
    });
    this.socket.on("message:new", (message) => {
      lastLive = Date.now();
      const member = message && this.members.get(message.ticket_id);
      if (member) member.receive(message);
    });
    this.socket.on("disconnect", (reason) => this.onDisconnect(reason));
  }

  // The first connection: join every ticket and take its newest page.
  open() {
    return new Promise((resolve, reject) => {
      this.socket.once("connect", async () => {
        try {
          for (const ticketId of this.client.join) {
            const member = new Member(this, ticketId);
            this.members.set(ticketId, member);
            member.start(await ask(this.socket, "ticket:join", { ticket_id: ticketId }, 30000));
          }
          this.socket.on("connect", () => this.onReconnect());
          resolve();
        } catch (err) { reject(err); }
      });
      this.socket.once("connect_error", reject);
      this.socket.connect();
    });
  }

  onReconnect() {
    this.connectedAt = Date.now();
    for (const member of this.members.values()) member.resume();
  }

  onDisconnect(reason) {
    if (reason === "io client disconnect" || this.cut) return;
    // Not ours: the browser's Socket.IO reconnects by itself (reconnectionDelay 500 ms).
    stats.unexpectedDisconnects += 1;
    setTimeout(() => this.socket.connect(), 500);
  }

  drop() {
    const transport = this.socket.io.engine && this.socket.io.engine.transport;
    if (!transport || !transport.ws || typeof transport.ws.terminate !== "function") {
      throw new Error("no WebSocket to cut on socket " + this.index);
    }
    this.dropped = true;
    this.cut = true;
    this.dropAt = Date.now();
    transport.ws.terminate(); // destroys the TCP socket: no close frame, no disconnect packet
  }

  reconnect() {
    this.cut = false;
    this.reconnectAt = Date.now();
    this.socket.connect();
  }

  // chat-core.js send()/deliver(): shown at once, sent when connected, kept while not.
  send(ticketId) {
    stats.sent += 1;
    const clientMsgId = `drop-${process.pid}-${stats.sent}`;
    const entry = { ticketId, body: `d:${Date.now()}:${stats.sent}`, clientMsgId, state: "sending" };
    this.pending.set(clientMsgId, entry);
    this.deliver(entry);
  }

  async deliver(entry) {
    if (!this.socket.connected) {
      if (entry.state !== "waiting") stats.waited += 1;
      entry.state = "waiting";
      return;
    }
    entry.state = "sending";
    try {
      const answer = await ask(this.socket, "message:send", {
        ticket_id: entry.ticketId, body: entry.body, client_msg_id: entry.clientMsgId,
      });
      if (this.pending.get(entry.clientMsgId) !== entry) return;
      stats.acked += 1;
      if (answer.duplicate) stats.duplicates += 1;
      this.pending.delete(entry.clientMsgId);
      const member = this.members.get(entry.ticketId);
      if (member && answer.message && answer.message.client_msg_id === entry.clientMsgId) {
        member.insert([answer.message], "ack");
      }
    } catch (error) {
      if (this.pending.get(entry.clientMsgId) !== entry) return;
      if (error.code === "disconnected") {
        if (entry.state !== "waiting") stats.waited += 1;
        entry.state = "waiting"; // resent with the same client_msg_id on reconnect
        return;
      }
      if (error.code === "timeout" && (entry.timeouts = (entry.timeouts || 0) + 1) < SEND_ATTEMPTS) {
        stats.askedAgain += 1; // no answer in time: ask again, same client_msg_id
        return this.deliver(entry);
      }
      entry.state = "failed";
      stats.failed += 1;
      fail("send:" + error.code);
    }
  }

  async resendPending(ticketId) {
    for (const entry of [...this.pending.values()]) {
      if (entry.ticketId !== ticketId) continue;
      if (entry.state === "waiting" || entry.state === "sending") {
        stats.resent += 1;
        await this.deliver(entry);
      }
    }
  }
}

// A small seeded generator: the same sockets drop in every run with the same seed.
function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function openAll(peers, concurrency) {
  let next = 0;
  async function worker() {
    while (next < peers.length) await peers[next++].open();
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, peers.length) }, worker));
}

async function main() {
  const started = Date.now();
  const peers = cfg.clients.map((client, i) => new Peer(i, client));
  await openAll(peers, cfg.concurrency || 50);
  say({ event: "connected", connected: peers.length, seconds: (Date.now() - started) / 1000 });

  const senders = peers.filter((p) => p.client.send_to);
  let owed = 0;
  let last = Date.now();
  let turn = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    owed += ((now - last) / 1000) * cfg.rate;
    last = now;
    while (owed >= 1) {
      const peer = senders[turn++ % senders.length];
      peer.send(peer.client.send_to);
      owed -= 1;
    }
  }, 5);
  const cpuStart = process.cpuUsage();
  const sendStart = Date.now();
  say({ event: "measure-start" });

  await sleep(cfg.before_drop_s * 1000);
  const random = mulberry32(cfg.seed);
  const order = peers.map((p) => p.index);
  for (let i = order.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const victims = order.slice(0, Math.round(peers.length * cfg.drop_share)).map((i) => peers[i]);
  for (const peer of victims) peer.drop();
  const dropAt = Date.now();
  say({ event: "dropped", sockets: victims.length, members: victims.reduce((n, p) => n + p.members.size, 0) });
  await sleep(cfg.drop_s * 1000);
  for (const peer of victims) peer.reconnect();
  const reconnectAt = Date.now();
  await sleep(cfg.after_s * 1000);
  clearInterval(timer);
  const sendEnd = Date.now();
  const cpu = process.cpuUsage(cpuStart);
  say({ event: "measure-end" });

  // Let what is in flight land: every send answered, every dropped socket back and caught
  // up, every member without holes, and no live message for a second.
  const deadline = Date.now() + cfg.settle_timeout_s * 1000;
  const members = peers.flatMap((p) => [...p.members.values()]);
  for (;;) {
    const busy = peers.some((p) => !p.socket.connected || [...p.pending.values()].some((e) => e.state !== "failed"))
      || victims.some((p) => [...p.members.values()].some((m) => m.caughtUpAt === null || m.caughtUpAt < p.reconnectAt))
      || members.some((m) => !m.quiet)
      || Date.now() - lastLive < 1000;
    if (!busy || Date.now() > deadline) break;
    await sleep(100);
  }
  const settled = members.every((m) => m.quiet)
    && peers.every((p) => [...p.pending.values()].every((e) => e.state === "failed"));

  const views = [];
  for (const peer of peers) {
    for (const member of peer.members.values()) {
      views.push({
        socket: peer.index,
        ticket_id: member.ticketId,
        audience: peer.client.audience,
        dropped: peer.dropped,
        drop_at: peer.dropAt,
        reconnect_at: peer.reconnectAt,
        connected_at: peer.connectedAt,
        joined_at: member.joinedAt,
        caught_up_at: member.caughtUpAt,
        base: member.base,
        watermark: member.watermark,
        messages: [...member.elements.values()],
      });
    }
  }
  fs.writeFileSync(cfg.views_path, JSON.stringify(views));
  const windowS = (sendEnd - sendStart) / 1000;
  say({
    event: "result",
    settled,
    settle_s: (Date.now() - sendEnd) / 1000,
    window_s: windowS,
    drop_at: dropAt,
    reconnect_at: reconnectAt,
    dropped_sockets: victims.length,
    ...stats,
    generator_cpu_pct: ((cpu.user + cpu.system) / 1e6 / windowS) * 100,
  });
  for (const peer of peers) peer.socket.close();
}

main().then(
  () => process.exit(0),
  (err) => { say({ event: "error", message: String((err && err.stack) || err) }); process.exit(1); },
);
