// The client in a real browser: Debian's Chromium, headless, driven by
// playwright-core (never a downloaded browser), loads a page served here
// that uses the client against the gateway with the native WebSocket; each
// scenario of test/browser/page.js is a test here.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { deleteConnection, env } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'); // clients/js
const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json' };

/** Serves the page and the built client: /, /test/browser/*, /dist/*. */
function serve(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const rel = url.pathname === '/' ? 'test/browser/page.html' : url.pathname.slice(1);
    const file = path.join(root, rel);
    if (!(rel.startsWith('dist/') || rel.startsWith('test/browser/')) || !file.startsWith(root + path.sep) || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': types[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('in Chromium', () => {
  const executablePath = process.env.TEST_CHROMIUM;
  let server: http.Server;
  let browser: Browser;
  let page: Page;
  const console: string[] = [];

  before(async () => {
    if (!executablePath) throw new Error('TEST_CHROMIUM is not set: run through go test ./clients/js -run TestBrowser');
    server = await serve();
    const { port } = server.address() as { port: number };
    browser = await chromium.launch({
      executablePath,
      headless: false, // the flag below, as given
      args: [
        '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    });
    page = await browser.newPage();
    page.on('console', (m) => console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => console.push(`pageerror: ${e.message}`));
    const query = new URLSearchParams({ endpoint: env.endpoint, apiKey: env.apiKey, goPeer: env.goPeer });
    await page.goto(`http://127.0.0.1:${port}/?${query}`);
    await page.waitForFunction(() => (window as any).ready === true, null, { timeout: 10_000 });
  });

  after(async () => {
    await browser?.close();
    server?.close();
  });

  const run = async (name: string, arg?: unknown): Promise<any> => {
    try {
      return await page.evaluate(([n, a]) => (window as any).scenarios[n as string](a), [name, arg] as const);
    } catch (err) {
      throw new Error(`${name}: ${err instanceof Error ? err.message : err}\n--- page console ---\n${console.join('\n')}`);
    }
  };

  it('connects with the key in the query, two clients', async () => {
    const id = await run('connect');
    assert.match(id, /^[A-Za-z0-9+/]{15}=$/);
  });
  it('a refused key rejects the connection', () => run('refusedKey'));
  it('calls between two clients of the page', () => run('calls'));
  it('NotFoundError, HandlerError, GoneError', () => run('errors'));
  it('TimeoutError and AbortSignal', () => run('timeoutAndAbort'));
  it('messages', () => run('messages'));
  it('channels', () => run('channels'));
  it('500 concurrent calls', () => run('concurrentCalls'));
  it('calls the Go client, 1 MiB in parts both ways', () => run('goPeer'));
  it('2 MiB in parts between two clients', () => run('chunked'));
  it('reconnects after the gateway drops the connection', async () => {
    const id = await run('reconnectStart');
    await deleteConnection(id);
    await run('reconnectCheck', id);
  });
  it('close', () => run('close'));
});
