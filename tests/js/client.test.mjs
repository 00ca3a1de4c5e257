// clients/js/pushd-client.js against real pushd and redis-server processes
// (node --test; the ws package is the WebSocket implementation).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';

import { PushdClient } from '../../clients/js/pushd-client.js';
import { Pushd, startProxy, startRedis, token, waitUntil } from './harness.mjs';

const FAST = { WebSocket, reconnectDelay: 50, maxReconnectDelay: 400 };

function client(t, options) {
  const c = new PushdClient({ ...FAST, ...options });
  t.after(() => c.close());
  return c;
}

function collect(c, type) {
  const out = [];
  c.on(type, (e) => out.push(e));
  return out;
}

test('reconnect after pushd is killed and restarted: what was published meanwhile arrives once, in order', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const a = await new Pushd(redis.port).start();
  t.after(() => a.stop());
  // A second instance on the same Redis takes the messages while A is down.
  const b = await new Pushd(redis.port).start();
  t.after(() => b.stop());

  let tokensFetched = 0;
  const alice = client(t, {
    url: a.url,
    token: async () => {
      tokensFetched += 1;
      return token('alice');
    },
  });
  const messages = collect(alice, 'message');
  const notes = collect(alice, 'notification');
  const states = collect(alice, 'state');
  await alice.connect();
  await alice.join('room');

  const bob = client(t, { url: b.url, token: token('bob') });
  await bob.connect();
  await bob.join('room');
  await bob.send('room', 'before');
  await waitUntil(() => messages.length === 1, 5000, 'the first message');
  await a.pushctl('notify', '--user', 'alice', '--title', 'n1');
  await waitUntil(() => notes.length === 1, 5000, 'the first notification');

  await a.stop('SIGKILL');
  await waitUntil(() => alice.state === 'reconnecting', 5000, 'alice to notice the drop');
  for (let i = 1; i <= 5; i++) await bob.send('room', `during-${i}`);
  await b.pushctl('notify', '--user', 'alice', '--title', 'n2');

  await a.start(); // the same port
  await waitUntil(() => messages.length >= 6 && notes.length >= 2, 10000, 'the missed messages and notification');
  // A live message after the replay: anything repeated would come before it.
  await bob.send('room', 'after');
  await waitUntil(() => messages.length >= 7, 5000, 'the live message after the restart');

  assert.deepEqual(
    messages.map((m) => m.content),
    ['before', 'during-1', 'during-2', 'during-3', 'during-4', 'during-5', 'after'],
  );
  assert.ok(messages.slice(1, 6).every((m) => m.replay === true), 'the missed messages came from the replay');
  assert.deepEqual(
    notes.map((n) => n.data.title),
    ['n1', 'n2'],
  );
  assert.equal(notes[1].replay, true);
  assert.ok(tokensFetched >= 2, 'a fresh token was fetched for the new connection');
  const seq = states.map((s) => s.state);
  assert.ok(seq.indexOf('reconnecting') > seq.indexOf('open'), `states: ${seq.join(' ')}`);
  assert.equal(seq.at(-1), 'open');
});

test('duplicates are dropped by message_id: a replay of messages already seen delivers nothing twice', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const a = await new Pushd(redis.port).start();
  t.after(() => a.stop());

  let replayed = 0;
  class CountingWebSocket extends WebSocket {
    constructor(url) {
      super(url);
      this.addEventListener('message', (ev) => {
        const m = JSON.parse(ev.data);
        if (m.type === 'new_message' && m.data.replay) replayed += 1;
      });
    }
  }
  const alice = client(t, { url: a.url, token: token('alice'), WebSocket: CountingWebSocket });
  const messages = collect(alice, 'message');
  await alice.connect();
  await alice.join('room');
  const bob = client(t, { url: a.url, token: token('bob') });
  await bob.connect();
  await bob.send('room', 'm1');
  await bob.send('room', 'm2');
  await waitUntil(() => messages.length === 2, 5000, 'two messages');

  // The whole history again: the server sends both once more.
  await alice.join('room', { since: '0-0' });
  await waitUntil(() => replayed === 2, 5000, 'the replay of both');
  await bob.send('room', 'm3');
  await waitUntil(() => messages.length >= 3, 5000, 'the third message');
  assert.deepEqual(
    messages.map((m) => m.content),
    ['m1', 'm2', 'm3'],
  );
});

