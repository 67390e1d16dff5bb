'use strict';

// The dashboard: everything it shows comes from the introspection API
// (/api/…) of the management listener it is served by, and everything it
// does goes through that API. Values from the server are set as
// textContent, never as HTML: connection IDs, user agents, channel names
// and frames are chosen by clients.

const pageSize = 50;

const state = {
  sort: '-connectedAt',
  query: '',
  member: null, // {kind: 'channel' | 'name', tenant, name}: connections filtered to its members
  cursors: [''], // the cursor of each page visited
  page: 0,
  next: '',
  selected: null, // the connection whose details are open
  namesHeld: false, // some connection holds a name: show the names
  refreshing: false,
  again: false,
};

const $ = (id) => document.getElementById(id);

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (className) e.className = className;
  return e;
}

// api calls the introspection API; it throws an Error with the server's
// message when the answer is not a success.
async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.body = body;
    init.headers['Content-Type'] = 'text/plain; charset=utf-8';
  }
  // Against the origin, not the page's address: a page opened as
  // http://user:password@host/ may not fetch URLs relative to it.
  const res = await fetch(new URL(path, location.origin), init);
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!res.ok) {
    const message = data && typeof data.message === 'string' ? data.message : res.statusText;
    const err = new Error(`${res.status}: ${message}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  return q.toString();
}

// Formatting.

function ago(iso) {
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return `${Math.floor(seconds)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h ago`;
  return `${(seconds / 86400).toFixed(1)} d ago`;
}

function duration(seconds) {
  if (seconds < 60) return `${Math.floor(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

function rate(v) {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function showResult(target, text, ok) {
  target.textContent = text;
  target.className = `result ${ok ? 'ok' : 'error'}`;
}

// Connections.

async function refreshConnections() {
  const params = { limit: pageSize, sort: state.sort, q: state.query, cursor: state.cursors[state.page] };
  if (state.member) {
    params.tenant = state.member.tenant;
    params[state.member.kind] = state.member.name;
  }
  const data = await api('GET', `/api/connections?${query(params)}`);
  state.next = data.next || '';
  renderConnections(data.items);
  $('connections-total').textContent = data.total !== undefined ? `(${data.total})` : '';
  $('prev-page').disabled = state.page === 0;
  $('next-page').disabled = !state.next;
  const first = state.page * pageSize;
  $('page-info').textContent = data.items.length ? `${first + 1}–${first + data.items.length}` : '';
  showMissing(data.missing);
}

function renderConnections(items) {
  const body = $('connections').tBodies[0];
  const rows = items.map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.id = c.id;
    if (c.id === state.selected) tr.classList.add('selected');
    const connected = el('td', ago(c.connectedAt));
    connected.title = c.connectedAt;
    const active = el('td', ago(c.lastActiveAt));
    active.title = c.lastActiveAt;
    const agent = el('td', c.userAgent);
    agent.title = c.userAgent;
    tr.append(
      el('td', c.id, 'id'),
      el('td', c.tenant),
      el('td', (c.names || []).join(', '), 'names-column'),
      el('td', c.channels, 'num'),
      el('td', c.sourceIp),
      agent,
      connected,
      active,
      el('td', c.messagesIn, 'num'),
      el('td', c.messagesOut, 'num'),
      el('td', bytes(c.bytesIn), 'num'),
      el('td', bytes(c.bytesOut), 'num'),
      el('td', c.queuedFrames ? `${c.queuedFrames} (${bytes(c.queuedBytes)})` : '0', 'num'),
      el('td', c.node || '', 'node-column'),
    );
    tr.addEventListener('click', () => select(c.id));
    return tr;
  });
  body.replaceChildren(...rows);
  $('connections-empty').hidden = items.length > 0;
  showNames(items.some((c) => c.names && c.names.length));
}

function select(id) {
  state.selected = id;
  for (const tr of $('connections').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.id === id);
  $('detail').hidden = false;
  $('detail-id').textContent = id;
  $('detail-result').textContent = '';
  disarmClose();
  refreshDetail();
}

async function refreshDetail() {
  const id = state.selected;
  if (!id) return;
  let c;
  try {
    c = await api('GET', `/api/connections/${encodeURIComponent(id)}`);
  } catch (err) {
    if (id !== state.selected) return;
    $('detail-fields').replaceChildren(el('dt', 'State'), el('dd', err.status === 410 ? 'closed' : err.message));
    return;
  }
  if (id !== state.selected) return;
  const fields = [
    ['Tenant', c.tenant],
    ['Node', c.node || 'this node'],
    ['Source IP', c.sourceIp],
    ['User agent', c.userAgent],
    ['Stage', c.stage || '/'],
    ['Connected', `${c.connectedAt} (${ago(c.connectedAt)})`],
    ['Last active', `${c.lastActiveAt} (${ago(c.lastActiveAt)})`],
    ['Messages in / out', `${c.messagesIn} / ${c.messagesOut}`],
    ['Bytes in / out', `${bytes(c.bytesIn)} / ${bytes(c.bytesOut)}`],
    ['Queued', `${c.queuedFrames} frames, ${bytes(c.queuedBytes)}`],
    ['Channels', (c.channelList || []).join(', ') || 'none'],
  ];
  if (c.names && c.names.length) fields.push(['Names', c.names.join(', ')]);
  const nodes = [];
  for (const [k, v] of fields) nodes.push(el('dt', k), el('dd', v));
  $('detail-fields').replaceChildren(...nodes);
}

async function sendFrame(event) {
  event.preventDefault();
  const id = state.selected;
  if (!id) return;
  try {
    await api('POST', `/api/connections/${encodeURIComponent(id)}`, $('send-body').value);
    showResult($('detail-result'), `Sent to ${id}.`, true);
  } catch (err) {
    showResult($('detail-result'), `Not sent: ${err.message}`, false);
  }
  refreshSoon();
}

let closeTimer = null;

function disarmClose() {
  const button = $('close-button');
  button.classList.remove('armed');
  button.textContent = 'Close connection';
  clearTimeout(closeTimer);
}

// closeConnection asks for a second click before it closes.
async function closeConnection() {
  const button = $('close-button');
  const id = state.selected;
  if (!id) return;
  if (!button.classList.contains('armed')) {
    button.classList.add('armed');
    button.textContent = 'Click again to close';
    closeTimer = setTimeout(disarmClose, 4000);
    return;
  }
  disarmClose();
  try {
    await api('DELETE', `/api/connections/${encodeURIComponent(id)}`);
    showResult($('detail-result'), `Closed ${id}.`, true);
  } catch (err) {
    showResult($('detail-result'), `Not closed: ${err.message}`, false);
  }
  refreshSoon();
}

// Channels and names.

async function refreshChannels() {
  const data = await api('GET', '/api/channels?limit=200');
  const rows = data.items.map((ch) => {
    const tr = document.createElement('tr');
    tr.dataset.tenant = ch.tenant;
    tr.dataset.channel = ch.name;
    const actions = el('td');
    const members = el('button', 'Members');
    members.type = 'button';
    members.addEventListener('click', (e) => {
      e.stopPropagation();
      filterMembers({ kind: 'channel', tenant: ch.tenant, name: ch.name });
    });
    actions.append(members);
    tr.append(
      el('td', ch.tenant),
      el('td', ch.name, 'id'),
      el('td', ch.members, 'num'),
      el('td', Object.entries(ch.nodes || {}).map(([n, k]) => `${n}: ${k}`).join(', '), 'node-column'),
      actions,
    );
    tr.addEventListener('click', () => {
      $('publish-tenant').value = ch.tenant;
      $('publish-channel').value = ch.name;
    });
    return tr;
  });
  $('channels').tBodies[0].replaceChildren(...rows);
  $('channels-empty').hidden = rows.length > 0;
  $('channels-total').textContent = data.total !== undefined ? `(${data.total})` : '';
}

async function refreshNames() {
  const data = await api('GET', '/api/names?limit=200');
  // Names show only where some connection holds one.
  state.namesHeld = data.items.length > 0;
  $('names-section').hidden = !state.namesHeld;
  showNames(false);
  const rows = data.items.map((n) => {
    const tr = document.createElement('tr');
    tr.append(el('td', n.tenant), el('td', n.name, 'id'), el('td', n.members, 'num'),
      el('td', (n.holders || []).join(', '), 'id'));
    tr.addEventListener('click', () => filterMembers({ kind: 'name', tenant: n.tenant, name: n.name }));
    return tr;
  });
  $('names').tBodies[0].replaceChildren(...rows);
  $('names-total').textContent = data.total !== undefined ? `(${data.total})` : '';
}

// showNames shows the names column when a connection listed, or any,
// holds a name.
function showNames(listed) {
  document.body.classList.toggle('no-names', !(listed || state.namesHeld));
}

function filterMembers(member) {
  state.member = member;
  $('member-filter').hidden = !member;
  $('member-filter-text').textContent = member ? `${member.kind} ${member.name} (${member.tenant})` : '';
  resetPaging();
  refreshSoon();
}

async function publish(event) {
  event.preventDefault();
  const tenant = $('publish-tenant').value.trim() || 'default';
  const channel = $('publish-channel').value;
  if (!channel) return;
  try {
    await api('POST', `/api/channels/${encodeURIComponent(tenant)}/${encodeURIComponent(channel)}`, $('publish-payload').value);
    showResult($('publish-result'), `Published to ${channel}.`, true);
  } catch (err) {
    showResult($('publish-result'), `Not published: ${err.message}`, false);
  }
  refreshSoon();
}

// Nodes, rates and the live stream.

const routesChart = new LineChart($('routes-chart'), $('routes-legend'));
const errorsChart = new LineChart($('errors-chart'), $('errors-legend'));

function onStats(stats) {
  const nodes = stats.items || [];
  document.body.classList.toggle('single-node', nodes.length <= 1);
  const routes = {}, codes = {};
  let connections = 0;
  const rows = nodes.map((n) => {
    connections += n.connections;
    for (const [k, v] of Object.entries(n.rates.routes || {})) routes[k] = (routes[k] || 0) + v;
    for (const [k, v] of Object.entries(n.rates.codes || {})) codes[k] = (codes[k] || 0) + v;
    const tr = document.createElement('tr');
    tr.append(
      el('td', (n.node || 'this node') + (n.self && nodes.length > 1 ? ' (this one)' : '')),
      el('td', n.address || ''),
      el('td', duration(n.uptimeSeconds)),
      el('td', n.connections, 'num'),
      el('td', rate(n.rates.messagesIn), 'num'),
      el('td', rate(n.rates.messagesOut), 'num'),
      el('td', rate(n.rates.errors), 'num'),
      el('td', rate(n.rates.opened), 'num'),
    );
    return tr;
  });
  $('nodes').tBodies[0].replaceChildren(...rows);
  const missing = stats.missing || [];
  $('nodes-missing').hidden = missing.length === 0;
  $('nodes-missing').textContent = missing.length ? `Not answering: ${missing.map((m) => `${m.node} (${m.error})`).join(', ')}` : '';
  $('summary').textContent = `${connections} connection${connections === 1 ? '' : 's'} on ${nodes.length} node${nodes.length === 1 ? '' : 's'}`;
  const time = new Date(stats.time);
  routesChart.push(time, routes);
  errorsChart.push(time, codes);
  refreshSoon();
}

function showMissing(missing) {
  if (missing && missing.length) {
    $('nodes-missing').hidden = false;
    $('nodes-missing').textContent = `Not answering: ${missing.map((m) => `${m.node} (${m.error})`).join(', ')}`;
  }
}

function setStatus(text, stateName) {
  const s = $('status');
  s.textContent = text;
  s.dataset.state = stateName;
}

function connectEvents() {
  const source = new EventSource(new URL('/api/events', location.origin));
  source.addEventListener('stats', (e) => {
    setStatus('live', 'live');
    try { onStats(JSON.parse(e.data)); } catch (err) { console.error(err); }
  });
  source.addEventListener('error', () => setStatus('reconnecting…', 'error'));
}

// refreshSoon refreshes the lists, one refresh at a time.
async function refreshSoon() {
  if (state.refreshing) {
    state.again = true;
    return;
  }
  state.refreshing = true;
  try {
    await Promise.all([refreshConnections(), refreshChannels(), refreshNames(), refreshDetail()]);
    if ($('status').dataset.state !== 'live') setStatus('live', 'live');
  } catch (err) {
    setStatus(`error: ${err.message}`, 'error');
  } finally {
    state.refreshing = false;
    if (state.again) {
      state.again = false;
      refreshSoon();
    }
  }
}

function resetPaging() {
  state.cursors = [''];
  state.page = 0;
}

function showSort() {
  const field = state.sort.replace(/^-/, '');
  for (const th of document.querySelectorAll('th[data-sort]')) {
    th.classList.toggle('sorted-asc', th.dataset.sort === field && !state.sort.startsWith('-'));
    th.classList.toggle('sorted-desc', th.dataset.sort === field && state.sort.startsWith('-'));
  }
}

function init() {
  const textual = new Set(['id', 'tenant', 'sourceIp']);
  for (const th of document.querySelectorAll('th[data-sort]')) {
    th.addEventListener('click', () => {
      const field = th.dataset.sort;
      const current = state.sort.replace(/^-/, '');
      if (field === current) state.sort = state.sort.startsWith('-') ? field : `-${field}`;
      else state.sort = textual.has(field) ? field : `-${field}`;
      showSort();
      resetPaging();
      refreshSoon();
    });
  }
  showSort();
  let typing = null;
  $('search').addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      state.query = $('search').value.trim();
      resetPaging();
      refreshSoon();
    }, 250);
  });
  $('next-page').addEventListener('click', () => {
    if (!state.next) return;
    state.cursors = state.cursors.slice(0, state.page + 1).concat([state.next]);
    state.page++;
    refreshSoon();
  });
  $('prev-page').addEventListener('click', () => {
    if (state.page === 0) return;
    state.page--;
    refreshSoon();
  });
  $('member-filter-clear').addEventListener('click', () => filterMembers(null));
  $('detail-hide').addEventListener('click', () => {
    state.selected = null;
    $('detail').hidden = true;
    for (const tr of $('connections').tBodies[0].rows) tr.classList.remove('selected');
  });
  $('send-form').addEventListener('submit', sendFrame);
  $('close-button').addEventListener('click', closeConnection);
  $('publish-form').addEventListener('submit', publish);
  routesChart.draw();
  errorsChart.draw();
  refreshSoon();
  connectEvents();
}

init();
