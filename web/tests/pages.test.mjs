// The pages in Debian's headless Chromium, against the whole stack behind
// the edge (started by tests/e2e/tests/web_pages.rs, which passes the
// addresses and tokens below). Every wait has a deadline; nothing sleeps as
// an assertion.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this test with cargo test -p vibes-e2e --test web_pages`);
  return value;
}

const baseUrl = required('VIBES_WEB_BASE_URL');
const vibe = required('VIBES_WEB_VIBE');
const cap = Number(required('VIBES_WEB_MAX_PARTICIPANTS'));
const creatorToken = required('VIBES_WEB_CREATOR_TOKEN');
const [flvToken, hlsToken, lateToken] = required('VIBES_WEB_LISTENER_TOKENS').split(',');
const expiredToken = required('VIBES_WEB_EXPIRED_LISTENER_TOKEN');
const artifacts = required('VIBES_WEB_ARTIFACTS');
const chromiumPath = process.env.VIBES_WEB_CHROMIUM ?? '/usr/bin/chromium';

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
// hls.js in lowLatencyMode must play this long through the edge without a stall.
const LL_HLS_SECONDS = 30;

let browser;
const pages = {};
const pageProblems = [];

before(async () => {
  await mkdir(artifacts, { recursive: true });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      // No sound card and no user gesture in a test: let <audio> play anyway.
      '--autoplay-policy=no-user-gesture-required',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
});