test('send_message retried across a disconnect is stored once, with the same message_id', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const a = await new Pushd(redis.port).start();
  t.after(() => a.stop());
  const proxy = await startProxy(a.port);
  t.after(() => proxy.close());

  const sent = [];
  class RecordingWebSocket extends WebSocket {
    send(data) {
      sent.push(JSON.parse(data));
      super.send(data);
    }
  }
  const alice = client(t, {
    url: `ws://127.0.0.1:${proxy.port}/ws`,
    token: () => token('alice'),
    WebSocket: RecordingWebSocket,
  });
  const messages = collect(alice, 'message');
  await alice.connect();
  await alice.join('g2');

  // The server stores the message but its ack never reaches the client;
  // then the link drops.
  proxy.blackholeDown();
  const pending = alice.send('g2', 'once', { messageId: 'retry-1' });
  await waitUntil(async () => (await redis.cli('XLEN', 'pushd:group:g2')) === '1', 5000, 'the message to be stored');
  proxy.restore();
  proxy.cut();

  const ack = await pending;
  assert.equal(ack.success, true);
  assert.equal(ack.duplicate, true, 'the retry was recognised as one');
  const stored = (await redis.cli('XRANGE', 'pushd:group:g2', '-', '+')).split('\n');
  assert.equal(await redis.cli('XLEN', 'pushd:group:g2'), '1');
  assert.equal(ack.server_message_id, stored[0]);
  const attempts = sent.filter((f) => f.type === 'send_message');
  assert.equal(attempts.length, 2, 'sent once, retried once');
  assert.ok(attempts.every((f) => f.message_id === 'retry-1'));

  await alice.send('g2', 'next');
  await waitUntil(() => messages.length >= 2, 5000, 'the next message');
  assert.deepEqual(
    messages.map((m) => m.content),
    ['once', 'next'],
  );
});

test('a link that stops answering is found dead by the ping and replaced', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const a = await new Pushd(redis.port).start();
  t.after(() => a.stop());
  const pid = a.child.proc.pid;
  t.after(() => a.child.running && process.kill(pid, 'SIGCONT'));

  const alice = client(t, { url: a.url, token: token('alice'), pingInterval: 200, pongTimeout: 300 });
  const states = collect(alice, 'state');
  await alice.connect();
  process.kill(pid, 'SIGSTOP');
  await waitUntil(() => states.some((s) => s.state === 'reconnecting' && s.reason === 'no pong'), 5000, 'no pong');
  process.kill(pid, 'SIGCONT');
  await waitUntil(() => alice.state === 'open', 10000, 'the new connection');
  await alice.join('g3');
  const ack = await alice.send('g3', 'alive');
  assert.equal(ack.success, true);
});

