// The creator simulator's sender: renders a chunk, POSTs it with its
// sequence number, and keeps one chunk ahead of real time, the way a creator
// app feeds the server. Refusals that can pass (a full buffer, a rate limit,
// an unreachable service) are waited out and the same chunk is sent again;
// the others stop the stream.

import { callApi, ApiError } from './api.js';
import { CHUNK_SECONDS, renderChunk } from './pcm.js';

const CHUNK_MS = CHUNK_SECONDS * 1000;
const TRANSIENT_RETRY_MS = 1000;

/** Sleeps on a worker's clock, which a hidden tab does not throttle. */
function makeWorkerSleep() {
  let worker;
  try {
    worker = new Worker(new URL('./ticker.js', import.meta.url));
  } catch {
    return (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  }
  const waiting = new Map();
  let nextId = 0;
  worker.onmessage = ({ data: id }) => {
    waiting.get(id)?.();
    waiting.delete(id);
  };
  return (ms) =>
    new Promise((resolve) => {
      nextId += 1;
      waiting.set(nextId, resolve);
      worker.postMessage({ id: nextId, ms: Math.max(0, ms) });
    });
}

let workerSleep;

export class CreatorStreamer {
  /**
   * `onUpdate(state)` after every answer; `onProblem(error, fatal)` for every
   * refusal (`fatal`: the streamer stopped because of it).
   */
  constructor({ vibeId, token, sound, onUpdate, onProblem }) {
    this.vibeId = vibeId;
    this.token = token;
    this.sound = sound;
    this.onUpdate = onUpdate;
    this.onProblem = onProblem;
    workerSleep ??= makeWorkerSleep();
    this.sleep = workerSleep;
    this.running = false;
    this.state = {
      running: false,
      chunksAccepted: 0,
      secondsAccepted: 0,
      queuedChunks: 0,
      lastAnswer: null,
      seq: 0,
    };
  }

  start() {
    if (this.running) return this.finished;
    this.running = true;
    this.finished = this.run();
    return this.finished;
  }

  /** Stops after the request in flight; the stream itself stays live. */
  stop() {
    this.running = false;
    return this.finished;
  }

  /** Ends the stream: stops sending, then the server flushes what it queued. */
  async end() {
    await this.stop();
    const answer = await callApi(`/stream/${encodeURIComponent(this.vibeId)}`, {
      method: 'DELETE',
      token: this.token,
    });
    return answer.body;
  }

  update(changes) {
    Object.assign(this.state, changes, { running: this.running });
    this.onUpdate?.({ ...this.state });
  }

  async run() {
    this.update({});
    let due = performance.now() - CHUNK_MS;
    for (let chunkIndex = 0; this.running; chunkIndex += 1) {
      const pcm = await renderChunk(chunkIndex, this.sound);
      if (!(await this.deliver(pcm))) break;
      // One chunk ahead of real time; after falling behind (the server
      // filled the gap with silence) the lead is rebuilt, not the backlog.
      due = Math.max(due + CHUNK_MS, performance.now() - CHUNK_MS);
      await this.sleep(due - performance.now());
    }
    this.running = false;
    this.update({});
  }

  /** Sends one chunk until it is accepted; false when the stream must stop. */
  async deliver(pcm) {
    while (this.running) {
      try {
        const answer = await callApi(`/stream/${encodeURIComponent(this.vibeId)}/audio`, {
          method: 'POST',
          token: this.token,
          body: pcm,
          headers: {
            'Content-Type': 'application/octet-stream',
            'X-Chunk-Seq': String(this.state.seq),
          },
        });
        this.update({
          chunksAccepted: this.state.chunksAccepted + 1,
          secondsAccepted: this.state.secondsAccepted + answer.body.accepted_ms / 1000,
          queuedChunks: answer.body.queued_chunks,
          lastAnswer: answer.status,
          seq: this.state.seq + 1,
        });
        return true;
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        const retryInMs = this.retryDelay(error);
        this.update({ lastAnswer: error.status });
        this.onProblem?.(error, retryInMs === null);
        if (retryInMs === null) return false;
        await this.sleep(retryInMs);
      }
    }
    return false;
  }

  /** How long to wait before sending the chunk again, or null to stop. */
  retryDelay(error) {
    switch (error.code) {
      case 'buffer_full':
      case 'rate_limited':
        return error.retryAfterSeconds * 1000;
      case 'stale_chunk_seq':
        this.state.seq = Number(error.extensions.last_seq) + 1;
        return 0;
      case 'stream_ending':
      case 'network_error':
        return TRANSIENT_RETRY_MS;
      default:
        return error.status >= 500 ? TRANSIENT_RETRY_MS : null;
    }
  }
}
