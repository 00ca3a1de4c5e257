// pushd-client.js: the pushd WebSocket client (docs/PROTOCOL.md), one
// dependency-free ES module for browsers and Node.js (pass a WebSocket
// implementation such as the `ws` package where there is no global one).
//
// It reconnects by itself (capped exponential backoff, full jitter), fetches
// a fresh token for every connection and before expiry, watches the link
// with `ping`, resumes every group with `join_group` `since` the last
// message seen and notifications with `auth` `since` the last one seen,
// drops duplicates, and retries `send_message` across a reconnect with the
// same `message_id` (the server stores it once). See README.md beside it.

const OPEN = 1;

/** Close codes after which the client does not reconnect by itself. */
const CLOSE_AUTH = 4001;
const CLOSE_BLOCKED = 4003;
const CLOSE_TOO_MANY_SESSIONS = 4009;

const DEFAULTS = {
  pingInterval: 30000,
  pongTimeout: 10000,
  connectTimeout: 10000,
  requestTimeout: 30000,
  reconnectDelay: 250,
  maxReconnectDelay: 10000,
  maxReconnectAttempts: Infinity,
  refreshBeforeExpiry: 60000,
  retryDelay: 1000,
  maxRetryDelay: 10000,
  maxPending: 1000,
  dedupWindow: 1000,
  maxGroups: 1024,
  clockSkew: 1000,
};

/**
 * An error the client reports: a failure `ack` or `error` from the server
 * (`code` is the protocol's code, e.g. 403, 422, 503), a timeout
 * (`code` 'timeout'), a closed client ('closed'), a full request queue
 * ('queue_full'), an authentication failure ('auth_failed'), a refused
 * connection ('connection').
 */
export class PushdError extends Error {
  constructor(code, message, details) {
    super(message);
    this.name = 'PushdError';
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}

/**
 * Compares two Redis stream ids ("<ms>-<seq>" or "<ms>"), as the server
 * orders them; returns <0, 0 or >0. Ids are compared as unbounded decimal
 * numbers, so sequence numbers past 2^53 compare right.
 */
export function compareStreamIds(a, b) {
  const [am, as = '0'] = String(a).split('-');
  const [bm, bs = '0'] = String(b).split('-');
  return cmpDecimal(am, bm) || cmpDecimal(as, bs);
}

function cmpDecimal(a, b) {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

// Ids seen recently, oldest evicted first, at most `limit` of them.
class RecentIds {
  constructor(limit) {
    this.limit = limit;
    this.set = new Set();
  }
  has(id) {
    return this.set.has(id);
  }
  add(id) {
    this.set.add(id);
    if (this.set.size > this.limit) this.set.delete(this.set.values().next().value);
  }
}

function randomPrefix() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID().slice(0, 13);
  return Math.random().toString(36).slice(2, 10) + Date.now().toString(36);
}

/**
 * The client. `new PushdClient(options)` then `connect()`; see
 * pushd-client.d.ts for every option and event.
 */
export class PushdClient {
  constructor(options) {
    const url = options && options.url;
    const urlOk = typeof url === 'string' || typeof url === 'function' ||
      (Array.isArray(url) && url.length > 0 && url.every((u) => typeof u === 'string'));
    if (!urlOk) throw new TypeError('PushdClient: options.url is required (a string, an array of strings or a function)');
    if (typeof options.token !== 'string' && typeof options.token !== 'function') {
      throw new TypeError('PushdClient: options.token must be a string or a function returning one');
    }
    this.opts = { ...DEFAULTS, ...options };
    this.WebSocketImpl = options.WebSocket || globalThis.WebSocket;
    if (typeof this.WebSocketImpl !== 'function') {
      throw new TypeError('PushdClient: no WebSocket implementation (pass options.WebSocket, e.g. the ws package)');
    }
    this.state = 'idle';
    this.userId = null;
    this.sessionId = null;
    this.expiresAt = null;

    this.listeners = new Map();
    this.idPrefix = randomPrefix();
    this.idCounter = 0;

    this.ws = null;
    this.dials = 0;                // sockets opened so far (picks the next of several urls)
    this.attempt = 0;              // reconnect attempts since the last open connection
    this.authRetried = false;      // a fresh token was already tried after an auth failure
    this.timers = new Set();
    this.pingTimer = null;
    this.pongTimer = null;
    this.refreshTimer = null;
    this.reconnectTimer = null;

    // group id -> { lastId, waiters: [{resolve, reject}] }: the groups this
    // client is in, re-joined on every connection `since` lastId.
    this.groups = new Map();
    this.seenMessages = new Map(); // group id -> RecentIds
    this.left = new RecentIds(DEFAULTS.maxGroups); // groups left: a late message does not re-add them
    this.lastNotificationId = options.lastNotificationId || null;
    this.seenNotifications = new RecentIds(this.opts.dedupWindow);

    // Requests not yet acknowledged, in the order they were made. Each:
    // {id, type, data, resolve, reject, retry, sentOn, timer}.
    this.pending = new Map();
    this.connectWaiters = [];
    for (const g of options.groups || []) this.groups.set(g, { lastId: null, waiters: [] });
  }

