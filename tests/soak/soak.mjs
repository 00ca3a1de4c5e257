// Soak (issue 17): one pushd under steady connection churn for a while,
// then a check that its memory, descriptors, output queues and frame pool
// come back to the level they had before the churn (README.md beside it
// gives the bounds and why).
//
// Beside the churn (connect, auth, join, send, leave, disconnect at a
// steady rate; a quarter dropped without a close frame at some step), the
// run keeps long-lived subscribers (half with permessage-deflate) and
// publishers (a steady fan-out), opens a slow reader every few seconds
// that stops reading until pushd closes it as a slow consumer (4008),
// floods from a connection every few seconds until pushd closes it for
// its rate (1008), and restarts Redis once, halfway. Every few seconds it
// samples pushd's RSS and descriptors (/proc/<pid>) and its connections,
// queued_bytes and frame pool (/metrics). After the churn it waits for the
// bounds to hold on two samples in a row, then checks the fan-out: every
// acknowledged message reached every long-lived subscriber of its group
// once.
//
//   node tests/soak/soak.mjs [--duration S] [--rate N] [--seed N] [--json FILE] [--logs DIR]
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

import { Pushd, parseArgs, runClock, sleep, startRedis, token, waitUntil } from '../js/harness.mjs';
import { makeRng } from '../faults/faults.mjs';

const require = createRequire(new URL('../js/package.json', import.meta.url));
const WebSocket = require('ws');

const args = parseArgs(process.argv.slice(2));
const SEED = Number(args.seed ?? 1);
const CHURN_MS = Number(args.duration ?? 60) * 1000;
const CHURN_PER_S = Number(args.rate ?? 10);      // churn connections started per second
const SAMPLE_MS = Number(args['sample-ms'] ?? 2000);
const GROUPS = ['g0', 'g1', 'g2', 'g3'];
const SUBSCRIBERS = 8;            // long-lived, each in two groups: four per group
const PUBLISHERS = 2;             // long-lived, one message each per PUBLISH_MS
const PUBLISH_MS = 100;
const SLOW_READER_EVERY_MS = 10000;
const FLOOD_EVERY_MS = 4000;
const FLOOD_BATCH = 500;          // pings sent at once, every FLOOD_BATCH_MS until closed:
const FLOOD_BATCH_MS = 100;       // 5,000 a second, far past 8x the rate (50) within a second
const BULK_CONTENT = 40000;       // bytes of one message to a slow reader's group
const BULK_MAX_BYTES = 64 << 20;  // a slow reader not closed after this much is a failure
const BULK_PER_S = 40;            // bulk messages a second: under MessagesPerSecond (50)
const BULK_MAX_MS = 30000;        // or after this long (Redis restarting included)
const REQUEST_TIMEOUT_MS = 10000; // an unanswered request is a failure
const CHURN_STAY_MS = 3000;       // a churn connection stays joined up to this long
const CHURN_MAX_OPEN = 300;       // churn connections in flight; more is a failure to keep up
const RECOVERY_MS = 30000;        // after the churn, time for the levels to come back
const MAX_QUEUE_BYTES = 262144;

// The bounds (README.md says why): levels after the churn against the
// baseline sampled before it.
const BOUNDS = {
  connections: { slack: 0, why: 'every churn, slow and flooding connection is closed and freed' },
  online_users: { slack: 0, why: 'every churn user went offline' },
  groups: { slack: 0, why: 'groups joined only by closed connections are gone' },
  fds: { slack: 0, why: 'every socket the churn opened is closed (Redis links reconnected, no more)' },
  queued_bytes: { absolute: 64 << 10, why: 'nothing queued but the steady fan-out in flight (a few frames)' },
  frames_live: { slack: 64, why: 'no frame reference lost: only the fan-out in flight and the heartbeat ping frame beyond the baseline' },
  frame_bytes_live: { slack: 256 << 10, why: 'no slow reader\'s 40 KB frame kept' },
  rss: { slack: Number(args['rss-slack-mb'] ?? 8) << 20, why: 'allocator retention after peaks, not growth with connections churned' },
};

const { now, log } = runClock();
const mib = (b) => `${(b / 1048576).toFixed(1)} MiB`;

