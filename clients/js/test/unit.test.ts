// Unit tests of the pieces that need no gateway.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { base64Decode, base64Encode, base64Length, fitsIn, utf8DecodeStrict, utf8Encode, utf8Length } from '../dist/codec.js';
import { chunkWindow, repliesFor } from '../dist/chunks.js';
import { isName } from '../dist/names.js';
import { normalizeEndpoint, withApiKey } from '../dist/transport.js';
import {
  ChunkingUnsupportedError,
  GoneError,
  Monologue,
  MonologueError,
  NotFoundError,
  RateLimitedError,
  TimeoutError,
  errorFor,
  validName,
} from '@monologue-go/monologue';

describe('codec', () => {
  it('counts UTF-8 bytes as TextEncoder does', () => {
    for (const s of ['', 'abc', 'é', '€', '😀', 'a😀b€é\n"\\', 'x'.repeat(1000) + '😀', '\ud800x', 'x\udc00']) {
      assert.equal(utf8Length(s), new TextEncoder().encode(s).length, JSON.stringify(s));
    }
  });

  it('tells whether a frame fits the limit', () => {
    assert.ok(fitsIn('abc', 3));
    assert.ok(!fitsIn('abcd', 3));
    assert.ok(fitsIn('€', 3));
    assert.ok(!fitsIn('€€', 5));
    assert.ok(fitsIn('anything', -1), 'a negative limit is none');
  });

  it('encodes and decodes base64 as RFC 4648 with padding', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      const text = base64Encode(bytes);
      assert.equal(text, Buffer.from(bytes).toString('base64'));
      assert.equal(text.length, base64Length(n));
      assert.deepEqual(base64Decode(text), bytes);
    }
    const view = new Uint8Array([0, 1, 2, 3, 4, 5]).subarray(2, 5);
    assert.equal(base64Encode(view), Buffer.from([2, 3, 4]).toString('base64'), 'a view encodes only its bytes');
  });

  it('rejects what is not strict base64', () => {
    for (const bad of ['abc', 'ab=c', 'a b=', 'ab*=', '====x', 'YQ===']) assert.equal(base64Decode(bad), undefined, bad);
  });

  it('decodes UTF-8 strictly', () => {
    assert.equal(utf8DecodeStrict(utf8Encode('héllo 😀')), 'héllo 😀');
    assert.throws(() => utf8DecodeStrict(new Uint8Array([0xc3, 0x28])), TypeError);
  });
});

describe('chunking', () => {
  it('gives a window of about 512 KiB, at least 1', () => {
    assert.equal(chunkWindow(97_000), 4); // ⌊524288 ⁄ (⌈97000 ⁄ 3⌉·4 + 128)⌋, as in PROTOCOL.md
    assert.equal(chunkWindow(1000), 358);
    assert.equal(chunkWindow(10 << 20), 1);
  });
});

describe('names', () => {
  it('are 1 to 128 bytes of A-Z a-z 0-9 . _ - : / starting with a letter or a digit, as wire.ValidName', () => {
    for (const good of ['a', 'Z', '0', 'svc', 'a.b_c-d:e/f', '9lives', 'x'.repeat(128), 'a/', 'a-']) assert.ok(validName(good), good);
    for (const bad of ['', '.a', '_a', '-a', ':a', '/a', '@a', 'a b', 'a@b', 'é', 'aé', 'x'.repeat(129), 'a\n', 'a*', 'a+b', 'a=b']) {
      assert.ok(!validName(bad), JSON.stringify(bad));
    }
    assert.ok(!validName(undefined) && !validName(1));
  });

  it('a reply to a call to a name is taken from any connection; to an ID, from that one only', () => {
    assert.ok(isName('@svc') && !isName('svc') && !isName('AtuLLemUPHcCItg='));
    assert.ok(repliesFor('AtuLLemUPHcCItg=', 'AtuLLemUPHcCItg='));
    assert.ok(!repliesFor('AtuLLemUPHcCItg=', 'BtuLLemUPHcCItg='));
    assert.ok(repliesFor('@svc', 'BtuLLemUPHcCItg='));
    assert.ok(!repliesFor('@svc', ''));
  });
});

describe('endpoints', () => {
  it('normalizes as the Go client does', () => {
    const cases: [string, string][] = [
      ['127.0.0.1:8080', 'ws://127.0.0.1:8080/'],
      ['http://h:1', 'ws://h:1/'],
      ['https://h/stage', 'wss://h/stage'],
      ['ws://h:1?x=1', 'ws://h:1/?x=1'],
      ['wss://abc.execute-api.eu-west-1.amazonaws.com/latest', 'wss://abc.execute-api.eu-west-1.amazonaws.com/latest'],
    ];
    for (const [input, want] of cases) assert.equal(normalizeEndpoint(input), want, input);
  });

  it('puts the API key in the query for browsers', () => {
    assert.equal(withApiKey('ws://h:1/', 'k+y/='), 'ws://h:1/?apiKey=k%2By%2F%3D');
    assert.equal(withApiKey('ws://h:1/s?a=1', 'k'), 'ws://h:1/s?a=1&apiKey=k');
  });
});

describe('errors', () => {
  it('maps codes to classes that are MonologueErrors with the code', () => {
    const gone = errorFor('gone', 'no connection');
    assert.ok(gone instanceof GoneError && gone instanceof MonologueError && gone instanceof Error);
    assert.equal(gone.code, 'gone');
    assert.equal(gone.name, 'GoneError');
    assert.ok(errorFor('not_found', '') instanceof NotFoundError);
    assert.ok(errorFor('chunking_unsupported', '') instanceof ChunkingUnsupportedError);
    assert.ok(errorFor('timeout', '') instanceof TimeoutError);
    const other = errorFor('something_new', 'm');
    assert.equal(other.constructor, MonologueError);
    assert.equal(other.code, 'something_new');
  });

  it('marks retryable codes', () => {
    assert.equal(new RateLimitedError('x').retryable, true);
    assert.equal(new GoneError('x').retryable, false);
    assert.equal(errorFor('internal', '').retryable, true);
  });
});

describe('connect', () => {
  it('needs an endpoint', async () => {
    const saved = process.env.MONOLOGUE_ENDPOINT;
    delete process.env.MONOLOGUE_ENDPOINT;
    try {
      await assert.rejects(Monologue.connect({}), TypeError);
    } finally {
      if (saved !== undefined) process.env.MONOLOGUE_ENDPOINT = saved;
    }
  });
});
