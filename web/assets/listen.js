// The listener page: lists live streams, joins one with the listener's
// token, plays it, keeps the count and the delay in view, and says plainly
// why playback stops (full, ended, token expired). Leaving the page leaves
// the stream, so the seat frees at once rather than when its lease lapses.

import { callApi, listenerMessage, takeTokenFromAddress } from './api.js';
import { LivePlayer } from './player.js';

const REFRESH_MS = 3000;
const LATENCY_MS = 1000;
// A refusal right after a re-join is final: the re-join's own answer was ok,
// so asking again would loop.
const REJOIN_QUIET_MS = 10000;
const TOKEN_KEY = 'vibesflow.listener-token';
const TRANSPORT_NAMES = { flv: 'HTTP-FLV (mpegts.js)', hls: 'HLS (hls.js)', 'native-hls': 'HLS (browser)' };
const LOW_LATENCY_NAMES = { hls: 'LL-HLS (hls.js, low-latency mode)', 'native-hls': 'LL-HLS (browser)' };

const byId = (id) => document.getElementById(id);
const ui = {
  token: byId('listener-token'),
  transport: byId('transport'),
  refresh: byId('refresh-streams'),
  streams: byId('streams'),
  streamsEmpty: byId('streams-empty'),
  joinById: byId('join-by-id'),
  joinVibeId: byId('join-vibe-id'),
  player: byId('player'),
  heading: byId('now-playing-heading'),
  nowPlaying: byId('now-playing'),
  audio: byId('audio'),
  count: byId('participant-count'),
  max: byId('participant-max'),
  latency: byId('latency'),
  transportInUse: byId('transport-in-use'),
  leave: byId('leave'),
  status: byId('status'),
  alert: byId('alert'),
};

/** The stream this page has joined, or null. */
let session = null;
const listItems = new Map();

function say(text) {
  ui.status.textContent = text;
}

function warn(text) {
  ui.alert.textContent = text;
  ui.alert.hidden = !text;
}

function showCount(count, max) {
  ui.count.textContent = String(count);
  ui.max.textContent = String(max);
}

// ---- The list of live streams --------------------------------------------

async function refreshStreams() {
  const askedAt = performance.now();
  let streams;
  try {
    streams = (await callApi('/streams/active')).body.streams;
  } catch (error) {
    say(`The list of streams could not be refreshed: ${listenerMessage(error)}`);
    return;
  }
  renderStreams(streams);
  // A listing asked for before the join may predate the stream itself.
  if (session && askedAt > session.joinedAt) followSession(streams);
}

