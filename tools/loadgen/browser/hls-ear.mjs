// The `hls` bench scenario's browser listener: Debian's headless Chromium
// (driven by playwright-core from web/node_modules) opens the edge's own
// listen page, joins a stream with "HLS only", so the page's LivePlayer plays
// it through hls.js with the web player's HLS_CONFIG, and taps the <audio>
// element with Web Audio (MediaElementSource → ScriptProcessor). Every click
// onset it hears is printed at once, as one JSON line on stdout:
//
//   {"event":"onset","epoch_ms":…,"media_s":…}
//
// epoch_ms: wall clock (Unix epoch, ms) when the click's first loud sample
// reached the Web Audio graph: the callback's time minus how far into its
// buffer the sample sits (the tap's own buffering, ≤ 12 ms, is not taken off;
// the sound card's output latency is not included). media_s: the <audio>
// element's currentTime of that sample, which the load generator uses to
// number clicks by their distance in the stream.
//
// Other lines: "ready" (browser facts and the HLS_CONFIG the page serves),
// "joined", "playing" (first time currentTime advances), "waiting" and
// "resumed" (the element ran dry and played again), "page-error",
// "summary" (last), "failed" (then exit 1). Stops on a "stop" line or EOF on
// stdin, or at the deadline.
//
// Settings come from the environment: EAR_BASE_URL (the edge), EAR_VIBE,
// EAR_TOKEN (a participant token, no "Bearer "), EAR_WEB_DIR (holds
// node_modules/playwright-core), EAR_CHROMIUM (default /usr/bin/chromium),
// EAR_DEADLINE_S (default 600).

import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const THRESHOLD = 0.05;
const REFRACTORY_S = 0.1;
const TAP_FRAMES = 512;
const POLL_MS = 50;

function setting(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

function emit(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

const baseUrl = setting('EAR_BASE_URL').replace(/\/+$/, '');
const vibe = setting('EAR_VIBE');
const token = setting('EAR_TOKEN');
const webDir = setting('EAR_WEB_DIR');
const chromiumPath = setting('EAR_CHROMIUM', '/usr/bin/chromium');
const deadline = Date.now() + Number(setting('EAR_DEADLINE_S', '600')) * 1000;

const { chromium } = createRequire(path.join(path.resolve(webDir), 'package.json'))('playwright-core');

let stopRequested = false;
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'stop') stopRequested = true;
});
process.stdin.on('end', () => {
  stopRequested = true;
});

/** Runs in the page: taps #audio and keeps what it hears in window.__ear. */
function installTap({ threshold, refractoryS, tapFrames }) {
  const audio = document.getElementById('audio');
  const ear = {
    onsets: [],
    events: [],
    sampleRate: 0,
    contextState: '',
    framesTapped: 0,
    waiting: 0,
    stalled: 0,
    waitingSince: null,
    waitingMs: 0,
    playingAt: null,
  };
  window.__ear = ear;
  const epochNow = () => performance.timeOrigin + performance.now();
  const context = new AudioContext();
  const source = context.createMediaElementSource(audio);
  const tap = context.createScriptProcessor(tapFrames, 2, 2);
  const refractory = Math.round(refractoryS * context.sampleRate);
  let quietUntil = 0;
  tap.onaudioprocess = (event) => {
    const now = epochNow();
    const media = audio.currentTime;
    const input = event.inputBuffer;
    const channels = [];
    for (let channel = 0; channel < input.numberOfChannels; channel += 1) channels.push(input.getChannelData(channel));
    for (let index = 0; index < input.length; index += 1) {
      const position = ear.framesTapped + index;
      if (position < quietUntil) continue;
      if (!channels.some((samples) => Math.abs(samples[index]) > threshold)) continue;
      const back = (input.length - index) / input.sampleRate;
      ear.onsets.push({ epoch_ms: now - back * 1000, media_s: media - back });
      quietUntil = position + refractory;
    }
    ear.framesTapped += input.length;
  };
  source.connect(tap);
  tap.connect(context.destination);
  ear.sampleRate = context.sampleRate;
  ear.baseLatency = context.baseLatency;
  ear.outputLatency = context.outputLatency;
  ear.contextState = context.state;
  context.onstatechange = () => {
    ear.contextState = context.state;
  };
  audio.addEventListener('playing', () => {
    if (ear.waitingSince !== null) {
      const stalledMs = epochNow() - ear.waitingSince;
      ear.waitingMs += stalledMs;
      ear.waitingSince = null;
      ear.events.push({ event: 'resumed', epoch_ms: epochNow(), stalled_ms: stalledMs, media_s: audio.currentTime });
    }
  });
  audio.addEventListener('timeupdate', () => {
    if (ear.playingAt === null && audio.currentTime > 0 && !audio.paused) {
      ear.playingAt = epochNow();
      ear.events.push({ event: 'playing', epoch_ms: ear.playingAt, media_s: audio.currentTime });
    }
  });
  audio.addEventListener('waiting', () => {
    // Only after playback began: the start itself is not a stall.
    if (ear.playingAt === null) return;
    ear.waiting += 1;
    ear.waitingSince ??= epochNow();
    ear.events.push({ event: 'waiting', epoch_ms: epochNow(), media_s: audio.currentTime });
  });
  audio.addEventListener('stalled', () => {
    if (ear.playingAt !== null) ear.stalled += 1;
  });
  return { sampleRate: context.sampleRate, baseLatency: context.baseLatency, outputLatency: context.outputLatency, state: context.state };
}

