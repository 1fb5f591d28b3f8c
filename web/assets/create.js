// The creator simulator page: a creator token in, WebAudio music out, sent
// as the API takes it, with the server's answers in view as they come back.

import { VIBE_ID_PATTERN, creatorMessage, takeTokenFromAddress, tokenClaims } from './api.js';
import { CreatorStreamer } from './streamer.js';

const TOKEN_KEY = 'vibesflow.creator-token';
const LOG_LENGTH = 20;

const byId = (id) => document.getElementById(id);
const ui = {
  form: byId('creator-form'),
  token: byId('creator-token'),
  vibeId: byId('vibe-id'),
  toneFrequency: byId('tone-frequency'),
  start: byId('start'),
  stop: byId('stop'),
  end: byId('end'),
  chunks: byId('chunks-accepted'),
  seconds: byId('seconds-accepted'),
  queued: byId('queued-chunks'),
  meter: byId('buffer-meter'),
  lastAnswer: byId('last-answer'),
  problems: byId('problems'),
  problemsEmpty: byId('problems-empty'),
  status: byId('status'),
  alert: byId('alert'),
};

let streamer = null;

function say(text) {
  ui.status.textContent = text;
}

function warn(text) {
  ui.alert.textContent = text;
  ui.alert.hidden = !text;
}

function logProblem(error) {
  const entry = document.createElement('li');
  const time = new Date().toLocaleTimeString();
  entry.textContent = `${time} · ${error.status || '–'} ${error.code}: ${creatorMessage(error)}`;
  ui.problems.prepend(entry);
  ui.problemsEmpty.hidden = true;
  while (ui.problems.children.length > LOG_LENGTH) ui.problems.lastElementChild.remove();
}

function selectedSound() {
  const kind = ui.form.elements.sound.value;
  return { kind, frequencyHz: Number(ui.toneFrequency.value) || 440 };
}

function showState(state) {
  ui.chunks.textContent = String(state.chunksAccepted);
  ui.seconds.textContent = state.secondsAccepted.toFixed(1);
  ui.queued.textContent = String(state.queuedChunks);
  ui.meter.value = state.queuedChunks;
  ui.lastAnswer.textContent = state.lastAnswer === null ? '–' : String(state.lastAnswer);
  ui.start.disabled = state.running;
  ui.stop.disabled = !state.running;
  ui.end.disabled = state.chunksAccepted === 0;
  ui.token.readOnly = state.running;
  ui.vibeId.readOnly = state.running;
}

/** Prefills the stream id from the token and warns early about a stale one. */
function readToken() {
  const claims = tokenClaims(ui.token.value.trim());
  if (claims?.vibe && !ui.vibeId.value) ui.vibeId.value = claims.vibe;
  if (claims?.exp && claims.exp * 1000 < Date.now()) {
    warn('This creator token has expired. Get a new one.');
  } else if (claims?.role && claims.role !== 'creator') {
    warn('This is not a creator token. Streaming needs a creator token.');
  } else {
    warn('');
  }
}

function start() {
  const vibeId = ui.vibeId.value.trim();
  const token = ui.token.value.trim();
  if (!VIBE_ID_PATTERN.test(vibeId)) {
    warn('A stream id is 1 to 64 letters, digits, "-" or "_".');
    ui.vibeId.focus();
    return;
  }
  warn('');
  sessionStorage.setItem(TOKEN_KEY, token);
  streamer = new CreatorStreamer({
    vibeId,
    token,
    sound: selectedSound(),
    onUpdate: (state) => {
      showState(state);
      if (state.running && state.chunksAccepted > 0) say(`Streaming to ${vibeId}.`);
    },
    onProblem: (error, fatal) => {
      logProblem(error);
      const message = creatorMessage(error);
      if (fatal) {
        warn(`${message} Streaming stopped.`);
        say('Stopped.');
      } else {
        say(message);
      }
    },
  });
  say(`Starting ${vibeId}…`);
  streamer.start().catch((error) => {
    warn(`Streaming stopped: ${error.message}`);
  });
}

async function stop() {
  say('Stopping after the chunk in flight…');
  await streamer?.stop();
  say('Stopped sending. Listeners hear silence until you start again or end the stream.');
  ui.start.focus();
}

async function end() {
  if (!streamer) return;
  say('Ending the stream…');
  try {
    const ended = await streamer.end();
    say(ended.was_live ? `${ended.vibe_id} has ended.` : `${ended.vibe_id} was not live.`);
    ui.end.disabled = true;
  } catch (error) {
    logProblem(error);
    warn(creatorMessage(error));
  }
  ui.start.focus();
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  start();
});
ui.stop.addEventListener('click', stop);
ui.end.addEventListener('click', end);
ui.token.addEventListener('input', readToken);

ui.token.value = takeTokenFromAddress(window.location, window.history) ?? sessionStorage.getItem(TOKEN_KEY) ?? '';
readToken();
