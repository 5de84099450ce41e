// Load generator for the Duet signaling benchmark: a Node `ws` client in its own process.
//
// Driven by bench/signaling/run.py over stdin/stdout, one JSON object per line:
//   {"cmd":"connect", "pairs":[{"urls":[u0,u1],"tickets":[t0,t1]}...], "protocol":..., "concurrency":n}
//       opens two sockets per room, sends `join`, waits for `joined` (handshakes/s), then for every
//       seat to know its peer is present; answers {"ev":"connected", ...}
//   {"cmd":"load", "rate":msgs_per_s, "duration_s":d, "drain_s":s}
//       sends offer-sized and candidate-sized messages at a fixed offered rate, round-robin over the
//       sockets, each to its peer through the server; the send time (performance.now()) is inside
//       the SDP text / candidate string, so relay latency is measured on receipt in this process;
//       answers {"ev":"loaded", ...}
//   {"cmd":"storm", "base":url, "people":[{"chat":id,"token":jwt,"at_ms":t}...], "start_in_ms":d,
//    "protocol":..., "close_at_ms":c, "timeout_s":t}
//       bench/storm.py: each person, at start + at_ms, POSTs their join grant (the REST call a
//       browser makes, with their JWT), opens the WebSocket the grant names, sends `join` and
//       waits for `joined`; then every socket waits for the rooms' close (close_at_ms after the
//       start); answers {"ev":"stormed", ...} with latencies, errors by kind and close codes
//   {"cmd":"close"}  closes every socket and exits.
// Only 127.0.0.1 URLs are accepted. Everything is bounded: timeouts on connect, drain and close.

import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";

const TS_MARK = "bench-ts ";
const OFFERS_PER_CLIENT_PER_S = 0.4; // Duet's negotiation bucket allows 0.5/s sustained
const MIN_OFFER_EVERY = 20; // at most 1 in 20 messages is an offer (a call: 1 offer, ~20 candidates)

const clients = []; // {ws, pair, side, joined, peerPresent, closed, closeCode, sent}
const closeCodes = {};
const errors = {};
const otherTypes = {};
let phase = null; // the running load phase's counters, or null
let stale = 0;

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function log(...args) {
  process.stderr.write(`[loadgen] ${args.join(" ")}\n`);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function summary(values) {
  const sorted = Float64Array.from(values).sort();
  const r = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
  return {
    n: sorted.length,
    p50: r(percentile(sorted, 50)),
    p90: r(percentile(sorted, 90)),
    p99: r(percentile(sorted, 99)),
    max: r(sorted.length ? sorted[sorted.length - 1] : null),
  };
}

// --- payloads: valid per docs/protocol.md (sdp starts with "v=", candidate with "candidate:") ---

const SDP_HEAD =
  "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
  "a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n" +
  "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\n" +
  "a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:sHbV\r\na=ice-pwd:0n9XqZpZ3k3Vb8s7E4m2rYtq\r\n" +
  "a=ice-options:trickle\r\na=fingerprint:sha-256 " +
  "7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08" +
  "\r\na=setup:actpass\r\na=mid:0\r\na=" +
  TS_MARK;
const SDP_FILL_LINE = "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n";
let sdpTail = "\r\n";
while (SDP_HEAD.length + 20 + sdpTail.length + SDP_FILL_LINE.length <= 4096) sdpTail += SDP_FILL_LINE;
const OFFER_HEAD = '{"type":"offer","sdp":' + JSON.stringify(SDP_HEAD).slice(0, -1);
const OFFER_TAIL = JSON.stringify(sdpTail).slice(1) + "}";

const CAND_HEAD =
  '{"type":"candidate","candidate":"candidate:842163049 1 udp 1677729535 192.0.2.10 52546 typ srflx ' +
  "raddr 0.0.0.0 rport 0 generation 0 ufrag sHbV network-id 1 network-cost 10 " +
  TS_MARK;
const CAND_TAIL = '","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"sHbV"}';

function offer(ts) {
  return OFFER_HEAD + ts.toFixed(3) + OFFER_TAIL;
}

function candidate(ts) {
  return CAND_HEAD + ts.toFixed(3) + CAND_TAIL;
}

// --- receiving -----------------------------------------------------------------------------------

function onMessage(client, data, isBinary) {
  const now = performance.now();
  const text = isBinary ? data.toString("utf8") : data.toString();
  const at = text.indexOf(TS_MARK);
  if (at >= 0 && client.joined) {
    let end = at + TS_MARK.length;
    while (end < text.length && text.charCodeAt(end) !== 92 && text.charCodeAt(end) !== 34) end++;
    const sent = parseFloat(text.slice(at + TS_MARK.length, end));
    if (phase !== null && sent >= phase.start) {
      phase.received++;
      phase.lastReceipt = now;
      phase.latencies.push(now - sent);
    } else {
      stale++; // sent in an earlier phase and arrived after it ended
    }
    return;
  }
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    otherTypes.unparseable = (otherTypes.unparseable || 0) + 1;
    return;
  }
  if (msg.type === "joined") {
    client.joined = true;
    client.peerPresent = Boolean(msg.peer && msg.peer.present && msg.peer.state !== "reconnecting");
    if (client.onJoined) client.onJoined();
  } else if (msg.type === "peer_joined") {
    client.peerPresent = true;
  } else if (msg.type === "error") {
    errors[msg.code] = (errors[msg.code] || 0) + 1;
    if (phase !== null) phase.errors++;
  } else {
    otherTypes[msg.type] = (otherTypes[msg.type] || 0) + 1;
  }
}