test('no reconnect after 4001 without a new token; a refused request rejects with its code', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const a = await new Pushd(redis.port, { extra: 'Groups:\n  RequireMembership: true' }).start();
  t.after(() => a.stop());

  const expired = client(t, { url: a.url, token: token('carol', -10) });
  const states = collect(expired, 'state');
  await assert.rejects(expired.connect(), (e) => e.code === 'auth_failed' && /expired/.test(e.message));
  assert.equal(expired.state, 'closed');
  assert.equal(states.filter((s) => s.state === 'connecting').length, 1, 'one attempt, no reconnect');

  // A token function gets one more try with a fresh token, then stops.
  let calls = 0;
  const bad = client(t, {
    url: a.url,
    token: () => {
      calls += 1;
      return 'not-a-jwt';
    },
  });
  await assert.rejects(bad.connect(), (e) => e.code === 'auth_failed');
  assert.equal(calls, 2);

  // A live connection whose token expires: the server closes it with 4001;
  // a fixed token cannot be renewed, so the client stops. A token function
  // is called again before expiry and the connection stays.
  const short = client(t, { url: a.url, token: token('frank', 2) });
  const shortStates = collect(short, 'state');
  let refreshCalls = 0;
  const renewed = client(t, {
    url: a.url,
    token: () => {
      refreshCalls += 1;
      return token('grace', 3);
    },
  });
  const renewedStates = collect(renewed, 'state');
  await Promise.all([short.connect(), renewed.connect()]);
  const firstExpiry = renewed.expiresAt;
  await waitUntil(() => short.state === 'closed', 6000, 'the expired connection to close');
  assert.equal(shortStates.at(-1).code, 4001);
  assert.equal(shortStates.filter((s) => s.state === 'connecting').length, 1, 'no reconnect after 4001');
  await waitUntil(() => Date.now() > firstExpiry + 300, 5000, 'the first token to expire');
  assert.equal(renewed.state, 'open');
  assert.ok(refreshCalls >= 2, 'the token function was called before expiry');
  assert.ok(renewed.expiresAt > firstExpiry, 'the new token was sent on the same connection');
  assert.equal(renewedStates.filter((s) => s.state === 'connecting').length, 1, 'one connection throughout');

  const dave = client(t, { url: a.url, token: token('dave') });
  await dave.connect();
  await assert.rejects(dave.join('private'), (e) => e.code === 403);
  assert.deepEqual(dave.joinedGroups(), []);
  await assert.rejects(dave.send('private', 'x'), (e) => e.code === 403);
});

test('bounded: a full queue and a request timeout reject, reconnect attempts stop at the limit', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const a = await new Pushd(redis.port).start();
  const url = a.url;
  await a.stop();
  // Nothing listens: requests wait in the queue.
  const c = client(t, { url, token: token('erin'), maxPending: 2, requestTimeout: 300 });
  c.connect().catch(() => {});
  const first = c.send('g', '1');
  const second = c.send('g', '2');
  await assert.rejects(c.send('g', '3'), (e) => e.code === 'queue_full');
  await assert.rejects(first, (e) => e.code === 'timeout');
  await assert.rejects(second, (e) => e.code === 'timeout');
  c.close();
  await assert.rejects(c.send('g', '4'), (e) => e.code === 'closed');

  // Reconnect attempts: delays within the capped backoff, and a limit.
  const d = client(t, { url, token: token('erin'), reconnectDelay: 20, maxReconnectDelay: 60, maxReconnectAttempts: 4 });
  const states = collect(d, 'state');
  await assert.rejects(d.connect(), (e) => e.code === 'connection' && /4 reconnect attempts/.test(e.message));
  const waits = states.filter((s) => s.state === 'reconnecting');
  assert.deepEqual(
    waits.map((s) => s.attempt),
    [1, 2, 3, 4],
  );
  waits.forEach((s, i) => assert.ok(s.delay >= 0 && s.delay < Math.min(60, 20 * 2 ** i), `delay ${s.delay}`));
  assert.equal(d.state, 'closed');

  // A token function that never answers counts as a failed attempt.
  const hung = client(t, { url, token: () => new Promise(() => {}), connectTimeout: 100, maxReconnectAttempts: 1 });
  const errors = collect(hung, 'error');
  await assert.rejects(hung.connect(), (e) => e.code === 'connection');
  assert.deepEqual(
    errors.map((e) => e.code),
    ['timeout', 'timeout'],
  );
});