/** A page in its own context (own storage), failing on script errors and CSP refusals. */
async function openPage(name, pathname, viewport = DESKTOP) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport, baseURL: baseUrl });
  const page = await context.newPage();
  page.on('pageerror', (error) => pageProblems.push(`${name}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      console.log(`[${name} console ${message.type()}] ${message.text()}`);
    }
    if (/Content Security Policy/i.test(message.text())) pageProblems.push(`${name}: ${message.text()}`);
  });
  await page.goto(pathname);
  pages[name] = page;
  return page;
}

/** Polls `probe` until it returns a truthy value, or fails after `timeoutMs` naming `what`. */
async function eventually(what, probe, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function registryCount(page) {
  const response = await page.request.get('/streams/active');
  assert.equal(response.status(), 200);
  const listed = (await response.json()).streams.find((stream) => stream.vibe_id === vibe);
  return listed ? listed.participant_count : null;
}

/** Counts the <audio> element's stall and waiting events from now on. */
async function watchMedia(page) {
  await page.evaluate(() => {
    const audio = document.getElementById('audio');
    window.mediaWatch = { stalled: 0, waiting: 0, playing: 0 };
    for (const name of ['stalled', 'waiting', 'playing']) {
      audio.addEventListener(name, () => {
        window.mediaWatch[name] += 1;
      });
    }
  });
}

function mediaState(page) {
  return page.evaluate(() => {
    const audio = document.getElementById('audio');
    return { currentTime: audio.currentTime, paused: audio.paused, ...window.mediaWatch };
  });
}

/** Joins `vibe` from the list with the keyboard: focus the Join button, press Enter. */
async function joinFromList(page) {
  const join = page.getByRole('button', { name: `Join ${vibe}` });
  await join.waitFor({ timeout: 15000 });
  await join.focus();
  await page.keyboard.press('Enter');
}

async function text(page, selector) {
  return (await page.locator(selector).textContent()).trim();
}

test('the pages in headless Chromium', async (t) => {
  await t.test('this Chromium decodes AAC through Media Source Extensions', async () => {
    const page = await openPage('probe', '/');
    const support = await page.evaluate(() => ({
      aacInMse: MediaSource.isTypeSupported('audio/mp4; codecs="mp4a.40.2"'),
      userAgent: navigator.userAgent,
    }));
    console.log(`${support.userAgent}: MediaSource audio/mp4 mp4a.40.2 supported = ${support.aacInMse}`);
    assert.equal(support.aacInMse, true);
    await page.context().close();
  });

  await t.test('the creator page streams audio it makes itself, started from the keyboard', async () => {
    const page = await openPage('creator', '/create.html');
    const tokenField = page.getByLabel('Creator token', { exact: true });
    const vibeField = page.getByLabel('Stream id', { exact: true });

    // A refused token: the page says why and stops.
    await tokenField.fill('not-a-token');
    await vibeField.fill(vibe);
    await tokenField.press('Enter');
    await eventually('the refusal explained', async () => /not valid.*Streaming stopped/.test(await page.locator('#alert').textContent()));
    assert.match(await text(page, '#problems'), /401 token_invalid/);
    assert.equal(await text(page, '#last-answer'), '401');
    assert.equal(await page.getByRole('button', { name: 'Start streaming' }).isEnabled(), true);

    await vibeField.fill('');
    await tokenField.fill(creatorToken);
    assert.equal(await vibeField.inputValue(), vibe, 'the stream id comes from the token');
    await tokenField.press('Enter');
    await eventually('the first chunk accepted', async () => Number(await text(page, '#chunks-accepted')) >= 1);
    assert.equal(await text(page, '#last-answer'), '202');
    assert.match(await text(page, '#status'), new RegExp(`Streaming to ${vibe}`));
  });

  let flvPage;
  let hlsPage;
  await t.test(`a listener plays HTTP-FLV for 5 s without a stall; on a phone whose FLV stays empty, LL-HLS takes over and plays ${LL_HLS_SECONDS} s without a stall`, async () => {
    flvPage = await openPage('listener', `/listen.html#token=${flvToken}`);
    hlsPage = await openPage('phone', `/listen.html#token=${hlsToken}`, PHONE);
    // A phone whose FLV never carries audio (an empty body, every time): the
    // player must give up on FLV and fall back to HLS.
    let emptyFlvAnswers = 0;
    await hlsPage.route('**/*.flv', (route) => {
      emptyFlvAnswers += 1;
      return route.fulfill({ status: 200, contentType: 'video/x-flv', body: '' });
    });
    assert.equal(new URL(flvPage.url()).hash, '', 'the token is taken out of the address');

    const playFlv = async () => {
      await watchMedia(flvPage);
      const joinedAt = Date.now();
      await joinFromList(flvPage);
      await eventually('HTTP-FLV playback starts', async () => (await mediaState(flvPage)).currentTime > 0.3, 20000);
      console.log(`FLV: join → playing in ${Date.now() - joinedAt} ms`);
      const start = await mediaState(flvPage);
      const samples = [start.currentTime];
      const end = await eventually(
        'currentTime advances 5 s',
        async () => {
          const now = await mediaState(flvPage);
          samples.push(now.currentTime);
          return now.currentTime - start.currentTime >= 5 ? now : null;
        },
        15000,
      );
      console.log(
        `FLV: currentTime ${start.currentTime.toFixed(2)} → ${end.currentTime.toFixed(2)} s, ` +
          `delay behind live shown: ${await text(flvPage, '#latency')}`,
      );
      assert.deepEqual(samples, [...samples].sort((a, b) => a - b), 'currentTime never went back (no restart)');
      assert.equal(end.stalled - start.stalled, 0, 'no stalled event while playing');
      assert.equal(end.waiting - start.waiting, 0, 'no waiting (buffer underrun) event while playing');
      assert.equal(end.paused, false);
      assert.equal(await text(flvPage, '#transport-in-use'), 'HTTP-FLV (mpegts.js)');
      assert.match(await text(flvPage, '#latency'), /^\d+\.\d s$/);
    };
    // The fallback is the packager's LL-HLS, played by hls.js in
    // lowLatencyMode: LL_HLS_SECONDS through the edge without a stall.
    let llRequests = 0;
    let blockingReloads = 0;
    hlsPage.on('request', (request) => {
      if (/\/index\.ll\.m3u8(\?|$)/.test(request.url())) llRequests += 1;
      // Only hls.js in lowLatencyMode sends delivery directives.
      if (/\/index\.ll\.m3u8\?.*_HLS_msn=\d+/.test(request.url())) blockingReloads += 1;
    });
    const playHls = async () => {
      await watchMedia(hlsPage);
      const joinedAt = Date.now();
      await joinFromList(hlsPage);
      await eventually('LL-HLS playback starts', async () => (await mediaState(hlsPage)).currentTime > 0.3, 30000);
      console.log(`LL-HLS: join → playing in ${Date.now() - joinedAt} ms`);
      const start = await mediaState(hlsPage);
      const samples = [start.currentTime];
      const end = await eventually(
        `LL-HLS currentTime advances ${LL_HLS_SECONDS} s`,
        async () => {
          const now = await mediaState(hlsPage);
          samples.push(now.currentTime);
          return now.currentTime - start.currentTime >= LL_HLS_SECONDS ? now : null;
        },
        (LL_HLS_SECONDS + 15) * 1000,
      );
      console.log(
        `LL-HLS: currentTime ${start.currentTime.toFixed(2)} → ${end.currentTime.toFixed(2)} s, ` +
          `delay behind live shown: ${await text(hlsPage, '#latency')}, ` +
          `${blockingReloads} blocking reloads of ${llRequests} playlist requests`,
      );
      assert.ok(emptyFlvAnswers >= 4, `FLV was tried ${emptyFlvAnswers} times before falling back`);
      assert.equal(await text(hlsPage, '#transport-in-use'), 'LL-HLS (hls.js, low-latency mode)');
      assert.deepEqual(samples, [...samples].sort((a, b) => a - b), 'currentTime never went back (no restart)');
      assert.equal(end.stalled - start.stalled, 0, 'no stalled event while playing');
      assert.equal(end.waiting - start.waiting, 0, 'no waiting (buffer underrun) event while playing');
      assert.equal(end.paused, false);
      // Blocking reloads: hls.js asks for the next part, so it reloads the
      // playlist about once per part (256 ms), far more than once a second.
      assert.ok(
        blockingReloads >= 2 * LL_HLS_SECONDS,
        `${blockingReloads} blocking reloads of ${llRequests} in ${LL_HLS_SECONDS} s`,
      );
    };
    await Promise.all([playFlv(), playHls()]);
  });

  await t.test("the count shown equals the registry's", async () => {
    const shown = await eventually('the page shows the registry count', async () => {
      const registry = await registryCount(flvPage);
      const count = Number(await text(flvPage, '#participant-count'));
      return count === registry ? { count, registry } : null;
    });
    assert.equal(shown.count, 2);
    assert.equal(Number(await text(flvPage, '#participant-max')), cap);
  });

  await t.test('screenshots: creator, listener, listener at 390 px wide', async () => {
    const overflow = await hlsPage.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(overflow <= PHONE.width, `the phone page scrolls sideways (${overflow} px wide)`);
    await pages.creator.screenshot({ path: path.join(artifacts, 'creator.png'), fullPage: true });
    await flvPage.screenshot({ path: path.join(artifacts, 'listener.png'), fullPage: true });
    await hlsPage.screenshot({ path: path.join(artifacts, 'listener-390px.png'), fullPage: true });
  });

  await t.test('a full stream and an expired token are explained', async () => {
    const page = await openPage('late', `/listen.html#token=${lateToken}`);
    await joinFromList(page);
    const full = await eventually('the full message', async () => page.locator('#alert').textContent());
    assert.match(full, new RegExp(`full \\(${cap} of ${cap} seats`));
    assert.equal(await page.locator('#player').isHidden(), true);

    await page.getByLabel('Listener token', { exact: true }).fill(expiredToken);
    await joinFromList(page);
    await eventually('the expired message', async () => /expired/.test(await page.locator('#alert').textContent()));
    assert.equal(await registryCount(page), 2, 'neither took a seat');
    await page.context().close();
  });

  await t.test('closing the listener page leaves the stream', async () => {
    await hlsPage.close({ runBeforeUnload: true });
    await eventually('the seat freed', async () => (await registryCount(flvPage)) === 1, 10000);
    await eventually('the remaining listener sees 1', async () => (await text(flvPage, '#participant-count')) === '1');
  });

  await t.test('the creator streamed ~10 s, stops, and ends the stream; the listener is told', async () => {
    const creator = pages.creator;
    await eventually('10 s of audio accepted', async () => Number(await text(creator, '#seconds-accepted')) >= 10, 20000);
    await creator.getByRole('button', { name: 'Stop sending' }).click();
    await eventually('sending stopped', async () => creator.getByRole('button', { name: 'Start streaming' }).isEnabled());
    assert.equal(await creator.locator('#problems li').count(), 1, 'only the refused token');

    await creator.getByRole('button', { name: 'End stream' }).click();
    await eventually('the creator sees the end', async () => /has ended/.test(await text(creator, '#status')));
    await eventually('the listener is told', async () => /ended/.test(await flvPage.locator('#alert').textContent()));
    assert.equal(await flvPage.locator('#player').isHidden(), true);
  });

  await t.test('no script error and no Content-Security-Policy refusal on any page', () => {
    assert.deepEqual(pageProblems, []);
  });
});
