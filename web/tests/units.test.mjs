// The pages' parts that need no browser, in node: PCM conversion, token and
// problem reading, and the creator's rules for retrying a refused chunk.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interleaveS16le, CHUNK_FRAMES, SAMPLE_RATE, CHANNELS } from '../assets/pcm.js';
import { creatorMessage, listenerMessage, retryAfterSeconds, takeTokenFromAddress, tokenClaims } from '../assets/api.js';
import { CreatorStreamer } from '../assets/streamer.js';

test('a chunk is 2 s of 48 kHz stereo: 384000 bytes, whole frames, under the 1 MiB limit', () => {
  assert.equal(SAMPLE_RATE, 48000);
  assert.equal(CHANNELS, 2);
  const bytes = interleaveS16le([new Float32Array(CHUNK_FRAMES), new Float32Array(CHUNK_FRAMES)]);
  assert.equal(bytes.length, 384000);
  assert.equal(bytes.length % 4, 0);
  assert.ok(bytes.length <= 1 << 20);
});

test('samples are interleaved left, right as little-endian s16, clipped to full scale', () => {
  const left = Float32Array.from([0, 1, -1, 2]);
  const right = Float32Array.from([0.5, -0.5, -2, 0]);
  const bytes = interleaveS16le([left, right]);
  const view = new DataView(bytes.buffer);
  const samples = Array.from({ length: 8 }, (_, index) => view.getInt16(index * 2, true));
  assert.deepEqual(samples, [0, 16384, 32767, -16384, -32768, -32768, 32767, 0]);
  assert.deepEqual(Array.from(bytes.slice(2, 4)), [0x00, 0x40], 'little-endian');
});

test('a JWT payload is read without verifying it; anything else is null', () => {
  const payload = Buffer.from(JSON.stringify({ sub: 'c-1', role: 'creator', vibe: 'chill_01', exp: 2000000000 }))
    .toString('base64url');
  assert.deepEqual(tokenClaims(`eyJhbGciOiJIUzI1NiJ9.${payload}.sig`), {
    sub: 'c-1',
    role: 'creator',
    vibe: 'chill_01',
    exp: 2000000000,
  });
  for (const notAToken of ['', 'abc', 'a.%%%.c', undefined]) {
    assert.equal(tokenClaims(notAToken), null, String(notAToken));
  }
});

test('a token handed over in the fragment is taken once and removed from the address', () => {
  const replaced = [];
  const history = { replaceState: (_state, _title, url) => replaced.push(url) };
  const token = takeTokenFromAddress({ hash: '#token=abc.def.ghi', pathname: '/listen.html', search: '?transport=hls' }, history);
  assert.equal(token, 'abc.def.ghi');
  assert.deepEqual(replaced, ['/listen.html?transport=hls']);
  assert.equal(takeTokenFromAddress({ hash: '', pathname: '/', search: '' }, history), null);
  assert.equal(replaced.length, 1);
});

test('Retry-After is read as seconds, with a fallback for junk', () => {
  assert.equal(retryAfterSeconds('3'), 3);
  assert.equal(retryAfterSeconds(null), 1);
  assert.equal(retryAfterSeconds('soon', 2), 2);
});

test('refusals become sentences that say what happened', () => {
  const full = { status: 409, code: 'stream_full', extensions: { participant_count: 2, max_participants: 2 } };
  assert.match(listenerMessage(full), /full \(2 of 2 seats/);
  assert.match(listenerMessage({ status: 401, code: 'token_expired' }), /expired/);
  assert.match(listenerMessage({ status: 404, code: 'stream_not_live' }), /ended/);
  assert.match(creatorMessage({ status: 429, code: 'buffer_full', retryAfterSeconds: 2 }), /buffer is full.*2 s/);
  assert.match(creatorMessage({ status: 403, code: 'wrong_vibe' }), /another stream/);
  assert.match(
    listenerMessage({ status: 418, code: 'teapot', title: 'Odd', detail: 'short and stout' }),
    /Odd \(418 teapot\): short and stout/,
  );
});

/** Answers the streamer's requests in order, recording what it sent. */
function answerRequests(answers) {
  const sent = [];
  globalThis.fetch = async (url, init) => {
    sent.push({ url, method: init.method, seq: init.headers['X-Chunk-Seq'], auth: init.headers.Authorization });
    const { status, body, headers = {} } = answers.shift();
    const type = status >= 400 ? 'application/problem+json' : 'application/json';
    return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': type, ...headers } });
  };
  return sent;
}

function streamerFor(problems) {
  const streamer = new CreatorStreamer({
    vibeId: 'v1',
    token: 'tok',
    sound: { kind: 'music' },
    onProblem: (error, fatal) => problems.push({ code: error.code, fatal }),
  });
  streamer.running = true;
  return streamer;
}

const accepted = (seq, queued) => ({
  status: 202,
  body: { vibe_id: 'v1', accepted_bytes: 384000, accepted_ms: 2000, queued_chunks: queued, seq, duplicate: false },
});

test('a full buffer is waited out and the same chunk is sent again with the same seq', async () => {
  const sent = answerRequests([
    { status: 429, body: { code: 'buffer_full', status: 429 }, headers: { 'Retry-After': '0' } },
    accepted(0, 16),
  ]);
  const problems = [];
  const streamer = streamerFor(problems);
  assert.equal(await streamer.deliver(new Uint8Array(4)), true);
  assert.deepEqual(sent.map(({ url, method, seq, auth }) => [url, method, seq, auth]), [
    ['/stream/v1/audio', 'POST', '0', 'Bearer tok'],
    ['/stream/v1/audio', 'POST', '0', 'Bearer tok'],
  ]);
  assert.deepEqual(problems, [{ code: 'buffer_full', fatal: false }]);
  assert.equal(streamer.state.chunksAccepted, 1);
  assert.equal(streamer.state.secondsAccepted, 2);
  assert.equal(streamer.state.queuedChunks, 16);
  assert.equal(streamer.state.seq, 1);
});

test('a stale seq goes on after the one the server holds', async () => {
  const sent = answerRequests([
    { status: 409, body: { code: 'stale_chunk_seq', status: 409, last_seq: 41 } },
    accepted(42, 1),
  ]);
  const streamer = streamerFor([]);
  assert.equal(await streamer.deliver(new Uint8Array(4)), true);
  assert.deepEqual(sent.map(({ seq }) => seq), ['0', '42']);
  assert.equal(streamer.state.seq, 43);
});

test('a refused token stops the stream after one request', async () => {
  const sent = answerRequests([{ status: 401, body: { code: 'token_expired', status: 401 } }]);
  const problems = [];
  const streamer = streamerFor(problems);
  assert.equal(await streamer.deliver(new Uint8Array(4)), false);
  assert.equal(sent.length, 1);
  assert.deepEqual(problems, [{ code: 'token_expired', fatal: true }]);
  assert.equal(streamer.state.lastAnswer, 401);
});