// Redis that keeps its data across a restart, one pushd on it, and a proxy
// in front of pushd for the client under test (to cut its link).
async function outageRig(t) {
  const redis = await startRedis({ appendonly: true });
  t.after(() => redis.stop());
  const a = await new Pushd(redis.port).start();
  t.after(() => a.stop());
  const proxy = await startProxy(a.port);
  t.after(() => proxy.close());
  return { redis, a, proxy, url: `ws://127.0.0.1:${proxy.port}/ws` };
}

// The client's link is cut and refused, `meanwhile` runs, Redis stops, and
// the client reconnects (auth_success) while Redis is down.
async function reconnectDuringOutage({ redis, a, proxy }, c, meanwhile) {
  proxy.refuse(true);
  proxy.cut();
  await meanwhile();
  await redis.stop();
  await waitUntil(async () => (await a.health()) === 503, 5000, 'pushd to see the outage');
  proxy.refuse(false);
  await waitUntil(() => c.state === 'open', 10000, 'the client to reconnect during the outage');
}

test('a reconnect during a Redis outage: the notifications missed are replayed once Redis is back, before any live one', async (t) => {
  // Issue 12, failure 3: the inbox replay failed with an error 503 and the
  // next live notification moved the resume point past the missed one.
  const rig = await outageRig(t);
  const { redis, a } = rig;
  const alice = client(t, { url: rig.url, token: token('alice') });
  const notes = collect(alice, 'notification');
  await alice.connect();
  await a.pushctl('notify', '--user', 'alice', '--title', 'n1');
  await waitUntil(() => notes.length === 1, 5000, 'the first notification');

  await reconnectDuringOutage(rig, alice, async () => {
    await a.pushctl('notify', '--user', 'alice', '--title', 'n2');
    await waitUntil(async () => (await redis.cli('XLEN', 'pushd:inbox:alice')) === '2', 5000, 'n2 in the inbox');
  });

  await redis.start();
  await waitUntil(async () => (await a.health()) === 200, 10000, 'pushd to see Redis again');
  await a.pushctl('notify', '--user', 'alice', '--title', 'n3');
  await waitUntil(() => notes.length >= 3, 10000, 'the missed and the live notification');
  await new Promise((r) => setTimeout(r, 200)); // anything repeated would show now
  assert.deepEqual(
    notes.map((n) => n.data.title),
    ['n1', 'n2', 'n3'],
  );
  assert.equal(notes[1].replay, true);
});

test('a re-join answered 503 during a Redis outage is retried with the same since: nothing lost, nothing twice, in order', async (t) => {
  // Issue 12, failure 2, from the client's side.
  const rig = await outageRig(t);
  const { redis, a } = rig;
  const alice = client(t, { url: rig.url, token: token('alice'), retryDelay: 50, maxRetryDelay: 200 });
  const messages = collect(alice, 'message');
  await alice.connect();
  await alice.join('room');
  const bob = client(t, { url: a.url, token: token('bob'), retryDelay: 50, maxRetryDelay: 200 });
  await bob.connect();
  await bob.send('room', 'm1');
  await waitUntil(() => messages.length === 1, 5000, 'm1');

  let joins503 = 0;
  await reconnectDuringOutage(rig, alice, () => bob.send('room', 'm2'));
  // Her re-join (since m1) is answered 503 and retried while Redis is away.
  const before = [...alice.pending.values()].filter((r) => r.type === 'join_group');
  assert.equal(before.length, 1, 'the re-join waits for its ack');
  await waitUntil(() => (joins503 = before[0].failures) >= 2, 5000, 'two failed tries of the re-join');
  await redis.start();
  await waitUntil(async () => (await a.health()) === 200, 10000, 'pushd to see Redis again');
  await waitUntil(() => messages.length >= 2, 10000, 'm2 replayed');
  await bob.send('room', 'm3');
  await waitUntil(() => messages.length >= 3, 5000, 'm3');
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(
    messages.map((m) => m.content),
    ['m1', 'm2', 'm3'],
  );
  assert.equal(messages[1].replay, true);
  assert.ok(joins503 >= 2);
});
