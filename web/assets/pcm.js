// Audio for the creator simulator: rendered with WebAudio, one chunk at a
// time, in the format the API takes (s16le, 48 kHz, stereo, interleaved).

export const SAMPLE_RATE = 48000;
export const CHANNELS = 2;
export const CHUNK_SECONDS = 2;
export const CHUNK_FRAMES = SAMPLE_RATE * CHUNK_SECONDS;

/**
 * Interleaves float channels (-1..1) into little-endian signed 16-bit PCM,
 * clipping what lies outside.
 */
export function interleaveS16le(channels) {
  const frames = channels[0].length;
  const view = new DataView(new ArrayBuffer(frames * channels.length * 2));
  for (let frame = 0; frame < frames; frame += 1) {
    for (let channel = 0; channel < channels.length; channel += 1) {
      const sample = Math.max(-1, Math.min(1, channels[channel][frame]));
      const scaled = Math.round(sample < 0 ? sample * 0x8000 : sample * 0x7fff);
      view.setInt16((frame * channels.length + channel) * 2, scaled, true);
    }
  }
  return new Uint8Array(view.buffer);
}

// A four-bar loop, one bar per chunk (120 bpm, 4/4 = 2 s): A minor, F, C, G.
// Notes sit on an eighth-note grid and fade out within their slot, and the
// bass fades at the bar's edges, so chunk boundaries never click.
const LOOP = [
  { bass: 110.0, chord: [220.0, 261.63, 329.63] },
  { bass: 87.31, chord: [174.61, 220.0, 261.63] },
  { bass: 130.81, chord: [261.63, 329.63, 392.0] },
  { bass: 98.0, chord: [196.0, 246.94, 293.66] },
];
const EIGHTH = 0.25;
const ARPEGGIO = [0, 1, 2, 1, 0, 1, 2, 1];

function scheduleMusic(context, chunkIndex) {
  const bar = LOOP[chunkIndex % LOOP.length];
  const bass = context.createOscillator();
  const bassGain = context.createGain();
  bass.frequency.value = bar.bass;
  bassGain.gain.setValueAtTime(0, 0);
  bassGain.gain.linearRampToValueAtTime(0.25, 0.02);
  bassGain.gain.setValueAtTime(0.25, CHUNK_SECONDS - 0.02);
  bassGain.gain.linearRampToValueAtTime(0, CHUNK_SECONDS);
  bass.connect(bassGain).connect(context.destination);
  bass.start(0);
  bass.stop(CHUNK_SECONDS);

  ARPEGGIO.forEach((step, slot) => {
    const start = slot * EIGHTH;
    const note = context.createOscillator();
    const gain = context.createGain();
    const pan = context.createStereoPanner();
    note.type = 'triangle';
    note.frequency.value = bar.chord[step] * 2;
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(0.22, start + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.001, start + EIGHTH - 0.01);
    gain.gain.linearRampToValueAtTime(0, start + EIGHTH);
    pan.pan.value = slot % 2 === 0 ? -0.4 : 0.4;
    note.connect(gain).connect(pan).connect(context.destination);
    note.start(start);
    note.stop(start + EIGHTH);
  });
}

function scheduleTone(context, frequencyHz) {
  // An integer frequency fits a whole number of cycles into 2 s, so each
  // chunk starting at phase 0 continues the previous one seamlessly.
  const tone = context.createOscillator();
  const gain = context.createGain();
  tone.frequency.value = Math.round(frequencyHz);
  gain.gain.value = 0.3;
  tone.connect(gain).connect(context.destination);
  tone.start(0);
}

/**
 * Renders chunk number `chunkIndex` of a sound (`{kind: 'music'}` or
 * `{kind: 'tone', frequencyHz}`) as raw PCM bytes for the API.
 */
export async function renderChunk(chunkIndex, sound) {
  const context = new OfflineAudioContext(CHANNELS, CHUNK_FRAMES, SAMPLE_RATE);
  if (sound.kind === 'tone') {
    scheduleTone(context, sound.frequencyHz);
  } else {
    scheduleMusic(context, chunkIndex);
  }
  const rendered = await context.startRendering();
  const channels = [];
  for (let channel = 0; channel < CHANNELS; channel += 1) {
    channels.push(rendered.getChannelData(channel));
  }
  return interleaveS16le(channels);
}