// --- connect ---------------------------------------------------------------------------------------

function checkUrl(url) {
  const u = new URL(url);
  if (u.hostname !== "127.0.0.1") throw new Error(`refusing non-loopback URL ${url}`);
}

function openOne(pair, side, url, ticket, protocol, timeoutMs) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const client = { ws: null, pair, side, joined: false, peerPresent: false, closed: false, sent: 0 };
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ok, client, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => {
      client.ws.terminate();
      finish(false);
    }, timeoutMs);
    client.onJoined = () => finish(true);
    const ws = new WebSocket(url, protocol, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    client.ws = ws;
    ws.on("open", () => ws.send(JSON.stringify({ type: "join", v: 1, ticket })));
    ws.on("message", (data, isBinary) => onMessage(client, data, isBinary));
    ws.on("error", () => {});
    ws.on("close", (code) => {
      client.closed = true;
      client.closeCode = code;
      closeCodes[code] = (closeCodes[code] || 0) + 1;
      finish(false);
    });
  });
}

async function connect(cmd) {
  const jobs = [];
  for (let i = 0; i < cmd.pairs.length; i++) {
    for (const side of [0, 1]) {
      checkUrl(cmd.pairs[i].urls[side]);
      jobs.push([i, side, cmd.pairs[i].urls[side], cmd.pairs[i].tickets[side]]);
    }
  }
  const timeoutMs = (cmd.timeout_s || 30) * 1000;
  const handshakeMs = [];
  let next = 0;
  let failed = 0;
  const t0 = performance.now();
  async function worker() {
    while (next < jobs.length) {
      const [pair, side, url, ticket] = jobs[next++];
      const r = await openOne(pair, side, url, ticket, cmd.protocol, timeoutMs);
      clients.push(r.client);
      if (r.ok) handshakeMs.push(r.ms);
      else failed++;
    }
  }
  await Promise.all(Array.from({ length: Math.min(cmd.concurrency || 64, jobs.length) }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  // Seats learn of their peer from `joined` or `peer_joined`; wait (bounded) until all know.
  const deadline = performance.now() + 15000;
  while (performance.now() < deadline && clients.some((c) => c.joined && !c.closed && !c.peerPresent)) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const joined = clients.filter((c) => c.joined && !c.closed).length;
  emit({
    ev: "connected",
    sockets: jobs.length,
    joined,
    failed,
    peers_ready: clients.filter((c) => c.joined && !c.closed && c.peerPresent).length,
    elapsed_s: elapsed,
    handshakes_per_s: joined / elapsed,
    handshake_ms: summary(handshakeMs),
    close_codes: { ...closeCodes },
  });
}

// --- load ------------------------------------------------------------------------------------------

async function load(cmd) {
  const senders = clients.filter((c) => c.joined && !c.closed && c.peerPresent);
  if (senders.length === 0) {
    emit({ ev: "loaded", error: "no ready sockets" });
    return;
  }
  const rate = cmd.rate;
  const perClient = rate / senders.length;
  const offerEvery = Math.max(MIN_OFFER_EVERY, Math.ceil(perClient / OFFERS_PER_CLIENT_PER_S));
  const durationMs = cmd.duration_s * 1000;
  const cpu0 = process.cpuUsage();
  phase = { start: performance.now(), received: 0, errors: 0, latencies: [], lastReceipt: 0 };
  const start = phase.start;
  let sent = 0;
  let offers = 0;
  let bytes = 0;
  let rr = 0;
  let maxLagMs = 0;
  let maxBuffered = 0;
  const closedBefore = clients.filter((c) => c.closed).length;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      const elapsed = Math.min(now - start, durationMs);
      const due = Math.floor((rate * elapsed) / 1000);
      if (due - sent > 1) maxLagMs = Math.max(maxLagMs, now - (start + ((sent + 1) * 1000) / rate));
      while (sent < due) {
        const c = senders[rr];
        rr = (rr + 1) % senders.length;
        sent++;
        if (c.closed) continue;
        const ts = performance.now();
        const text = c.sent % offerEvery === 0 ? offer(ts) : candidate(ts);
        if (c.sent % offerEvery === 0) offers++;
        c.sent++;
        bytes += text.length;
        c.ws.send(text);
        if (c.ws.bufferedAmount > maxBuffered) maxBuffered = c.ws.bufferedAmount;
      }
      if (now - start >= durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  const sendEnd = performance.now();
  const drainDeadline = sendEnd + (cmd.drain_s || 3) * 1000;
  while (performance.now() < drainDeadline && phase.received + phase.errors < sent) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const cpu = process.cpuUsage(cpu0);
  const p = phase;
  phase = null;
  const receiveSpan = Math.max(p.lastReceipt, sendEnd) - start;
  emit({
    ev: "loaded",
    rate,
    sockets: senders.length,
    sent,
    offers,
    offer_share: offers / Math.max(1, sent),
    mean_bytes: bytes / Math.max(1, sent),
    received: p.received,
    errors: p.errors,
    lost: sent - p.received - p.errors,
    send_rate: (sent * 1000) / (sendEnd - start),
    recv_rate: (p.received * 1000) / receiveSpan,
    latency_ms: summary(p.latencies),
    generator_cpu_pct: (100 * (cpu.user + cpu.system)) / 1000 / (performance.now() - start),
    generator_max_lag_ms: Math.round(maxLagMs * 100) / 100,
    max_buffered_bytes: maxBuffered,
    closed_during: clients.filter((c) => c.closed).length - closedBefore,
    stale_total: stale,
    close_codes: { ...closeCodes },
    error_codes: { ...errors },
    other_types: { ...otherTypes },
  });
}

// --- storm (bench/storm.py) ---------------------------------------------------------------------

function checkLoopback(url) {
  const u = new URL(url);
  if (u.hostname !== "127.0.0.1") throw new Error(`refusing non-loopback URL ${url}`);
}

async function storm(cmd) {
  checkLoopback(cmd.base);
  const timeoutMs = (cmd.timeout_s || 60) * 1000;
  const kinds = {};
  const fail = (kind) => {
    kinds[kind] = (kinds[kind] || 0) + 1;
  };
  const grantMs = [];
  const socketMs = [];
  const totalMs = [];
  const closeLagMs = [];
  const closeCodesHere = {};
  let joined = 0;
  let firstStart = Infinity;
  let lastGrant = 0;
  let lastJoined = 0;
  let open = 0;
  const start = performance.now() + (cmd.start_in_ms || 0);
  const closeAt = start + cmd.close_at_ms;
  const sockets = [];
  function one(person) {
    return new Promise((resolve) => {
      const t0 = performance.now();
      firstStart = Math.min(firstStart, t0);
      let ws = null;
      let done = false;
      const timer = setTimeout(() => finish("timeout"), timeoutMs);
      function finish(kind) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (kind) {
          fail(kind);
          if (ws) ws.terminate();
        }
        resolve();
      }
      fetch(`${cmd.base}/api/v1/chats/${person.chat}/join`, {
        method: "POST",
        headers: { Authorization: `Bearer ${person.token}` },
      })
        .then(async (resp) => {
          const body = await resp.text();
          if (resp.status !== 200) return finish(`grant_${resp.status}`);
          const grant = JSON.parse(body);
          const t1 = performance.now();
          grantMs.push(t1 - t0);
          lastGrant = Math.max(lastGrant, t1);
          checkLoopback(grant.ws_url.replace(/^ws/, "http"));
          ws = new WebSocket(grant.ws_url, cmd.protocol, { perMessageDeflate: false });
          sockets.push(ws);
          ws.on("open", () => {
            open++;
            ws.send(JSON.stringify({ type: "join", v: 1, ticket: grant.ticket }));
          });
          ws.on("message", (data) => {
            const msg = JSON.parse(data.toString());
            if (msg.type === "joined" && !done) {
              const t2 = performance.now();
              socketMs.push(t2 - t1);
              totalMs.push(t2 - t0);
              lastJoined = Math.max(lastJoined, t2);
              joined++;
              finish(null);
            } else if (msg.type === "error") {
              fail(`error_${msg.code}`);
            }
          });
          ws.on("error", () => {});
          ws.on("close", (code) => {
            open--;
            closeCodesHere[code] = (closeCodesHere[code] || 0) + 1;
            if (performance.now() >= closeAt) closeLagMs.push(performance.now() - closeAt);
            finish(`closed_${code}`); // only counts when it closed before `joined`
          });
        })
        .catch((err) => finish(`grant_${(err && err.cause && err.cause.code) || "failed"}`));
    });
  }
  const jobs = cmd.people.map(
    (person) =>
      new Promise((resolve) => {
        setTimeout(() => one(person).then(resolve), Math.max(0, start + person.at_ms - performance.now()));
      }),
  );
  await Promise.all(jobs);
  const joinedBy = performance.now();
  // Every socket now waits for the rooms' close (4009 after room_closing), bounded.
  const deadline = closeAt + timeoutMs;
  while (open > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const stillOpen = open;
  for (const ws of sockets) if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  emit({
    ev: "stormed",
    people: cmd.people.length,
    joined,
    errors: kinds,
    grant_ms: summary(grantMs),
    socket_ms: summary(socketMs),
    total_ms: summary(totalMs),
    span_s: (Math.max(lastJoined, lastGrant) - firstStart) / 1000,
    grant_span_s: (lastGrant - firstStart) / 1000,
    last_joined_s: (lastJoined - start) / 1000,
    joined_after_close_s: (joinedBy - closeAt) / 1000,
    close_lag_ms: summary(closeLagMs),
    close_codes: closeCodesHere,
    still_open: stillOpen,
  });
}

// --- close -------------------------------------------------------------------------------------------

async function closeAll() {
  for (const c of clients) if (!c.closed) c.ws.close(1000);
  const deadline = performance.now() + 5000;
  while (performance.now() < deadline && clients.some((c) => !c.closed)) {
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const c of clients) if (!c.closed) c.ws.terminate();
  emit({ ev: "closed" });
}

// --- main loop: one command at a time --------------------------------------------------------------

const lines = createInterface({ input: process.stdin });
const queue = [];
let busy = false;
async function pump() {
  if (busy) return;
  busy = true;
  while (queue.length) {
    const cmd = queue.shift();
    try {
      if (cmd.cmd === "connect") await connect(cmd);
      else if (cmd.cmd === "load") await load(cmd);
      else if (cmd.cmd === "storm") await storm(cmd);
      else if (cmd.cmd === "close") {
        await closeAll();
        process.exit(0);
      } else emit({ ev: "error", error: `unknown command ${cmd.cmd}` });
    } catch (err) {
      emit({ ev: "error", error: String(err && err.stack ? err.stack : err) });
    }
  }
  busy = false;
}
lines.on("line", (line) => {
  if (!line.trim()) return;
  queue.push(JSON.parse(line));
  pump();
});
lines.on("close", () => {
  // The orchestrator went away: never outlive it.
  for (const c of clients) if (!c.closed) c.ws.terminate();
  setTimeout(() => process.exit(0), 100);
});
// Hard cap on lifetime, whatever happens.
setTimeout(() => {
  log("lifetime cap reached; exiting");
  process.exit(2);
}, (Number(process.argv[2]) || 1800) * 1000).unref();