const PUSHD_EXTRA = [
  'Groups:',
  '  HistorySize: 100',
  'Limits:',
  '  MessagesPerSecond: 50',
  '  Burst: 100',
  `  MaxQueueBytes: ${MAX_QUEUE_BYTES}`,
  'Compression:',
  '  Enabled: true',
].join('\n');

// ---- observing pushd -------------------------------------------------------

function httpGet(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

async function metrics(pushd) {
  const { body } = await httpGet(pushd.port, '/metrics');
  const m = {};
  for (const line of body.split('\n')) {
    const hit = /^([a-z_]+) (\S+)$/.exec(line);
    if (hit) m[hit[1]] = Number(hit[2]);
  }
  return m;
}

// One sample: RSS and descriptors from /proc (before the /metrics request,
// whose own socket would count), then pushd's gauges.
async function sample(pushd, phase) {
  const pid = pushd.child.proc.pid;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  const m = await metrics(pushd);
  return {
    t: now(),
    phase,
    rss,
    fds,
    connections: m.pushd_connections,
    online_users: m.pushd_online_users,
    groups: m.pushd_groups,
    queued_bytes: m.pushd_queued_bytes,
    frames_live: m.pushd_frames_live,
    frame_bytes_live: m.pushd_frame_bytes_live,
  };
}

// What exceeds its bound in `s` against `base`; [] when everything holds.
function overBounds(s, base) {
  const over = [];
  for (const [key, b] of Object.entries(BOUNDS)) {
    const limit = b.absolute !== undefined ? b.absolute : base[key] + b.slack;
    if (!(s[key] <= limit)) {
      const show = key === 'rss' ? mib : String;
      over.push(`${key}: ${show(s[key])} after the churn, baseline ${show(base[key])}, bound ${show(limit)}: ` +
        `${show(s[key] - limit)} over (${b.why})`);
    }
  }
  return over;
}

// ---- clients ---------------------------------------------------------------

// A raw WebSocket with request/answer matching by message_id, every close
// recorded. `onMessage` sees every parsed server message.
class Conn {
  constructor(url, { deflate, onMessage } = {}) {
    this.ws = new WebSocket(url, { perMessageDeflate: deflate ? {} : false, handshakeTimeout: REQUEST_TIMEOUT_MS });
    this.pending = new Map();
    this.first = [];
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = String(reason);
        for (const [, p] of this.pending) p.reject(new Error(`closed ${code} while waiting for ${p.what}`));
        this.pending.clear();
        resolve(code);
      });
    });
    this.ws.on('error', (e) => (this.error = e));
    this.ws.on('message', (data) => {
      let m;
      try {
        m = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (onMessage) onMessage(m);
      const key = m.type === 'auth_success' || m.type === 'auth_failed' ? '@auth' : m.message_id;
      const p = this.pending.get(key);
      if (p && m.type !== 'new_message' && m.type !== 'notification') {
        this.pending.delete(key);
        clearTimeout(p.timer);
        p.resolve(m);
      } else if (key === '@auth') {
        this.first.push(m);  // auth at the handshake: auth_success comes unasked
      }
    });
  }

  opened() {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState === WebSocket.OPEN) return resolve();
      this.ws.once('open', resolve);
      this.ws.once('close', () => reject(new Error(`closed before open: ${this.error ? this.error.message : ''}`)));
    });
  }

  get extensions() {
    return this.ws.extensions || '';
  }

  // Sends `msg` and resolves with its answer (by message_id; `auth` by type).
  ask(msg, what = msg.type) {
    const key = msg.type === 'auth' ? '@auth' : msg.message_id;
    const answered = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new Error(`no answer to ${what} within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(key, { resolve, reject, timer, what });
    });
    this.ws.send(JSON.stringify(msg));
    return answered;
  }

  // Auth at the handshake (?token=): auth_success is the first message.
  waitFirst(what) {
    if (this.first.length) return Promise.resolve(this.first.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
      this.pending.set('@auth', { resolve: (m) => { clearTimeout(timer); resolve(m); }, reject, timer, what });
    });
  }

  // A clean close (close frame both ways); resolves with the code seen.
  async close() {
    this.ws.close(1000);
    return this.closedWithin(REQUEST_TIMEOUT_MS);
  }

  // Dropped without a close frame.
  drop() {
    this.ws.terminate();
  }

  closedWithin(ms) {
    return Promise.race([this.closed, sleep(ms).then(() => {
      throw new Error(`not closed within ${ms} ms`);
    })]);
  }
}

let requestSeq = 0;
const request = (type, data) => ({ type, message_id: `r${++requestSeq}`, ...(data ? { data } : {}) });

async function authed(url, user, { deflate, onMessage, inHandshake = false } = {}) {
  const conn = new Conn(inHandshake ? `${url}?token=${token(user)}` : url, { deflate, onMessage });
  await conn.opened();
  const a = inHandshake ? await conn.waitFirst('auth_success') : await conn.ask(request('auth', { token: token(user) }));
  if (a.type !== 'auth_success') throw new Error(`auth as ${user}: ${JSON.stringify(a)}`);
  return conn;
}

function expectAck(ack, what) {
  if (ack.type !== 'ack' || !ack.data.success) throw new Error(`${what}: ${JSON.stringify(ack)}`);
  return ack;
}

// ---- the load --------------------------------------------------------------

// Long-lived subscribers: what each received, by sender/client_message_id.
async function startSubscribers(url, stats) {
  const subs = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const sub = { user: `sub${i}`, groups: [GROUPS[i % GROUPS.length], GROUPS[(i + 1) % GROUPS.length]], got: new Map() };
    sub.conn = await authed(url, sub.user, {
      deflate: i % 2 === 0,
      onMessage: (m) => {
        if (m.type !== 'new_message') return;
        const k = `${m.data.group_id}/${m.data.sender_id}/${m.data.client_message_id}`;
        sub.got.set(k, (sub.got.get(k) || 0) + 1);
        stats.deliveries++;
      },
    });
    for (const g of sub.groups) expectAck(await sub.conn.ask(request('join_group', { group_id: g })), `${sub.user} join ${g}`);
    subs.push(sub);
  }
  return subs;
}

// Publishers: a message every PUBLISH_MS each, round robin over the groups,
// until stop(); acked ones are remembered, 503s (Redis restarting) counted.
function startPublishers(url, stats, acked) {
  const pubs = [];
  let running = true;
  const loops = [];
  for (let i = 0; i < PUBLISHERS; i++) {
    const pub = { user: `pub${i}`, seq: 0 };
    pubs.push(pub);
    loops.push((async () => {
      pub.conn = await authed(url, pub.user, { deflate: i % 2 === 1 });
      const inFlight = new Set();
      let next = Date.now();
      while (running) {
        const group = GROUPS[pub.seq % GROUPS.length];
        const mid = `${pub.user}-${pub.seq++}`;
        const p = pub.conn.ask({ type: 'send_message', message_id: mid, data: { group_id: group, msg_type: 1, content: `steady fan-out ${mid} `.repeat(4) } })
          .then((ack) => {
            if (ack.data && ack.data.success) acked.push(`${group}/${pub.user}/${mid}`);
            else if (ack.data && ack.data.code === 503) stats.publish503++;
            else stats.problems.push(`publisher ${pub.user} ${mid}: ${JSON.stringify(ack)}`);
          }, (e) => stats.problems.push(`publisher ${pub.user} ${mid}: ${e.message}`))
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        next += PUBLISH_MS;
        await sleep(Math.max(0, next - Date.now()));
      }
      await Promise.all(inFlight);
    })());
  }
  return { pubs, ready: () => waitUntil(() => pubs.every((p) => p.conn), 10000, 'publishers'), stop: async () => {
    running = false;
    await Promise.all(loops);
  } };
}

// One churn connection: connect, auth, join (a fifth with a replay of the
// retained history), send, stay a while receiving the fan-out, leave,
// close; a quarter dropped without a close frame at a random step instead.
async function churnOne(url, rng, stats, acked, n) {
  const user = `churn${n % 500}`;
  const deflate = rng() < 0.5;
  const inHandshake = rng() < 0.2;
  const dropAt = rng() < 0.25 ? ['open', 'auth', 'join', 'send', 'stay'][Math.floor(rng() * 5)] : null;
  const group = GROUPS[Math.floor(rng() * GROUPS.length)];
  const replay = rng() < 0.2;
  const stayMs = rng() * CHURN_STAY_MS;
  let conn = null;
  try {
    if (dropAt === 'open') {
      conn = new Conn(url, { deflate });
      await conn.opened();
      conn.drop();
      stats.churnDropped++;
      return;
    }
    conn = await authed(url, user, { deflate, inHandshake });
    if (deflate && !/permessage-deflate/.test(conn.extensions)) stats.problems.push('permessage-deflate offered but not negotiated');
    if (dropAt === 'auth') {
      conn.drop();
      stats.churnDropped++;
      return;
    }
    const joined = await conn.ask(request('join_group', { group_id: group, ...(replay ? { since: '0' } : {}) }));
    if (replay && joined.type === 'ack' && joined.data.code === 503) {
      stats.churn503++;  // history unreadable while Redis restarts: not subscribed
      await conn.close();
      return;
    }
    expectAck(joined, `${user} join ${group}${replay ? ' since 0' : ''}`);
    if (dropAt === 'join') {
      conn.drop();
      stats.churnDropped++;
      return;
    }
    const mid = `c${n}`;
    const send = conn.ask({ type: 'send_message', message_id: mid, data: { group_id: group, msg_type: 1, content: `churn ${mid}` } });
    if (dropAt === 'send') {  // before its ack: the message may or may not be stored
      conn.drop();
      send.catch(() => {});
      stats.churnDropped++;
      return;
    }
    const ack = await send;
    if (ack.data && ack.data.success) acked.push(`${group}/${user}/${mid}`);
    else if (ack.data && ack.data.code === 503) stats.churn503++;
    else throw new Error(`send: ${JSON.stringify(ack)}`);
    await sleep(stayMs);
    if (dropAt === 'stay') {
      conn.drop();
      stats.churnDropped++;
      return;
    }
    expectAck(await conn.ask(request('leave_group', { group_id: group })), `${user} leave ${group}`);
    const code = await conn.close();
    stats.churnCloseCodes[code] = (stats.churnCloseCodes[code] || 0) + 1;
    stats.churnClean++;
  } catch (e) {
    stats.problems.push(`churn connection ${n} (${user}, ${deflate ? 'deflate' : 'plain'}): ${e.message}`);
    if (conn) conn.drop();
  }
}

// Churn at a steady rate until `stopAt`; resolves when every one has ended.
async function runChurn(url, rng, stats, acked, stopAt) {
  const running = new Set();
  const period = 1000 / CHURN_PER_S;
  let n = 0;
  const start = Date.now();
  while (now() < stopAt) {
    if (running.size >= CHURN_MAX_OPEN) {
      stats.problems.push(`churn fell behind: ${running.size} connections still in their script at ${(now() / 1000).toFixed(1)}s`);
      break;
    }
    const p = churnOne(url, rng, stats, acked, n++).finally(() => running.delete(p));
    running.add(p);
    stats.churnStarted++;
    stats.churnPeakOpen = Math.max(stats.churnPeakOpen, running.size);
    await sleep(Math.max(0, start + n * period - Date.now()));
  }
  await Promise.all(running);
}

// Slow readers, one at a time: joins the bulk group and stops reading;
// the bulk publisher sends 40 KB messages there until pushd counts a slow
// consumer close; then the reader reads again and must see its close.
async function runSlowReaders(url, pushd, bulk, stats, stopAt, redisState) {
  let n = 0;
  while (now() + SLOW_READER_EVERY_MS <= stopAt) {
    const episodeStart = now();
    await redisState.up;  // the bulk sends need Redis
    const group = 'bulk';  // one at a time: Redis keeps one capped history of 40 KB messages
    const user = `slow${n++}`;
    const reader = await authed(url, user, { deflate: n % 3 === 0 });
    let received = 0;
    reader.ws.on('message', () => received++);
    expectAck(await reader.ask(request('join_group', { group_id: group })), `${user} join`);
    reader.ws.pause();
    const closesBefore = (await metrics(pushd)).pushd_slow_consumer_closes_total;
    let sentBytes = 0;
    let closedByServer = false;
    let seq = 0;
    const inFlight = new Set();
    let next = Date.now();
    for (let tick = 1; !closedByServer && sentBytes < BULK_MAX_BYTES && now() - episodeStart < BULK_MAX_MS; tick++) {
      // Paced at BULK_PER_S (under the rate limit), 8 in flight at most.
      if (inFlight.size < 8) {
        const content = randomBytes(BULK_CONTENT * 3 / 4).toString('base64');
        const p = bulk.ask({ type: 'send_message', message_id: `${user}-${seq++}`, data: { group_id: group, msg_type: 1, content } })
          .then((ack) => {
            if (ack.data && ack.data.success) sentBytes += content.length;
          }, () => {}).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      next += 1000 / BULK_PER_S;
      await sleep(Math.max(0, next - Date.now()));
      if (tick % 8 === 0) closedByServer = (await metrics(pushd)).pushd_slow_consumer_closes_total > closesBefore;
    }
    await Promise.all(inFlight);
    if (!closedByServer) {
      stats.problems.push(`slow reader ${user}: not closed as a slow consumer after ${mib(sentBytes)} sent to its group in ${((now() - episodeStart) / 1000).toFixed(1)}s`);
      reader.drop();
      continue;
    }
    reader.ws.resume();
    const code = await reader.closedWithin(REQUEST_TIMEOUT_MS).catch((e) => {
      stats.problems.push(`slow reader ${user}: ${e.message} after pushd counted its slow consumer close`);
      reader.drop();
      return 'none';
    });
    stats.slowReaders++;
    stats.slowCloseCodes[code] = (stats.slowCloseCodes[code] || 0) + 1;
    stats.slowBytes.push(sentBytes);
    log(`slow reader ${user}: closed ${code} after ${mib(sentBytes)} sent, ${received} frames read, ${((now() - episodeStart) / 1000).toFixed(1)}s`);
    await sleep(Math.max(0, episodeStart + SLOW_READER_EVERY_MS - now()));
  }
}

// Floods: a connection sends pings in batches until it is closed. Plain
// frames: compressing them (ws's zlib on a busy machine) may pace a flood
// below 8x the rate, which the contract does not call abuse.
async function runFloods(url, stats, stopAt) {
  let n = 0;
  while (now() + FLOOD_EVERY_MS <= stopAt) {
    const start = now();
    const user = `flood${n++}`;
    try {
      const c = await authed(url, user);
      let sent = 0;
      const pump = setInterval(() => {
        for (let i = 0; i < FLOOD_BATCH && c.ws.readyState === WebSocket.OPEN; i++) c.ws.send(`{"type":"ping","message_id":"f${sent++}"}`);
      }, FLOOD_BATCH_MS);
      const code = await c.closedWithin(REQUEST_TIMEOUT_MS).catch((e) => {
        c.drop();
        throw new Error(`${e.message} (${sent} pings sent)`);
      }).finally(() => clearInterval(pump));
      stats.floods++;
      stats.floodPings.push(sent);
      stats.floodCloseCodes[code] = (stats.floodCloseCodes[code] || 0) + 1;
    } catch (e) {
      stats.problems.push(`flooding connection ${user}: ${e.message}`);
    }
    await sleep(Math.max(0, start + FLOOD_EVERY_MS - now()));
  }
}

// ---- the run ---------------------------------------------------------------

async function main() {
  const rng = makeRng(SEED);
  log(`soak: ${CHURN_MS / 1000}s of churn at ${CHURN_PER_S}/s, seed ${SEED}`);
  const stats = {
    problems: [], deliveries: 0, publish503: 0, churn503: 0,
    churnStarted: 0, churnClean: 0, churnDropped: 0, churnPeakOpen: 0, churnCloseCodes: {},
    slowReaders: 0, slowCloseCodes: {}, slowBytes: [], floods: 0, floodCloseCodes: {}, floodPings: [],
  };
  const samples = [];
  let redis = null;
  let pushd = null;
  let exitCode = 1;
  // Interrupted (ctest's timeout, ^C): the processes started here go too.
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, async () => {
      console.log(`FAILED (seed ${SEED}): interrupted by ${sig}`);
      if (pushd) await pushd.stop('SIGKILL').catch(() => {});
      if (redis) await redis.stop().catch(() => {});
      process.exit(1);
    });
  }
  try {
    // Append-only with fsync always: the restart is an outage, not a loss,
    // so every acknowledged message must still reach the subscribers.
    redis = await startRedis({ appendonly: true });
    pushd = await new Pushd(redis.port, { extra: PUSHD_EXTRA, name: 'soak' }).start();
    const url = pushd.url;
    const acked = [];
    const subs = await startSubscribers(url, stats);
    const publishers = startPublishers(url, stats, acked);
    await publishers.ready();
    // The slow readers' bulk publisher: long-lived, so part of the baseline.
    const bulk = await authed(url, 'bulk-publisher');
    // The steady state: fan-out running for a few seconds.
    await sleep(3000);
    const base = [];
    for (let i = 0; i < 3; i++) {
      base.push(await sample(pushd, 'baseline'));
      await sleep(1000);
    }
    // RSS and the frame pool at their highest of the three; counts must agree.
    const baseline = { ...base[base.length - 1] };
    for (const k of ['rss', 'frames_live', 'frame_bytes_live', 'queued_bytes']) baseline[k] = Math.max(...base.map((s) => s[k]));
    samples.push(...base);
    log(`baseline: rss ${mib(baseline.rss)}, fds ${baseline.fds}, connections ${baseline.connections}, frames ${baseline.frames_live}`);

    const stopAt = now() + CHURN_MS;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push(await sample(pushd, 'churn').catch((e) => ({ t: now(), phase: 'churn', error: e.message })));
        await sleep(SAMPLE_MS);
      }
    })();
    // Redis restarted once, halfway; the slow readers wait for it.
    const redisState = { up: Promise.resolve() };
    const restart = (async () => {
      await sleep(CHURN_MS / 2);
      let markUp;
      redisState.up = new Promise((r) => (markUp = r));
      const down = now();
      await redis.stop();
      log('redis stopped');
      await sleep(1000);
      await redis.start();
      await waitUntil(async () => (await pushd.health()) === 200, 30000, 'pushd /health 200 after the Redis restart');
      stats.redisOutageMs = now() - down;
      log(`redis back; pushd healthy after ${stats.redisOutageMs} ms`);
      markUp();
    })();
    await Promise.all([
      runChurn(url, rng, stats, acked, stopAt),
      runSlowReaders(url, pushd, bulk, stats, stopAt, redisState),
      runFloods(url, stats, stopAt),
      restart,
    ]);
    sampling = false;
    await sampler;
    const churnEnd = now();
    log(`churn over: ${stats.churnStarted} connections (${stats.churnDropped} dropped without a close frame), ` +
      `${stats.slowReaders} slow readers, ${stats.floods} floods`);

    // Recovery: the bounds hold on two samples in a row.
    let after = null;
    let lastOver = [];
    let held = 0;
    const recoveryDeadline = now() + RECOVERY_MS;
    while (now() < recoveryDeadline) {
      const s = await sample(pushd, 'after');
      samples.push(s);
      lastOver = overBounds(s, baseline);
      held = lastOver.length ? 0 : held + 1;
      if (held === 2) {
        after = s;
        break;
      }
      await sleep(1000);
    }
    const recoveredMs = now() - churnEnd;
    if (!after) {
      after = samples[samples.length - 1];
      for (const o of lastOver) stats.problems.push(`did not return to the baseline within ${RECOVERY_MS / 1000}s: ${o}`);
    }

    // The fan-out: every acknowledged message reached each subscriber of its
    // group exactly once.
    await publishers.stop();
    const lost = [];
    await waitUntil(() => {
      lost.length = 0;
      for (const k of acked) {
        const g = k.split('/')[0];
        for (const sub of subs) if (sub.groups.includes(g) && !sub.got.has(k)) lost.push(`${sub.user} ${k}`);
      }
      return lost.length === 0;
    }, 15000, 'the fan-out').catch(() => {});
    if (lost.length) stats.problems.push(`${lost.length} acknowledged messages not delivered to a subscriber of their group: ${lost.slice(0, 5).join(', ')}`);
    for (const sub of subs) {
      const twice = [...sub.got].filter(([, c]) => c > 1);
      if (twice.length) stats.problems.push(`${sub.user} received ${twice.length} messages more than once: ${twice.slice(0, 3).map(([k]) => k).join(', ')}`);
      if (sub.conn.closeCode !== undefined) stats.problems.push(`subscriber ${sub.user} was closed (${sub.conn.closeCode})`);
    }
    const m = await metrics(pushd);
    if (m.pushd_slow_consumer_closes_total !== stats.slowReaders) {
      stats.problems.push(`pushd counted ${m.pushd_slow_consumer_closes_total} slow consumer closes for ${stats.slowReaders} slow readers`);
    }
    if (m.pushd_rate_limit_closes_total !== stats.floods) {
      stats.problems.push(`pushd counted ${m.pushd_rate_limit_closes_total} rate limit closes for ${stats.floods} flooding connections`);
    }
    if (stats.slowReaders === 0) stats.problems.push('no slow reader was closed (the run is too short?)');
    if (stats.floods === 0) stats.problems.push('no flooding connection was closed');
    if (!stats.redisOutageMs) stats.problems.push('Redis was not restarted');

    const churnSamples = samples.filter((s) => s.phase === 'churn' && !s.error);
    const peak = {};
    for (const k of Object.keys(BOUNDS)) peak[k] = Math.max(...churnSamples.map((s) => s[k]));
    const pick = (s) => Object.fromEntries(Object.keys(BOUNDS).map((k) => [k, s[k]]));
    const summary = {
      seed: SEED,
      churn_s: CHURN_MS / 1000,
      churn_connections: stats.churnStarted,
      churn_dropped: stats.churnDropped,
      churn_close_codes: stats.churnCloseCodes,
      churn_peak_open: stats.churnPeakOpen,
      slow_readers: stats.slowReaders,
      slow_close_codes: stats.slowCloseCodes,
      slow_mib_to_close: stats.slowBytes.length ? +(stats.slowBytes.reduce((a, b) => a + b, 0) / stats.slowBytes.length / 1048576).toFixed(1) : 0,
      floods: stats.floods,
      flood_close_codes: stats.floodCloseCodes,
      flood_pings_max: Math.max(0, ...stats.floodPings),
      redis_outage_ms: stats.redisOutageMs,
      acked_messages: acked.length,
      deliveries: stats.deliveries,
      publish_503: stats.publish503 + stats.churn503,
      recovered_ms: recoveredMs,
      baseline: pick(baseline),
      peak,
      after: pick(after),
      problems: stats.problems.length,
    };
    console.log(`SOAK ${JSON.stringify(summary)}`);
    if (args.json) fs.writeFileSync(args.json, `${JSON.stringify({ ...summary, samples }, null, 2)}\n`);
    for (const c of [...subs.map((sub) => sub.conn), ...publishers.pubs.map((p) => p.conn), bulk]) c.drop();
    if (stats.problems.length) {
      console.log(`FAILED (seed ${SEED}): ${stats.problems.length} problems`);
      for (const p of stats.problems.slice(0, 40)) console.log(`  - ${p}`);
    } else {
      log(`PASSED: rss ${mib(baseline.rss)} -> peak ${mib(peak.rss)} -> ${mib(after.rss)}, fds ${baseline.fds} -> ${peak.fds} -> ${after.fds}, ` +
        `frames ${baseline.frames_live} -> ${peak.frames_live} -> ${after.frames_live}, back in ${recoveredMs} ms`);
      exitCode = 0;
    }
  } catch (e) {
    console.log(`FAILED (seed ${SEED}): ${e && e.stack || e}`);
  } finally {
    if (exitCode !== 0 && pushd) {
      const keep = `${args.logs || '/tmp'}/soak-${SEED}-pushd.log`;
      fs.writeFileSync(keep, pushd.log());
      console.log(`pushd log: ${keep}`);
    }
    if (pushd) await pushd.stop().catch(() => {});
    if (redis) await redis.stop().catch(() => {});
  }
  process.exit(exitCode);
}

main();
