// Test harness: real redis-server and pushd processes on free loopback
// ports, HS256 tokens, wait_until, and a TCP proxy that can cut a link.
// Every process is started here and stopped by its PID.
import { spawn, execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SOURCE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD_DIR = process.env.PUSHD_BUILD_DIR || path.join(SOURCE_DIR, 'build');
export const PUSHD = process.env.PUSHD_BINARY || path.join(BUILD_DIR, 'pushd');
export const PUSHCTL = process.env.PUSHCTL_BINARY || path.join(BUILD_DIR, 'pushctl');
export const SECRET = 'js-test-secret-0123456789abcdef-0123456789';

const tempDirs = [];
process.on('exit', () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed at process exit. */
export function tempDir(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pushd-js-${name}-`));
  tempDirs.push(dir);
  return dir;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `cond` (sync or async) every 20 ms until it is truthy; throws after `timeoutMs` naming `what`. */
export async function waitUntil(cond, timeoutMs, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves after `ms` (pacing a rate; waiting for a condition is waitUntil's job). */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `--name value` pairs of a command line as an object. */
export function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

/** A run's clock: `now()` in ms since `t0`, `log(...)` prefixed with it in seconds. */
export function runClock() {
  const t0 = Date.now();
  const now = () => Date.now() - t0;
  const log = (...a) => console.log(`[${(now() / 1000).toFixed(1).padStart(6)}s]`, ...a);
  return { t0, now, log };
}

/** An HS256 JWT for `user` signed with SECRET, valid `ttl` seconds. */
export function token(user, ttl = 3600) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ userId: user, exp: Math.floor(Date.now() / 1000) + ttl })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

function httpStatus(port, urlPath) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    sock.setTimeout(1000, () => sock.destroy());
    sock.on('connect', () => sock.write(`GET ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    sock.on('data', (d) => (buf += d));
    sock.on('close', () => resolve(Number((/^HTTP\/1\.\d (\d+)/.exec(buf) || [])[1] || 0)));
    sock.on('error', () => resolve(0));
  });
}

// A child process with its output in a log file; stopped by PID.
class Child {
  constructor(argv, logPath) {
    this.logPath = logPath;
    const log = fs.openSync(logPath, 'a');
    this.proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    this.running = true;
    this.exited.then(() => (this.running = false));
  }

  log() {
    return fs.existsSync(this.logPath) ? fs.readFileSync(this.logPath, 'utf8') : '';
  }

  /** Sends `sig`; after `timeoutMs` without an exit, SIGKILL. Resolves with the exit. */
  async stop(sig = 'SIGTERM', timeoutMs = 10000) {
    if (!this.running) return this.exited;
    process.kill(this.proc.pid, sig);
    const t = setTimeout(() => this.running && process.kill(this.proc.pid, 'SIGKILL'), timeoutMs);
    const e = await this.exited;
    clearTimeout(t);
    return e;
  }
}

/**
 * A redis-server on a free port; `stop()` ends it. With `appendonly` every
 * write is in its append-only file (fsync always) and `start()` brings it
 * back on the same port with the same data (an outage, not a loss).
 */
export async function startRedis({ appendonly = false, extraArgs = [] } = {}) {
  const dir = tempDir('redis');
  const port = await freePort();
  let child = null;
  const start = async () => {
    child = new Child(
      ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly',
        appendonly ? 'yes' : 'no', '--appendfsync', 'always', '--dir', dir, ...extraArgs],
      path.join(dir, 'redis.log'),
    );
    const c = child;
    await waitUntil(
      async () => {
        if (!c.running) throw new Error(`redis-server exited; log:\n${c.log()}`);
        return (await redisCli(port, 'PING').catch(() => '')) === 'PONG';
      },
      30000, // a restart reads the append-only file first: slow on a busy machine
      'redis-server to answer PING',
    );
  };
  await start();
  return {
    port,
    start,
    stop: () => child.stop('SIGTERM', 5000),
    running: () => child !== null && child.running,
    cli: (...args) => redisCli(port, ...args),
  };
}