function renderStreams(streams) {
  const seen = new Set();
  for (const stream of streams) {
    seen.add(stream.vibe_id);
    let item = listItems.get(stream.vibe_id);
    if (!item) {
      item = streamItem(stream.vibe_id);
      listItems.set(stream.vibe_id, item);
      ui.streams.append(item.element);
    }
    const since = new Date(stream.started_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const creator = stream.creator ? ` · by ${stream.creator}` : '';
    item.details.textContent = `${stream.participant_count} of ${stream.max_participants} listening${creator} · live since ${since}`;
    const playing = session?.vibeId === stream.vibe_id;
    item.button.disabled = playing;
    item.button.textContent = playing ? 'Playing' : 'Join';
  }
  // Items are updated in place, never rebuilt, so keyboard focus survives a refresh.
  for (const [vibeId, item] of listItems) {
    if (!seen.has(vibeId)) {
      item.element.remove();
      listItems.delete(vibeId);
    }
  }
  ui.streamsEmpty.hidden = streams.length > 0;
}

function streamItem(vibeId) {
  const element = document.createElement('li');
  element.dataset.vibeId = vibeId;
  const text = document.createElement('div');
  const name = document.createElement('strong');
  name.textContent = vibeId;
  const details = document.createElement('span');
  details.className = 'hint';
  text.append(name, document.createElement('br'), details);
  const button = document.createElement('button');
  button.type = 'button';
  button.setAttribute('aria-label', `Join ${vibeId}`);
  button.addEventListener('click', () => join(vibeId));
  element.append(text, button);
  return { element, details, button };
}

function followSession(streams) {
  const listed = streams.find((stream) => stream.vibe_id === session.vibeId);
  if (!listed) {
    endSession('The stream has ended. Thanks for listening!');
    return;
  }
  showCount(listed.participant_count, listed.max_participants);
}

// ---- Joining, playing, leaving -----------------------------------------------

async function join(vibeId) {
  warn('');
  const token = ui.token.value.trim();
  if (!token) {
    warn('A listener token is needed to join. Paste one above.');
    ui.token.focus();
    return;
  }
  if (session) await leave();
  say(`Joining ${vibeId}…`);
  let joined;
  try {
    joined = (await callApi(`/stream/${encodeURIComponent(vibeId)}/join`, { method: 'POST', token, json: {} })).body;
  } catch (error) {
    say('');
    warn(listenerMessage(error));
    return;
  }
  startSession(vibeId, token, joined);
}

function startSession(vibeId, token, joined) {
  const player = new LivePlayer(ui.audio, joined.playback, {
    preferred: ui.transport.value,
    onEvent: onPlayerEvent,
  });
  session = {
    vibeId,
    token,
    participantId: joined.participant_id,
    joinedAt: performance.now(),
    rejoinedAt: -Infinity,
    player,
    latencyTimer: setInterval(showLatency, LATENCY_MS),
  };
  ui.nowPlaying.textContent = vibeId;
  showCount(joined.participant_count, joined.max_participants);
  ui.latency.textContent = '–';
  ui.player.hidden = false;
  ui.heading.focus();
  say(`Joined ${vibeId}; starting the player…`);
  player.start();
  refreshStreams();
}

function stopSession() {
  if (!session) return null;
  const ended = session;
  session = null;
  clearInterval(ended.latencyTimer);
  ended.player.stop();
  ui.player.hidden = true;
  ui.transportInUse.textContent = '–';
  for (const item of listItems.values()) {
    item.button.disabled = false;
    item.button.textContent = 'Join';
  }
  return ended;
}

function endSession(message) {
  stopSession();
  say('');
  warn(message);
}

async function leave({ keepalive = false } = {}) {
  const left = stopSession();
  if (!left) return;
  try {
    await callApi(`/stream/${encodeURIComponent(left.vibeId)}/leave`, {
      method: 'POST',
      token: left.token,
      json: { participant_id: left.participantId },
      keepalive,
    });
    say(`You left ${left.vibeId}.`);
  } catch (error) {
    warn(listenerMessage(error));
  }
}

/** Joins again for a fresh playback URL; the answer says why if it cannot. */
async function rejoin(status) {
  const current = session;
  if (performance.now() - current.rejoinedAt < REJOIN_QUIET_MS) {
    endSession(listenerMessage({ code: status === 401 ? 'playback_token_invalid' : 'playback_forbidden' }));
    return;
  }
  current.rejoinedAt = performance.now();
  say('Renewing your seat…');
  try {
    const path = `/stream/${encodeURIComponent(current.vibeId)}/join`;
    const joined = (await callApi(path, { method: 'POST', token: current.token, json: {} })).body;
    if (session !== current) return;
    showCount(joined.participant_count, joined.max_participants);
    current.player.restart(joined.playback);
  } catch (error) {
    if (session === current) endSession(listenerMessage(error));
  }
}

function onPlayerEvent(event) {
  if (!session) return;
  switch (event.type) {
    case 'transport':
      ui.transportInUse.textContent = (event.lowLatency && LOW_LATENCY_NAMES[event.transport]) || TRANSPORT_NAMES[event.transport];
      break;
    case 'playing':
      warn('');
      say(`Playing ${session.vibeId}.`);
      break;
    case 'buffering':
      say('Buffering…');
      break;
    case 'needs-gesture':
      say('Press play to listen.');
      break;
    case 'reconnecting':
      say('Reconnecting…');
      // The stream may have ended: find out now rather than at the next refresh.
      refreshStreams();
      break;
    case 'fallback':
      say(`HTTP-FLV cannot play here (${event.reason}); switching to HLS.`);
      break;
    case 'refused':
      rejoin(event.status);
      break;
    case 'unsupported':
      endSession(
        ui.transport.value === 'auto'
          ? 'This browser cannot play live audio (it has neither Media Source Extensions nor HLS).'
          : `This browser cannot play the stream with "${ui.transport.selectedOptions[0].text}". Choose "Automatic".`,
      );
      break;
    default:
      break;
  }
}

function showLatency() {
  const seconds = session?.player.latencySeconds();
  ui.latency.textContent = Number.isFinite(seconds) ? `${seconds.toFixed(1)} s` : '–';
}

// ---- Wiring ------------------------------------------------------------------

function restoreToken() {
  const handedOver = takeTokenFromAddress(window.location, window.history);
  const token = handedOver ?? sessionStorage.getItem(TOKEN_KEY) ?? '';
  ui.token.value = token;
  if (handedOver) sessionStorage.setItem(TOKEN_KEY, handedOver);
  ui.token.addEventListener('change', () => sessionStorage.setItem(TOKEN_KEY, ui.token.value.trim()));
  const preferred = new URLSearchParams(window.location.search).get('transport');
  if (['auto', 'flv', 'hls'].includes(preferred)) ui.transport.value = preferred;
}

// Enter in the token field only keeps the token; joining is per stream.
byId('token-form').addEventListener('submit', (event) => event.preventDefault());
ui.refresh.addEventListener('click', refreshStreams);
ui.joinById.addEventListener('submit', (event) => {
  event.preventDefault();
  join(ui.joinVibeId.value.trim());
});
ui.leave.addEventListener('click', () => leave());
// Closing the tab or navigating away frees the seat now (keepalive lets the
// request outlive the page).
window.addEventListener('pagehide', () => leave({ keepalive: true }));

restoreToken();
refreshStreams();
setInterval(refreshStreams, REFRESH_MS);
