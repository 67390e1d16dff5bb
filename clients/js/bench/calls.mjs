// Calls per second of one JavaScript client on a gateway: a caller and a
// callee in this process, `concurrency` calls in flight, for `durationMs`
// after a second of warm-up. Run by clients/js/bench (main.go), which
// starts the gateway and compares it with the Go client:
//   node calls.mjs ts|original ENDPOINT API_KEY DURATION_MS CONCURRENCY
// prints {"client":…,"calls":N,"seconds":S}.
//   ts:       this package's client (../dist, built by go run ./clients/js/bench)
//   original: the model of the original client, v2 (../build/compat, copied from compat/js)

import { Monologue } from '../dist/index.js';

const [kind, endpoint, apiKey, durationArg, concurrencyArg] = process.argv.slice(2);
const duration = Number(durationArg);
const concurrency = Number(concurrencyArg);

async function pair() {
  if (kind === 'ts') {
    const callee = await Monologue.connect({ endpoint, apiKey });
    callee.handle('echo', (x) => x);
    const caller = await Monologue.connect({ endpoint, apiKey });
    return { call: () => caller.call(callee.id, 'echo', 'hello'), close: () => Promise.all([caller.close(), callee.close()]) };
  }
  if (kind === 'original') {
    const { default: Original } = await import('../build/compat/original-v2.mjs');
    const callee = new Original({ endpoint, apiKey, timeout: 15000 });
    const caller = new Original({ endpoint, apiKey, timeout: 15000 });
    await Promise.all([callee.connect(), caller.connect()]);
    callee.on('echo', async (x) => x);
    caller.wire = { push() {} }; // the model records every frame; not what is measured
    callee.wire = { push() {} };
    return { call: () => caller.call(callee.connectionId, 'echo', 'hello'), close: () => Promise.all([caller.close(), callee.close()]) };
  }
  throw new Error(`unknown client ${kind}: want ts or original`);
}

const { call, close } = await pair();
async function run(ms) {
  let calls = 0;
  const end = Date.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const r = await call();
        if (r !== 'hello') throw new Error(`wrong answer ${JSON.stringify(r)}`);
        calls++;
      }
    })
  );
  return calls;
}
await run(1000);
const t0 = process.hrtime.bigint();
const calls = await run(duration);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
await close();
console.log(JSON.stringify({ client: kind, calls, seconds }));
process.exit(0);
