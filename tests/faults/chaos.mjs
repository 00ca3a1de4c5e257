// Overlapping faults against real processes, checked against what Redis
// holds (issue 12; PROTOCOL.md sections 3 and 5).
//
// One redis-server (append-only, fsync always, padded so that a restart
// answers -LOADING for a while), two pushd instances, a TCP proxy between
// each pushd and Redis and one in front of each pushd, and the shipped
// JavaScript client as every subscriber and sender (each client dials the
// two instances in turn, so a retry after a lost ack goes to the other
// one). Faults are drawn from a seeded generator and overlap: an instance
// killed and restarted while Redis is down, Redis restarted while re-joins
// and inbox replays are in flight, Redis loading after a restart, acks
// black-holed so that retries go to the other instance, links cut or hung.
// After the faults, everything is restored and the run waits for
// quiescence, then checks:
//   - every acknowledged message is stored once per (user, group, message_id);
//   - every subscriber received every stored message of its groups exactly
//     once, in stored order (the same order on every connection), and no
//     connection carried a frame twice or out of order;
//   - every stored user-targeted notification reached each target user
//     exactly once;
//   - no client gave up (every one open, every send acknowledged).
// A failure prints the seed, the client, the ids and the faults around them.
//
//   node tests/faults/chaos.mjs [--seed N] [--duration S] [--clients N] [--senders N] [--json FILE]
import { createRequire } from 'node:module';
import fs from 'node:fs';

import { PushdClient } from '../../clients/js/pushd-client.js';
import { Pushd, parseArgs, runClock, sleep, startProxy, startRedis, token, waitUntil } from '../js/harness.mjs';
import { FAULTS, REQUIRED_FAULTS, makeRng } from './faults.mjs';

const require = createRequire(new URL('../js/package.json', import.meta.url));
const WebSocket = require('ws');

const args = parseArgs(process.argv.slice(2));
const SEED = Number(args.seed ?? 1);
const DURATION_MS = Number(args.duration ?? 60) * 1000;
const SUBSCRIBERS = Number(args.clients ?? 12);
const SENDERS = Number(args.senders ?? 3);
const GROUPS = ['g0', 'g1', 'g2', 'g3'];
const QUIESCE_MS = 90000;
const PREFIX = 'pushd:';

const { t0, now, log } = runClock();

// ---- the system under test ------------------------------------------------

const PUSHD_EXTRA = [
  'Groups:',
  '  HistorySize: 1000000',
  'Limits:',
  '  MessagesPerSecond: 10000',
  '  Burst: 20000',
].join('\n');

async function startSystem() {
  const redis = await startRedis({ appendonly: true, extraArgs: ['--enable-debug-command', 'yes'] });
  // Padding: 500k keys make a restart answer -LOADING for a while (0.5 s
  // on an idle machine, more on a busy one).
  await redis.cli('DEBUG', 'POPULATE', '500000', 'chaos-pad', '64');
  await redis.cli('BGREWRITEAOF');
  await waitUntil(async () => /aof_rewrite_in_progress:0/.test(await redis.cli('INFO', 'persistence')) &&
    !/aof_rewrite_scheduled:1/.test(await redis.cli('INFO', 'persistence')), 60000, 'the AOF rewrite');
  const redisLinks = [await startProxy(redis.port), await startProxy(redis.port)];
  const instances = [];
  const clientLinks = [];
  for (let i = 0; i < 2; i++) {
    const p = new Pushd(redisLinks[i].port, { extra: PUSHD_EXTRA, name: `chaos-${i}` });
    await p.start();
    instances.push(p);
    clientLinks.push(await startProxy(p.port));
  }
  return { redis, redisLinks, instances, clientLinks };
}

async function stopSystem(sys) {
  for (const c of sys.clientLinks || []) await c.close().catch(() => {});
  for (const p of sys.instances || []) await p.stop('SIGKILL').catch(() => {});
  for (const r of sys.redisLinks || []) await r.close().catch(() => {});
  if (sys.redis) await sys.redis.stop().catch(() => {});
}

// ---- clients --------------------------------------------------------------

const CLIENT_OPTIONS = {
  WebSocket: null, // set per client (records frames)
  pingInterval: 1000,
  pongTimeout: 2000,
  connectTimeout: 4000,
  reconnectDelay: 100,
  maxReconnectDelay: 2000,
  requestTimeout: 60000,
  retryDelay: 100,
  maxRetryDelay: 2000,
  dedupWindow: 100000,
};