/** Runs one redis-cli command against 127.0.0.1:`port`; resolves with its trimmed output. */
export function redisCli(port, ...args) {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { maxBuffer: 1 << 28 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout.trim());
    });
  });
}

/** The standard test configuration: pushd on `port`, Redis on `redisPort`. */
export function pushdConfig(port, redisPort, extra = '', name = 'pushd-js-test') {
  return [
    `Name: ${name}`,
    'Host: 127.0.0.1',
    `Port: ${port}`,
    'Path: /ws',
    'ShutdownTimeout: 5',
    'Redis:',
    `  Host: "127.0.0.1:${redisPort}"`,
    '  KeyPrefix: "pushd:"',
    'Auth:',
    `  AccessSecret: "${SECRET}"`,
    'Log:',
    '  Level: info',
    extra,
  ].join('\n');
}

/**
 * A pushd process with its own config file. `start()` waits until GET
 * /health answers 200 (the Redis link is up); `restart()` starts it again
 * on the same port; `stop(sig)` ends it by PID.
 */
export class Pushd {
  constructor(redisPort, { port, extra = '', name } = {}) {
    this.redisPort = redisPort;
    this.port = port;
    this.extra = extra;
    this.name = name;
    this.dir = tempDir('pushd');
    this.configPath = path.join(this.dir, 'pushd.yaml');
    this.child = null;
  }

  get url() {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** Starts pushd; waits until /health answers 200 (`healthy`: Redis is up) or anything (it listens). */
  async start({ healthy = true } = {}) {
    if (!this.port) this.port = await freePort();
    fs.writeFileSync(this.configPath, pushdConfig(this.port, this.redisPort, this.extra, this.name));
    this.child = new Child([PUSHD, '-f', this.configPath], path.join(this.dir, 'pushd.log'));
    await waitUntil(
      async () => {
        if (!this.child.running) throw new Error(`pushd exited during startup; log:\n${this.child.log()}`);
        const status = await httpStatus(this.port, '/health');
        return healthy ? status === 200 : status !== 0;
      },
      10000,
      `pushd on port ${this.port} to answer GET /health${healthy ? ' with 200' : ''}`,
    );
    return this;
  }

  get running() {
    return this.child !== null && this.child.running;
  }

  log() {
    return this.child ? this.child.log() : '';
  }

  async stop(sig = 'SIGTERM') {
    if (this.child) await this.child.stop(sig);
  }

  /** The status of GET /health (0 when nothing answers). */
  health() {
    return httpStatus(this.port, '/health');
  }

  async restart() {
    await this.stop();
    return this.start();
  }

  /** Runs build/pushctl with this instance's configuration. */
  pushctl(...args) {
    return new Promise((resolve, reject) => {
      execFile(PUSHCTL, ['-f', this.configPath, ...args], (err, stdout, stderr) => {
        if (err) reject(new Error(`pushctl ${args.join(' ')}: ${stderr || err.message}`));
        else resolve(stdout.trim());
      });
    });
  }
}

/**
 * A TCP proxy on a free port in front of `targetPort`. `blackholeDown()`
 * stops passing server-to-client bytes (the client's bytes still reach the
 * server), `blackholeUp()` the other way; `cut()` destroys every proxied connection; `refuse(true)` closes
 * new connections at once (the server looks down) until `refuse(false)`;
 * `restore()` passes everything again.
 */
export async function startProxy(targetPort) {
  const conns = new Set();
  let downOpen = true;
  let upOpen = true;
  let refusing = false;
  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    const c = { client, upstream };
    conns.add(c);
    client.on('data', (d) => {
      if (upOpen) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (downOpen) client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      conns.delete(c);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    blackholeDown() {
      downOpen = false;
    },
    blackholeUp() {
      upOpen = false;
    },
    restore() {
      downOpen = true;
      upOpen = true;
    },
    refuse(on) {
      refusing = on;
    },
    cut() {
      for (const c of [...conns]) {
        c.client.destroy();
        c.upstream.destroy();
      }
      conns.clear();
    },
    close: () => new Promise((r) => server.close(r)),
  };
}