/** Runs in the page: what the tap gathered since the last call. */
function drainTap() {
  const ear = window.__ear;
  const onsets = ear.onsets.splice(0);
  const events = ear.events.splice(0);
  return { onsets, events };
}

function pageFacts() {
  const ear = window.__ear;
  const audio = document.getElementById('audio');
  const text = (id) => document.getElementById(id)?.textContent?.trim() ?? '';
  return {
    transport: text('transport-in-use'),
    delay_shown: text('latency'),
    status: text('status'),
    alert: text('alert'),
    current_time_s: audio.currentTime,
    paused: audio.paused,
    waiting: ear.waiting,
    stalled: ear.stalled,
    waiting_ms: ear.waitingMs + (ear.waitingSince === null ? 0 : performance.timeOrigin + performance.now() - ear.waitingSince),
    frames_tapped: ear.framesTapped,
    context_state: ear.contextState,
  };
}

const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'vibes-hls-ear-'));
let context;
let exitCode = 0;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    ignoreHTTPSErrors: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // No user gesture in a bench: let <audio> and the AudioContext start.
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => emit('page-error', { message: error.message }));
  page.on('console', (message) => {
    if (message.type() === 'error') emit('page-error', { message: message.text() });
  });

  // The HLS settings the page's player uses, as the edge serves them.
  const playerSource = await (await page.request.get(`${baseUrl}/assets/player.js`)).text();
  const hlsConfig = /const HLS_CONFIG = (\{[\s\S]*?\});/.exec(playerSource)?.[1] ?? null;
  await page.goto(`${baseUrl}/listen.html#token=${encodeURIComponent(token)}`);
  const audioFacts = await page.evaluate(installTap, {
    threshold: THRESHOLD,
    refractoryS: REFRACTORY_S,
    tapFrames: TAP_FRAMES,
  });
  emit('ready', {
    user_agent: await page.evaluate(() => navigator.userAgent),
    hls_config: hlsConfig,
    hls_js_version: await page.evaluate(() => globalThis.Hls?.version ?? null),
    sample_rate: audioFacts.sampleRate,
    base_latency_s: audioFacts.baseLatency,
    output_latency_s: audioFacts.outputLatency,
    context_state: audioFacts.state,
  });

  // As a listener does: "HLS only", the stream's id, Join.
  await page.selectOption('#transport', 'hls');
  await page.fill('#join-vibe-id', vibe);
  await page.locator('#join-by-id button[type=submit]').click();
  emit('joined', { epoch_ms: Date.now() });

  while (!stopRequested && Date.now() < deadline) {
    const { onsets, events } = await page.evaluate(drainTap);
    for (const event of events) emit(event.event, event);
    for (const onset of onsets) emit('onset', onset);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const { onsets, events } = await page.evaluate(drainTap);
  for (const event of events) emit(event.event, event);
  for (const onset of onsets) emit('onset', onset);
  emit('summary', { ...(await page.evaluate(pageFacts)), stopped_by: stopRequested ? 'request' : 'deadline' });
} catch (error) {
  emit('failed', { message: String(error?.stack ?? error) });
  exitCode = 1;
} finally {
  await context?.close().catch(() => {});
  await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
}
process.exit(exitCode);