// A client and what it saw: app-level events, and per connection the raw
// frames (to find a server sending a frame twice or out of order).
function makeClient(sys, user, rng, stats) {
  const rec = { user, messages: new Map(), notifications: [], connections: [], reconnects: 0, errors: [] };
  class RecordingWebSocket extends WebSocket {
    constructor(url) {
      super(url);
      const conn = { url, opened: now(), groups: new Map(), notes: [], trace: [] };
      const sendRaw = this.send.bind(this);
      this.send = (data, ...rest) => {
        try {
          const m = JSON.parse(data);
          if (m.type !== 'ping') conn.trace.push(`>${m.type}:${m.message_id}${m.data && m.data.since ? ` since ${m.data.since}` : ''}${m.data && m.data.group_id ? ` ${m.data.group_id}` : ''}`);
        } catch {
          // not ours
        }
        return sendRaw(data, ...rest);
      };
      rec.connections.push(conn);
      this.addEventListener('message', (ev) => {
        let m;
        try {
          m = JSON.parse(ev.data);
        } catch {
          return;
        }
        if (m.type !== 'pong') {
          conn.trace.push(`<${(now() / 1000).toFixed(2)} ${m.type}:${m.type === 'new_message' ? `${m.data.group_id} ` : ''}${m.message_id}${m.data && m.data.replay ? ' r' : ''}${m.type === 'ack' && !m.data.success ? ` ${m.data.code}` : ''}${m.data && m.data.replayed !== undefined ? ` replayed ${m.data.replayed}` : ''}`);
        }
        if (m.type === 'new_message') {
          if (!conn.groups.has(m.data.group_id)) conn.groups.set(m.data.group_id, []);
          conn.groups.get(m.data.group_id).push(m.data.message_id);
          stats.frames++;
        } else if (m.type === 'notification') {
          conn.notes.push(m.data.notification_id);
          stats.frames++;
        }
      });
    }
  }
  const first = Math.floor(rng() * 2);
  const urls = sys.clientLinks.map((l) => `ws://127.0.0.1:${l.port}/ws`);
  const client = new PushdClient({
    ...CLIENT_OPTIONS,
    WebSocket: RecordingWebSocket,
    url: (n) => urls[(first + n) % urls.length],
    token: () => token(user, 24 * 3600),
  });
  client.on('message', (m) => {
    if (!rec.messages.has(m.group_id)) rec.messages.set(m.group_id, []);
    rec.messages.get(m.group_id).push(m.message_id);
    stats.deliveries++;
  });
  client.on('notification', (n) => {
    rec.notifications.push(n.notification_id);
    stats.deliveries++;
  });
  client.on('state', (s) => {
    if (s.state === 'reconnecting') rec.reconnects++;
    if (s.state === 'closed') rec.errors.push(`closed: ${s.error && s.error.message}`);
  });
  client.on('error', (e) => rec.errors.push(`${e.code}: ${e.message}`));
  rec.client = client;
  return rec;
}

// ---- load -----------------------------------------------------------------

// A sender: messages to random groups, at most 4 in flight, each retried
// with the same message_id until acknowledged (the client retries 503s and
// across reconnects; a timeout is retried here).
function startSender(rec, rng, stats, stopAt) {
  rec.acked = [];
  rec.sent = 0;
  rec.gaveUp = [];
  let seq = 0;
  const one = async () => {
    const group = GROUPS[Math.floor(rng() * GROUPS.length)];
    const mid = `${rec.user}-${seq++}`;
    const content = `${rec.user}:${mid}`;
    rec.sent++;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const ack = await rec.client.send(group, content, { messageId: mid });
        rec.acked.push({ group, mid, id: ack.server_message_id, duplicate: !!ack.duplicate });
        if (ack.duplicate) stats.duplicateAcks++;
        return;
      } catch (e) {
        if (e.code !== 'timeout') {
          rec.gaveUp.push(`${mid}: ${e.code} ${e.message}`);
          return;
        }
        stats.appRetries++;
      }
    }
    rec.gaveUp.push(`${mid}: no ack after 5 timeouts`);
  };
  const loops = [];
  for (let k = 0; k < 4; k++) {
    loops.push((async () => {
      while (now() < stopAt) {
        await one();
        await sleep(50 + rng() * 200);
      }
    })());
  }
  return Promise.all(loops);
}

