// What the node tests share: where the gateways and the Go peer are (set by
// the Go harness, harness_test.go), clients closed after each file, and a
// bare WebSocket peer for frames no client would send.

import { after } from 'node:test';
import { once } from 'node:events';
import WebSocket from 'ws';
import { Monologue, type ConnectOptions } from '@monologue-go/monologue';

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through go test ./clients/js (harness_test.go)`);
  return v;
}

export const env = {
  get endpoint() { return required('TEST_ENDPOINT'); },
  get apiKey() { return required('TEST_API_KEY'); },
  get adminURL() { return required('TEST_ADMIN_URL'); },
  get publicURL() { return required('TEST_PUBLIC_URL'); },
  get goPeer() { return required('TEST_GO_PEER'); },
  get goPeerName() { return required('TEST_GO_PEER_NAME'); },
  get controlURL() { return required('TEST_CONTROL_URL'); },
  get restartEndpoint() { return required('TEST_RESTART_ENDPOINT'); },
  get compatDir() { return required('TEST_COMPAT_DIR'); },
};

const clients: Monologue[] = [];
const sockets: WebSocket[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const s of sockets) s.terminate();
});

/** Connects a client to the test gateway (closed when the file's tests end). */
export async function connect(options: ConnectOptions = {}): Promise<Monologue> {
  const c = await Monologue.connect({ endpoint: env.endpoint, apiKey: env.apiKey, ...options });
  clients.push(c);
  return c;
}

/** Keeps c to be closed when the file's tests end. */
export function track(c: Monologue): Monologue {
  clients.push(c);
  return c;
}

/** n bytes of text that changes along its length (as bigString in peer_test.go). */
export function bigString(n: number): string {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < n; i++) {
    const part = String(i).padStart(8, '0') + '.';
    parts.push(part);
    length += part.length;
  }
  return parts.join('').slice(0, n);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Asks the Go side (peer_test.go, startControl) for something. */
export async function control(path: string, body?: unknown): Promise<any> {
  const res = await fetch(env.controlURL + path, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`control ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Closes connection id from the gateway's side (management API). */
export async function deleteConnection(id: string): Promise<void> {
  const res = await fetch(`${env.adminURL}/@connections/${encodeURIComponent(id)}`, { method: 'DELETE' });
  if (res.status !== 204) throw new Error(`DELETE /@connections/${id}: ${res.status}`);
}

/** A bare WebSocket connection that sends and records raw frames. */
export interface RawPeer {
  id: string;
  frames: any[];
  send(to: string, payload: unknown): void;
  next(what: string, pred?: (f: any) => boolean): Promise<any>;
}

export async function rawPeer(): Promise<RawPeer> {
  const ws = new WebSocket(env.endpoint, { headers: { 'x-api-key': env.apiKey } });
  sockets.push(ws);
  await once(ws, 'open');
  ws.send('whoami');
  const [first] = await once(ws, 'message');
  const peer: RawPeer = {
    id: first.toString(),
    frames: [],
    send(to, payload) {
      ws.send(JSON.stringify({ action: 'sendmessage', to, payload }));
    },
    async next(what, pred = () => true) {
      let found: any;
      await waitFor(what, () => {
        const i = peer.frames.findIndex(pred);
        if (i < 0) return false;
        found = peer.frames.splice(i, 1)[0];
        return true;
      });
      return found;
    },
  };
  ws.on('message', (data) => {
    try {
      peer.frames.push(JSON.parse(data.toString()));
    } catch {
      /* not JSON */
    }
  });
  return peer;
}
