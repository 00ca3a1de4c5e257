// The web chat example: one PushdClient, a few DOM updates. The client does
// the reconnecting, resuming and de-duplicating; this page only shows it.
import { PushdClient } from '../../clients/js/pushd-client.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$('server').value = params.get('server') || `ws://${location.hostname || 'localhost'}:8889/ws`;
if (params.get('group')) $('group').value = params.get('group');

let client = null;

function log(text) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('log').prepend(li);
  while ($('log').children.length > 50) $('log').lastChild.remove();
}

function time(ms) {
  return new Date(ms).toLocaleTimeString();
}

function showState(s) {
  const el = $('state');
  let text = s.state;
  if (s.state === 'reconnecting') text += ` (attempt ${s.attempt}, in ${(s.delay / 1000).toFixed(1)} s)`;
  el.textContent = text;
  el.className = `state-${s.state}`;
  el.dataset.state = s.state;
  $('user').textContent = s.state === 'open' ? `as ${s.userId}` : '';
  const running = s.state !== 'closed' && s.state !== 'idle';
  $('connect').disabled = running;
  $('disconnect').disabled = !running;
  $('join').disabled = !running;
  $('send').disabled = !running || $('target').options.length === 0;
  if (s.code) log(`connection closed: ${s.code} ${s.reason || ''}`);
  if (s.error) log(`stopped: ${s.error.message}`);
}

function showGroups() {
  const groups = client ? client.joinedGroups() : [];
  $('groups').textContent = groups.length ? `in: ${groups.join(', ')}` : '';
  const target = $('target');
  const current = target.value;
  target.replaceChildren(
    ...groups.map((g) => {
      const o = document.createElement('option');
      o.value = o.textContent = g;
      return o;
    }),
  );
  if (groups.includes(current)) target.value = current;
  $('send').disabled = !client || client.state === 'closed' || groups.length === 0;
}

function addMessage(m) {
  const li = document.createElement('li');
  li.dataset.messageId = m.message_id;
  li.dataset.group = m.group_id;
  if (client && m.sender_id === client.userId) li.className = 'mine';
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = `${time(m.timestamp)} #${m.group_id}${m.replay ? ' (missed)' : ''}`;
  const sender = document.createElement('span');
  sender.className = 'sender';
  sender.textContent = `${m.sender_id}:`;
  const content = document.createElement('span');
  content.className = 'content';
  content.textContent = m.content;
  li.append(meta, sender, content);
  const list = $('messages');
  list.append(li);
  list.scrollTop = list.scrollHeight;
}

function addNotification(n) {
  const li = document.createElement('li');
  li.dataset.notificationId = n.notification_id;
  const d = n.data || {};
  li.textContent = `${time(n.timestamp)} ${d.title ? d.title + (d.body ? ': ' + d.body : '') : JSON.stringify(d)}`;
  $('notifications').prepend(li);
}

$('connect').addEventListener('click', () => {
  const token = $('token').value.trim();
  if (!token) {
    log('paste a token first (build/pushctl token --user NAME)');
    return;
  }
  client = new PushdClient({ url: $('server').value.trim(), token });
  client.on('state', (s) => {
    showState(s);
    showGroups();
  });
  client.on('message', addMessage);
  client.on('notification', addNotification);
  client.on('error', (e) => log(`error: ${e.code} ${e.message}`));
  client.connect().catch(() => {});
});

$('disconnect').addEventListener('click', () => {
  if (client) client.close();
});

$('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const gid = $('group').value.trim();
  if (!client || !gid) return;
  const p = client.join(gid);
  showGroups();
  $('target').value = gid;
  p.then(
    (ack) => ack.truncated && log(`#${gid}: older messages were trimmed`),
    (e) => {
      log(`join ${gid}: ${e.message}`);
      showGroups();
    },
  );
});

$('send-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('text').value;
  const gid = $('target').value;
  if (!client || !gid || !text) return;
  $('text').value = '';
  // Shown as waiting until stored (the ack); the message itself arrives as
  // a new_message like everyone else's.
  const li = document.createElement('li');
  li.className = 'pending';
  li.textContent = `sending to #${gid}: ${text}`;
  $('messages').append(li);
  client.send(gid, text).then(
    () => li.remove(),
    (e) => {
      li.textContent = `not sent to #${gid} (${e.message}): ${text}`;
    },
  );
});