// A business service publishing user-targeted notifications straight to
// Redis (XADD notify); what it could not store is simply not expected.
function startNotifier(sys, users, rng, stats, stopAt) {
  return (async () => {
    while (now() < stopAt) {
      const n = 1 + Math.floor(rng() * 3);
      const targets = new Set();
      for (let i = 0; i < n; i++) targets.add(users[Math.floor(rng() * users.length)]);
      const data = JSON.stringify({ at: now() });
      try {
        await sys.redis.cli('XADD', `${PREFIX}notify`, '*', 'target', `user:${[...targets].join(',')}`, 'data', data);
        stats.notifyTries++;
      } catch {
        stats.notifyRefused++;
      }
      await sleep(200 + rng() * 300);
    }
  })();
}

// ---- faults ---------------------------------------------------------------

// Starts faults until `stopAt`, each on resources no running fault holds;
// the required kinds first (in a seeded order), then any. Faults overlap:
// the next one starts while others still run.
async function runFaults(sys, rng, timeline, stopAt) {
  const held = new Set();
  const running = [];
  const queue = [...REQUIRED_FAULTS].sort(() => rng() - 0.5);
  while (now() < stopAt) {
    const candidates = (queue.length ? queue.map((k) => FAULTS[k]) : Object.values(FAULTS));
    const free = [];
    for (const f of candidates) {
      for (const target of f.targets) {
        const res = f.resources(target);
        if (res.every((r) => !held.has(r))) free.push({ f, target, res });
      }
    }
    if (free.length) {
      const pick = free[Math.floor(rng() * free.length)];
      if (queue.length) queue.splice(queue.indexOf(pick.f.name), 1);
      for (const r of pick.res) held.add(r);
      const entry = { fault: pick.f.name, target: pick.target, start: now(), end: null, steps: [] };
      timeline.push(entry);
      log(`fault ${entry.fault} on ${entry.target}: start`);
      const step = (what) => {
        entry.steps.push(`${(now() / 1000).toFixed(1)}s ${what}`);
      };
      running.push(pick.f.run(sys, pick.target, rng, step).then(
        () => {
          entry.end = now();
          for (const r of pick.res) held.delete(r);
          log(`fault ${entry.fault} on ${entry.target}: end (${entry.steps.join('; ')})`);
        },
        (e) => {
          entry.end = now();
          entry.error = String(e && e.stack || e);
          for (const r of pick.res) held.delete(r);
          log(`fault ${entry.fault} on ${entry.target}: FAILED ${e}`);
        },
      ));
    }
    await sleep(1500 + rng() * 3000);
  }
  await Promise.all(running);
}

// After each fault's end: how long until every client was open again.
function watchRecovery(clients, timeline, stopFlag) {
  return (async () => {
    const measured = new Set();
    while (!stopFlag.done) {
      const allOpen = clients.every((c) => c.client.state === 'open');
      for (const f of timeline) {
        if (f.end !== null && !measured.has(f) && allOpen) {
          f.recoveredAfterMs = now() - f.end;
          measured.add(f);
        }
      }
      await sleep(50);
    }
  })();
}

// ---- checks ---------------------------------------------------------------

async function readStream(sys, key) {
  const raw = JSON.parse(await sys.redis.cli('--json', 'XRANGE', key, '-', '+'));
  return raw.map(([id, fields]) => {
    const f = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
    return { id, f };
  });
}

function faultsAround(timeline, atMs) {
  return timeline
    .filter((f) => f.start - 5000 <= atMs && (f.end ?? Infinity) + 5000 >= atMs)
    .map((f) => `${f.fault}@${f.target} ${(f.start / 1000).toFixed(1)}-${((f.end ?? now()) / 1000).toFixed(1)}s`);
}

function idTimeMs(id) {
  return Number(String(id).split('-')[0]) - t0;
}