  // ---- events -------------------------------------------------------------

  /** Adds a listener for 'message', 'notification', 'state' or 'error'; returns a function that removes it. */
  on(type, listener) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(listener);
    return () => this.off(type, listener);
  }

  /** Removes a listener added with on(). */
  off(type, listener) {
    const set = this.listeners.get(type);
    if (set) set.delete(listener);
  }

  emit(type, value) {
    const set = this.listeners.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(value);
      } catch (e) {
        // A listener's exception must not break the client: report it
        // outside of the client's own call stack.
        setTimeout(() => {
          throw e;
        }, 0);
      }
    }
  }

  setState(state, detail = {}) {
    if (this.state === state && state !== 'reconnecting') return;
    const previous = this.state;
    this.state = state;
    this.emit('state', { state, previous, ...detail });
  }

  reportError(err) {
    this.emit('error', err);
  }

  // ---- lifecycle ----------------------------------------------------------

  /**
   * Starts the client. Resolves once the first connection is authenticated;
   * rejects if the client stops (close(), an auth failure, 4003, 4009)
   * before that. Calling it again while running returns the same outcome.
   */
  connect() {
    if (this.state === 'open') return Promise.resolve();
    const p = new Promise((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this.state === 'idle' || this.state === 'closed') {
      this.attempt = 0;
      this.authRetried = false;
      this.openSocket();
    }
    return p;
  }

  /** Stops the client: closes the connection, rejects every pending request, never reconnects. */
  close() {
    this.stop(new PushdError('closed', 'client closed'));
  }

  stop(err, detail = {}) {
    this.clearTimers();
    this.dropSocket(1000, 'client closed');
    for (const req of this.pending.values()) {
      clearTimeout(req.timer);
      req.reject(err);
    }
    this.pending.clear();
    for (const g of this.groups.values()) this.rejectWaiters(g, err);
    for (const w of this.connectWaiters.splice(0)) w.reject(err);
    this.setState('closed', { error: err, ...detail });
  }

  clearTimers() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.pongTimer = null;
    this.refreshTimer = null;
    this.reconnectTimer = null;
  }

  later(fn, ms) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  cancel(t) {
    if (t) {
      clearTimeout(t);
      this.timers.delete(t);
    }
  }

  async fetchToken() {
    const t = this.opts.token;
    const token = typeof t === 'function' ? await t() : t;
    if (typeof token !== 'string' || token === '') throw new PushdError('auth_failed', 'the token function gave no token');
    return token;
  }

  openSocket() {
    this.setState('connecting', { attempt: this.attempt });
    const gen = {}; // identifies this connection attempt in callbacks
    this.gen = gen;
    // connectTimeout covers the token function too.
    this.connectTimer = this.later(() => {
      this.connectTimer = null;
      if (this.gen !== gen || this.ws) return;
      this.gen = null;
      this.reportError(new PushdError('timeout', 'the token function did not answer in time'));
      this.scheduleReconnect({ reason: 'token timeout' });
    }, this.opts.connectTimeout);
    this.fetchToken().then(
      (token) => {
        if (this.gen !== gen) return;
        this.cancel(this.connectTimer);
        this.dial(token);
      },
      (e) => {
        if (this.gen !== gen) return;
        this.cancel(this.connectTimer);
        this.connectTimer = null;
        this.gen = null;
        this.reportError(e instanceof PushdError ? e : new PushdError('auth_failed', `token: ${e && e.message}`));
        this.scheduleReconnect({ reason: 'token unavailable' });
      },
    );
  }

  // The endpoint of the next connection: one url, the next of several in
  // turn (so a reconnect tries another instance), or what a function says.
  nextUrl() {
    const u = this.opts.url;
    this.dials += 1;
    if (typeof u === 'function') return u(this.dials - 1);
    if (Array.isArray(u)) return u[(this.dials - 1) % u.length];
    return u;
  }

  dial(token) {
    let ws;
    const url = this.nextUrl();
    try {
      ws = new this.WebSocketImpl(url);
    } catch (e) {
      this.stop(new PushdError('connection', `cannot open ${url}: ${e.message}`));
      return;
    }
    this.ws = ws;
    this.connectTimer = this.later(() => this.linkDead('connect timeout'), this.opts.connectTimeout);
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.setState('authenticating');
      const data = { token };
      if (this.lastNotificationId) data.since = this.lastNotificationId;
      this.authId = this.nextId('auth');
      this.write({ type: 'auth', message_id: this.authId, data });
      // The re-joins go right behind the auth, before its answer: the
      // server handles a connection's requests in order, and with AutoJoin
      // it holds them until it has subscribed the user's groups, so no
      // live message of a group can arrive ahead of its replay.
      for (const gid of this.groups.keys()) this.sendJoin(gid);
      this.startPing();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.onFrame(ev.data);
    };
    ws.onerror = () => {
      // A close event follows; it carries what can be known.
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.onClose(ev.code, ev.reason || '');
    };
  }

  nextId(kind) {
    this.idCounter += 1;
    return `${this.idPrefix}-${kind[0]}${this.idCounter}`;
  }

  write(obj) {
    if (!this.ws || this.ws.readyState !== OPEN) return false;
    try {
      this.ws.send(JSON.stringify(obj));
      return true;
    } catch {
      return false;
    }
  }

  dropSocket(code, reason) {
    const ws = this.ws;
    this.ws = null;
    this.authId = null;
    this.gen = null;
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.cancel(this.pongTimer);
    this.pongTimer = null;
    this.cancel(this.refreshTimer);
    this.refreshTimer = null;
    this.cancel(this.connectTimer);
    this.connectTimer = null;
    if (!ws) return;
    // onerror stays a function: the ws package throws an 'error' event
    // that has no listener (a close before the handshake emits one).
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => {};
    try {
      if (code === null && typeof ws.terminate === 'function') ws.terminate();
      else ws.close(code === null ? 4000 : code, reason);
    } catch {
      // already closed
    }
  }

  // The link is dead (no pong, no answer): abandon it and reconnect.
  linkDead(why) {
    if (!this.ws) return;
    this.dropSocket(null, why);
    this.markUnsent();
    this.scheduleReconnect({ reason: why });
  }

  onClose(code, reason) {
    this.ws = null;
    this.dropSocket(null, '');
    this.markUnsent();
    const detail = { code, reason };
    if (code === CLOSE_BLOCKED || code === CLOSE_TOO_MANY_SESSIONS) {
      this.stop(new PushdError('connection', `closed by the server: ${code} ${reason}`.trim()), detail);
      return;
    }
    if (code === CLOSE_AUTH) {
      // Only a fresh token can help, and only once until an auth succeeds.
      if (typeof this.opts.token !== 'function' || this.authRetried) {
        this.stop(new PushdError('auth_failed', `closed by the server: ${code} ${reason}`.trim()), detail);
        return;
      }
      this.authRetried = true;
    }
    this.scheduleReconnect(detail);
  }

  scheduleReconnect(detail) {
    if (this.state === 'closed') return;
    this.cancel(this.reconnectTimer);
    if (this.attempt >= this.opts.maxReconnectAttempts) {
      this.stop(new PushdError('connection', `gave up after ${this.attempt} reconnect attempts`), detail);
      return;
    }
    // Full jitter: a uniform delay between 0 and the capped exponential.
    const cap = Math.min(this.opts.maxReconnectDelay, this.opts.reconnectDelay * 2 ** Math.min(this.attempt, 30));
    const delay = Math.floor(Math.random() * cap);
    this.attempt += 1;
    this.setState('reconnecting', { ...detail, attempt: this.attempt, delay });
    this.reconnectTimer = this.later(() => {
      this.reconnectTimer = null;
      this.openSocket();
    }, delay);
  }

  // Requests written on a connection that is gone get no ack there: they
  // go out again on the next one (send_message with the same message_id).
  // join_group and leave_group are not carried over: the next connection
  // re-joins every group afresh; they are settled with 'disconnected'.
  markUnsent() {
    for (const req of [...this.pending.values()]) {
      if (req.carry) {
        req.sentOn = null;
      } else {
        this.settle(req);
        req.reject(new PushdError('disconnected', `the connection closed before the ack of ${req.type}`));
      }
    }
  }

  startPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (this.pongTimer) return; // one ping outstanding at a time
      const id = this.nextId('ping');
      this.pingId = id;
      this.pongTimer = this.later(() => {
        this.pongTimer = null;
        this.linkDead('no pong');
      }, this.opts.pongTimeout);
      this.write({ type: 'ping', message_id: id });
    }, this.opts.pingInterval);
  }

  // ---- incoming -----------------------------------------------------------

  onFrame(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      this.reportError(new PushdError('protocol', 'the server sent a frame that is not JSON'));
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (typeof msg.timestamp === 'number') this.serverTime = msg.timestamp;
    const data = msg.data || {};
    switch (msg.type) {
      case 'pong':
        if (msg.message_id === this.pingId) {
          this.cancel(this.pongTimer);
          this.pongTimer = null;
        }
        break;
      case 'auth_success':
        this.onAuthSuccess(msg, data);
        break;
      case 'auth_failed':
        this.onAuthFailed(msg, data);
        break;
      case 'ack':
        this.onAck(msg.message_id, data);
        break;
      case 'error':
        this.onServerError(msg.message_id, data);
        break;
      case 'new_message':
        this.onMessage(data);
        break;
      case 'notification':
        this.onNotification(data);
        break;
      default:
        break;
    }
  }

  onAuthSuccess(msg, data) {
    this.userId = data.user_id;
    this.sessionId = data.session_id;
    this.expiresAt = typeof data.expires_at === 'number' ? data.expires_at : null;
    this.scheduleRefresh();
    if (msg.message_id !== this.authId || this.state === 'open') return; // a refresh
    this.cancel(this.connectTimer);
    this.connectTimer = null;
    this.attempt = 0;
    this.authRetried = false;
    // Before any notification was seen, resume from this moment (less the
    // allowed clock skew between pushd and Redis) on the next connection.
    if (!this.lastNotificationId && typeof msg.timestamp === 'number') {
      this.lastNotificationId = String(Math.max(0, msg.timestamp - this.opts.clockSkew));
    }
    this.setState('open', { userId: this.userId, sessionId: this.sessionId });
    for (const w of this.connectWaiters.splice(0)) w.resolve();
    // The re-joins went out behind the auth; now what waits, in order.
    for (const req of this.pending.values()) if (!req.sentOn) this.transmit(req);
  }

  onAuthFailed(msg, data) {
    const message = data.message || 'auth failed';
    if (this.state === 'open') {
      // A refresh failed; the connection keeps its identity until expiry.
      this.reportError(new PushdError('auth_failed', `token refresh: ${message}`));
      return;
    }
    if (typeof this.opts.token === 'function' && !this.authRetried) {
      this.authRetried = true;
      this.reportError(new PushdError('auth_failed', `${message}; retrying with a fresh token`));
      this.dropSocket(1000, 'auth failed');
      this.markUnsent();
      this.scheduleReconnect({ reason: message });
      return;
    }
    this.stop(new PushdError('auth_failed', message), { reason: message });
  }

  scheduleRefresh() {
    this.cancel(this.refreshTimer);
    this.refreshTimer = null;
    if (typeof this.opts.token !== 'function' || this.expiresAt === null) return;
    // A refresh that did not move the expiry is not repeated: the token
    // then expires, the server closes with 4001 and the client reconnects
    // once with a fresh token.
    if (this.refreshedFor !== undefined && this.expiresAt <= this.refreshedFor) return;
    const left = this.expiresAt - Date.now();
    // refreshBeforeExpiry ahead of expiry, or at half the time left when
    // the token lives shorter than that.
    const delay = Math.min(Math.max(left - this.opts.refreshBeforeExpiry, left / 2, 0), 2 ** 31 - 1);
    this.refreshTimer = this.later(() => {
      this.refreshTimer = null;
      this.refreshedFor = this.expiresAt;
      const ws = this.ws;
      this.fetchToken().then(
        (token) => {
          if (this.ws !== ws || this.state !== 'open') return;
          this.write({ type: 'auth', message_id: this.nextId('refresh'), data: { token } });
        },
        (e) => this.reportError(new PushdError('auth_failed', `token refresh: ${e && e.message}`)),
      );
    }, delay);
  }

  onMessage(m) {
    const gid = m.group_id;
    const id = m.message_id;
    if (typeof gid !== 'string' || typeof id !== 'string') return;
    let seen = this.seenMessages.get(gid);
    if (!seen) {
      seen = new RecentIds(this.opts.dedupWindow);
      this.seenMessages.set(gid, seen);
      if (this.seenMessages.size > 2 * this.opts.maxGroups) {
        this.seenMessages.delete(this.seenMessages.keys().next().value);
      }
    }
    if (seen.has(id)) return; // a duplicate (a replayed copy of one already delivered)
    seen.add(id);
    // Groups the server joined for us (AutoJoin) are resumed too.
    let g = this.groups.get(gid);
    if (!g && !this.left.has(gid) && this.groups.size < this.opts.maxGroups) {
      g = { lastId: null, waiters: [] };
      this.groups.set(gid, g);
    }
    if (g && (g.lastId === null || compareStreamIds(id, g.lastId) > 0)) g.lastId = id;
    this.emit('message', m);
  }

  onNotification(n) {
    const id = n.notification_id;
    if (typeof id !== 'string') return;
    if (this.seenNotifications.has(id)) return;
    this.seenNotifications.add(id);
    if (!this.lastNotificationId || compareStreamIds(id, this.lastNotificationId) > 0) this.lastNotificationId = id;
    this.emit('notification', n);
  }

  onAck(messageId, data) {
    const req = this.pending.get(messageId);
    if (!req) return;
    if (data.success) {
      this.settle(req);
      req.resolve(data);
      return;
    }
    this.onFailure(req, data.code, data.message || 'request failed', data);
  }

  onServerError(messageId, data) {
    const req = messageId !== undefined ? this.pending.get(messageId) : undefined;
    if (req) {
      this.onFailure(req, data.code, data.message || 'error', data);
      return;
    }
    this.reportError(new PushdError(data.code, data.message || 'error from the server', data));
  }

  onFailure(req, code, message, data) {
    // 503: nothing was stored (or, for a join, nothing changed); 429: rate
    // limited. Both are retried, the same request with the same
    // message_id, after a delay that grows with each failure (capped, with
    // jitter so that many clients do not retry in step).
    if ((code === 503 || code === 429) && req.retry) {
      req.sentOn = null;
      const cap = Math.min(this.opts.maxRetryDelay, this.opts.retryDelay * 2 ** Math.min(req.failures, 30));
      req.failures += 1;
      const ws = this.ws;
      this.later(() => {
        if (this.pending.get(req.id) !== req || req.sentOn) return;
        // A join belongs to its connection: a new one re-joins afresh.
        if (!req.carry && this.ws !== ws) return;
        this.transmit(req);
      }, cap / 2 + Math.random() * (cap / 2));
      return;
    }
    if (code === 401 && req.type === 'join_group') {
      // Sent behind an auth that failed: the next connection re-joins.
      this.settle(req);
      req.reject(new PushdError('disconnected', message, data));
      return;
    }
    this.settle(req);
    req.reject(new PushdError(code, message, data));
  }

  settle(req) {
    clearTimeout(req.timer);
    this.pending.delete(req.id);
  }

  // ---- requests -----------------------------------------------------------

  // `timeout` Infinity: no deadline (a join waits as long as its
  // connection lives). `early`: may go out before auth_success.
  request(type, data, { retry = true, carry = true, timeout = this.opts.requestTimeout, messageId, early = false } = {}) {
    if (this.state === 'closed' || this.state === 'idle') {
      return Promise.reject(new PushdError('closed', 'the client is not started (call connect())'));
    }
    if (this.pending.size >= this.opts.maxPending) {
      return Promise.reject(new PushdError('queue_full', `${this.opts.maxPending} requests already wait for an ack`));
    }
    const id = messageId !== undefined ? String(messageId) : this.nextId(type);
    if (this.pending.has(id)) {
      return Promise.reject(new PushdError('duplicate', `a request with message_id ${id} is already waiting`));
    }
    return new Promise((resolve, reject) => {
      const req = { id, type, data, resolve, reject, retry, carry, sentOn: null, timer: null, failures: 0 };
      if (Number.isFinite(timeout)) {
        req.timer = setTimeout(() => {
          if (this.pending.get(id) !== req) return;
          this.pending.delete(id);
          reject(new PushdError('timeout', `no ack for ${type} ${id} within ${timeout} ms`));
        }, timeout);
      }
      this.pending.set(id, req);
      if (this.state === 'open' || (early && this.state === 'authenticating')) this.transmit(req);
    });
  }

  transmit(req) {
    if (this.write({ type: req.type, message_id: req.id, timestamp: Date.now(), data: req.data })) req.sentOn = this.ws;
  }

  sendJoin(gid) {
    const g = this.groups.get(gid);
    if (!g) return;
    // One join per group in flight on a connection: a second one with
    // since would be refused (409) while the first one's replay runs.
    if (g.joining && g.joining === this.ws) return;
    g.joining = this.ws;
    const data = { group_id: gid };
    if (g.lastId) data.since = g.lastId;
    // A join is retried with the same since while its connection lives
    // (503: the history could not be read; the server left the connection
    // unsubscribed), with no deadline: a client does not give up on a
    // group. It is not carried over to another connection: that one
    // re-joins afresh. Its ack ends the replay (contract v1.1: the
    // replayed messages come first), so the resume point has moved only
    // over messages that arrived.
    this.request('join_group', data, { retry: true, carry: false, timeout: Infinity, early: true }).then(
      (ack) => {
        const cur = this.groups.get(gid);
        g.joining = null;
        if (cur !== g) return;
        if (!g.lastId && typeof ack === 'object') {
          // Nothing seen yet: the next connection resumes from this moment.
          g.lastId = String(Math.max(0, (this.serverTime ?? Date.now()) - this.opts.clockSkew));
        }
        if (ack.truncated) {
          this.reportError(new PushdError('truncated', `group ${gid}: older messages were trimmed from the history`));
        }
        for (const w of g.waiters.splice(0)) w.resolve(ack);
      },
      (e) => {
        g.joining = null;
        if (e.code === 'disconnected' || e.code === 'closed') return; // re-joined on the next connection
        if (e.code === 'timeout') {
          this.rejectWaiters(g, e);
          return;
        }
        if (typeof e.code === 'number') {
          // Refused (403, 422, ...): this client is not in the group.
          if (this.groups.get(gid) === g) this.groups.delete(gid);
          this.rejectWaiters(g, e);
          this.reportError(e);
        }
      },
    );
  }

  rejectWaiters(g, err) {
    for (const w of g.waiters.splice(0)) w.reject(err);
  }

  /**
   * Joins a group (join_group) on this and every later connection. With
   * `since`, stored messages newer than that id are delivered first.
   * Resolves with the ack once the current or next connection has joined.
   */
  join(groupId, { since } = {}) {
    if (this.state === 'closed' || this.state === 'idle') {
      return Promise.reject(new PushdError('closed', 'the client is not started (call connect())'));
    }
    this.left.set.delete(groupId);
    let g = this.groups.get(groupId);
    if (!g) {
      if (this.groups.size >= this.opts.maxGroups) {
        return Promise.reject(new PushdError('queue_full', `already in ${this.opts.maxGroups} groups`));
      }
      g = { lastId: since || null, waiters: [] };
      this.groups.set(groupId, g);
    } else if (since && (!g.lastId || compareStreamIds(since, g.lastId) < 0)) {
      g.lastId = since;
    }
    const p = new Promise((resolve, reject) => g.waiters.push({ resolve, reject }));
    // While connecting, the join goes out behind the auth (dial).
    if (this.state === 'open' || (this.state === 'authenticating' && this.ws)) this.sendJoin(groupId);
    return p;
  }

  /** Leaves a group (leave_group) and stops re-joining it. Resolves with the ack (at once when offline). */
  leave(groupId) {
    const g = this.groups.get(groupId);
    this.groups.delete(groupId);
    this.seenMessages.delete(groupId);
    this.left.add(groupId);
    if (g) this.rejectWaiters(g, new PushdError('closed', `left ${groupId}`));
    if (this.state !== 'open') return Promise.resolve({ success: true });
    return this.request('leave_group', { group_id: groupId }, { retry: false, carry: false }).catch((e) => {
      if (e.code === 'disconnected') return { success: true }; // not re-joined on the next connection
      throw e;
    });
  }

  /**
   * Sends a group message. Resolves with the ack once it is stored
   * ({message_id, success, server_message_id, duplicate?}); waits while
   * offline and is retried across a reconnect with the same message_id.
   */
  send(groupId, content, { msgType = 1, messageId, timeout } = {}) {
    return this.request('send_message', { group_id: groupId, msg_type: msgType, content }, { messageId, timeout });
  }

  /** Stores the user's read position in a group (mark_read). */
  markRead(groupId, messageId) {
    return this.request('mark_read', { group_id: groupId, message_id: messageId });
  }

  /** The groups this client is in (re-joined on every connection). */
  joinedGroups() {
    return [...this.groups.keys()];
  }
}

export default PushdClient;
