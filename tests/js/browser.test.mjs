// examples/web-chat in headless Chromium (Debian's /usr/bin/chromium driven
// by playwright-core): two pages chat through a real pushd, pushd restarts,
// both pages reconnect by themselves and the message sent during the outage
// appears once on both. A screenshot goes to build/artifacts/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';

import { createServer } from '../../examples/web-chat/serve.mjs';
import { Pushd, SOURCE_DIR, startRedis, tempDir, token } from './harness.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(process.env.PUSHD_BUILD_DIR || path.join(SOURCE_DIR, 'build'), 'artifacts');
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function openChat(context, origin, wsUrl, user, problems) {
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`${user}: ${e.message}`));
  // Refused connections while pushd is down are expected; nothing else is.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^WebSocket connection to .* failed/.test(m.text())) {
      problems.push(`${user}: console: ${m.text()}`);
    }
  });
  await page.goto(`${origin}/examples/web-chat/?server=${encodeURIComponent(wsUrl)}&group=room`);
  await page.fill('#token', token(user));
  await page.click('#connect');
  await page.waitForSelector('#state[data-state="open"]');
  assert.equal(await page.textContent('#user'), `as ${user}`);
  await page.click('#join');
  await page.waitForFunction(() => document.querySelector('#groups').textContent.includes('room'));
  return page;
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.click('#send');
}

// The contents of the delivered messages (not the "sending" placeholders).
function shown(page) {
  return page.$$eval('#messages li[data-message-id] .content', (els) => els.map((e) => e.textContent));
}

async function waitShown(page, text) {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll('#messages li[data-message-id] .content')].some((e) => e.textContent === t),
    text,
    { timeout: 15000 },
  );
}

test('two pages chat through pushd and both recover from a pushd restart', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const pushd = await new Pushd(redis.port).start();
  t.after(() => pushd.stop());
  const web = createServer();
  await new Promise((r) => web.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => web.close(r)));
  const origin = `http://127.0.0.1:${web.address().port}`;

  const context = await chromium.launchPersistentContext(tempDir('chromium'), {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1000, height: 640 },
  });
  t.after(() => context.close());
  const problems = [];
  const alice = await openChat(context, origin, pushd.url, 'alice', problems);
  const bob = await openChat(context, origin, pushd.url, 'bob', problems);

  await say(alice, 'hello from alice');
  await waitShown(alice, 'hello from alice');
  await waitShown(bob, 'hello from alice');
  await pushd.pushctl('notify', '--user', 'alice', '--title', 'Welcome', '--body', 'to the web chat');
  await alice.waitForSelector('#notifications li');

  await pushd.stop('SIGTERM');
  for (const page of [alice, bob]) await page.waitForSelector('#state[data-state="reconnecting"]');
  await say(bob, 'sent during the outage');
  await bob.waitForSelector('#messages li.pending');

  await pushd.start(); // the same port
  for (const page of [alice, bob]) {
    await page.waitForSelector('#state[data-state="open"]', { timeout: 15000 });
    await waitShown(page, 'sent during the outage');
  }
  await say(alice, 'back again');
  for (const page of [alice, bob]) await waitShown(page, 'back again');

  for (const page of [alice, bob]) {
    assert.deepEqual(await shown(page), ['hello from alice', 'sent during the outage', 'back again']);
    assert.equal(await page.$$eval('#messages li.pending', (els) => els.length), 0, 'nothing left waiting');
  }
  assert.match(await alice.textContent('#notifications'), /Welcome: to the web chat/);
  assert.deepEqual(problems, []);

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const shot = path.join(ARTIFACTS, 'web-chat.png');
  await alice.screenshot({ path: shot, fullPage: true });
  assert.ok(fs.statSync(shot).size > 1000, 'the screenshot was written');
});