async function check(sys, subscribers, senders, users, timeline) {
  const problems = [];
  const history = new Map();
  for (const g of GROUPS) history.set(g, await readStream(sys, `${PREFIX}group:${g}`));
  // Stored once per (user, group, message_id); every ack is stored.
  for (const [g, entries] of history) {
    const seen = new Map();
    for (const e of entries) {
      const k = `${e.f.sender_id}\u0000${e.f.client_message_id}`;
      if (seen.has(k)) problems.push(`group ${g}: ${e.f.sender_id}/${e.f.client_message_id} stored twice (${seen.get(k)}, ${e.id})`);
      seen.set(k, e.id);
    }
  }
  for (const s of senders) {
    for (const a of s.acked) {
      const entries = history.get(a.group);
      const e = entries.find((x) => x.id === a.id);
      if (!e) problems.push(`sender ${s.user}: ack ${a.mid} -> ${a.id} in ${a.group} is not stored`);
      else if (e.f.client_message_id !== a.mid || e.f.sender_id !== s.user) problems.push(`sender ${s.user}: ack ${a.mid} names entry ${a.id} of another message`);
    }
    for (const g of s.gaveUp) problems.push(`sender ${s.user} gave up: ${g}`);
  }
  // Every subscriber: exactly the stored history of each of its groups.
  for (const c of subscribers) {
    for (const g of c.groups) {
      const want = history.get(g).map((e) => e.id);
      const got = c.messages.get(g) || [];
      if (JSON.stringify(want) !== JSON.stringify(got)) problems.push(describeDiff(`client ${c.user} group ${g}`, want, got, timeline));
    }
    for (const [i, conn] of c.connections.entries()) {
      for (const [g, ids] of conn.groups) {
        for (let k = 1; k < ids.length; k++) {
          if (compareIds(ids[k], ids[k - 1]) <= 0) {
            const at = conn.trace.findIndex((x) => x.includes(` ${g} ${ids[k]}`));
            problems.push(`client ${c.user} connection ${i} (${conn.url}, opened ${(conn.opened / 1000).toFixed(1)}s) group ${g}: ${ids[k]} after ${ids[k - 1]} (twice or out of order); faults: ${faultsAround(timeline, idTimeMs(ids[k])).join(', ')}\n      trace: ${conn.trace.slice(0, Math.max(at + 3, 12)).slice(-40).join('\n             ')}`);
            break;
          }
        }
      }
    }
  }
  // Notifications: each stored user-targeted one to each target user once.
  const notify = await readStream(sys, `${PREFIX}notify`);
  const expect = new Map(users.map((u) => [u, []]));
  for (const e of notify) {
    const t = e.f.target || '';
    if (!t.startsWith('user:')) continue;
    for (const u of t.slice(5).split(',')) if (expect.has(u)) expect.get(u).push(e.id);
  }
  for (const c of subscribers) {
    const want = expect.get(c.user);
    const got = c.notifications;
    if (JSON.stringify([...got].sort(compareIds)) !== JSON.stringify(want) || new Set(got).size !== got.length) {
      const inbox = new Set((await readStream(sys, `${PREFIX}inbox:${c.user}`)).map((e) => e.id));
      const missingInInbox = want.filter((id) => !got.includes(id) && !inbox.has(id));
      problems.push(`${describeDiff(`client ${c.user} notifications`, want, got, timeline)}; missing and not in the inbox: ${missingInInbox.length}`);
    }
  }
  for (const c of [...subscribers, ...senders]) {
    if (c.client.state !== 'open') problems.push(`client ${c.user} is ${c.client.state} (errors: ${c.errors.slice(-3).join(' | ')})`);
  }
  return { problems, history, notify };
}

function compareIds(a, b) {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : am < bm ? -1 : 1;
}

function describeDiff(what, want, got, timeline) {
  const wantSet = new Set(want);
  const gotCount = new Map();
  for (const id of got) gotCount.set(id, (gotCount.get(id) || 0) + 1);
  const missing = want.filter((id) => !gotCount.has(id));
  const twice = [...gotCount].filter(([, n]) => n > 1).map(([id]) => id);
  const extra = got.filter((id) => !wantSet.has(id));
  let disorder = null;
  for (let i = 1; i < got.length; i++) if (compareIds(got[i], got[i - 1]) <= 0) {
    disorder = `${got[i]} after ${got[i - 1]}`;
    break;
  }
  const first = missing[0] || twice[0] || extra[0];
  const around = first ? faultsAround(timeline, idTimeMs(first)) : [];
  return `${what}: expected ${want.length}, got ${got.length}; missing ${missing.length} [${missing.slice(0, 5).join(' ')}]` +
    ` twice ${twice.length} [${twice.slice(0, 5).join(' ')}] unexpected ${extra.length} [${extra.slice(0, 5).join(' ')}]` +
    `${disorder ? `; order: ${disorder}` : ''}; faults around: ${around.join(', ') || 'none'}`;
}

// ---- the run --------------------------------------------------------------

async function main() {
  const rng = makeRng(SEED);
  log(`seed ${SEED}, ${DURATION_MS / 1000}s of faults, ${SUBSCRIBERS} subscribers, ${SENDERS} senders (t0 ${t0})`);
  const sys = {};
  const stats = { deliveries: 0, frames: 0, duplicateAcks: 0, appRetries: 0, notifyTries: 0, notifyRefused: 0 };
  const timeline = [];
  let exitCode = 1;
  try {
    Object.assign(sys, await startSystem());
    log('system up (redis, 2 pushd, 4 proxies)');
    const users = Array.from({ length: SUBSCRIBERS }, (_, i) => `s${i}`);
    // Half of the subscribers also have their groups in their group set
    // (AutoJoin subscribes them before the client's own re-join).
    const subscribers = users.map((u, i) => {
      const c = makeClient(sys, u, rng, stats);
      c.groups = [GROUPS[i % GROUPS.length], GROUPS[(i + 1) % GROUPS.length]];
      return c;
    });
    for (const [i, c] of subscribers.entries()) {
      if (i % 2 === 0) for (const g of c.groups) await sys.redis.cli('SADD', `${PREFIX}user:${c.user}:groups`, g);
    }
    await Promise.all(subscribers.map(async (c) => {
      await c.client.connect();
      for (const g of c.groups) await c.client.join(g);
    }));
    const senders = Array.from({ length: SENDERS }, (_, i) => makeClient(sys, `w${i}`, rng, stats));
    await Promise.all(senders.map((s) => s.client.connect()));
    log('clients connected and joined');

    const stopAt = now() + DURATION_MS;
    const stopFlag = { done: false };
    const recovery = watchRecovery([...subscribers, ...senders], timeline, stopFlag);
    const load = [
      ...senders.map((s) => startSender(s, rng, stats, stopAt)),
      startNotifier(sys, users, rng, stats, stopAt),
    ];
    await runFaults(sys, rng, timeline, stopAt);
    log('faults over; restoring every link and waiting for quiescence');
    for (const l of [...sys.redisLinks, ...sys.clientLinks]) {
      l.restore();
      l.refuse(false);
    }
    if (!sys.redis.running()) await sys.redis.start();
    for (const p of sys.instances) if (!p.running) await p.start({ healthy: false });
    await Promise.all(load);
    const quietStart = now();
    let result = null;
    await waitUntil(async () => {
      const all = [...subscribers, ...senders];
      if (!all.every((c) => c.client.state === 'open')) return false;
      result = await check(sys, subscribers, senders, users, timeline);
      return result.problems.length === 0;
    }, QUIESCE_MS, 'quiescence').catch(() => {});
    if (!result) result = await check(sys, subscribers, senders, users, timeline);
    stopFlag.done = true;
    await recovery;

    const stored = [...result.history.values()].reduce((n, e) => n + e.length, 0);
    const summary = {
      seed: SEED,
      duration_s: DURATION_MS / 1000,
      faults: timeline.length,
      fault_kinds: timeline.reduce((m, f) => ({ ...m, [f.fault]: (m[f.fault] || 0) + 1 }), {}),
      messages_stored: stored,
      messages_acked: senders.reduce((n, s) => n + s.acked.length, 0),
      duplicate_acks: stats.duplicateAcks,
      notifications_stored: result.notify.length,
      deliveries: stats.deliveries,
      frames: stats.frames,
      reconnects: [...subscribers, ...senders].reduce((n, c) => n + c.reconnects, 0),
      longest_recovery_ms: Math.max(0, ...timeline.map((f) => f.recoveredAfterMs ?? 0)),
      quiescence_ms: now() - quietStart,
      problems: result.problems.length,
    };
    console.log(`CHAOS ${JSON.stringify(summary)}`);
    if (args.json) fs.writeFileSync(args.json, `${JSON.stringify({ ...summary, timeline }, null, 2)}\n`);
    if (result.problems.length) {
      console.log(`FAILED (seed ${SEED}): ${result.problems.length} problems`);
      for (const p of result.problems.slice(0, 40)) console.log(`  - ${p}`);
      console.log('fault timeline:');
      for (const f of timeline) console.log(`  ${f.fault}@${f.target} ${(f.start / 1000).toFixed(1)}-${((f.end ?? 0) / 1000).toFixed(1)}s: ${f.steps.join('; ')}${f.error ? ` ERROR ${f.error}` : ''}`);
      for (const [i, p] of sys.instances.entries()) {
        const keep = `${args.logs || '/tmp'}/chaos-${SEED}-pushd${i}.log`;
        fs.writeFileSync(keep, p.log());
        console.log(`pushd ${i} log: ${keep}`);
      }
    } else {
      log(`PASSED: ${stored} messages, ${result.notify.length} notifications, ${stats.deliveries} deliveries, ${summary.reconnects} reconnects, ${timeline.length} faults`);
      exitCode = 0;
    }
    for (const c of [...subscribers, ...senders]) c.client.close();
  } catch (e) {
    console.log(`FAILED (seed ${SEED}): ${e && e.stack || e}`);
  } finally {
    await stopSystem(sys);
  }
  process.exit(exitCode);
}

main();
