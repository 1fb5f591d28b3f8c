// Plays a joined stream in an <audio> element: HTTP-FLV through mpegts.js
// (lowest latency), HLS through hls.js when FLV cannot play (no MSE live
// streaming, a decoder error, or FLV keeps failing before it ever plays), and
// the browser's own HLS where MSE is missing altogether (iOS Safari). HLS is
// the hls-packager's low-latency playlist (`playback.ll_hls`: fMP4 parts,
// blocking reloads; hls.js in lowLatencyMode, AVPlayer natively) when the
// join names one, else the engine's classic HLS.
//
// The edge answers a listener that arrives before the publisher with 502
// (its relay got no tags from the engine within 5 s), and ends the FLV body
// when the stream ends or its publisher restarts: the FLV connection is then
// simply opened again, with backoff. A refusal by the edge (401/403) is not
// retried here; the page decides (join again for a fresh URL, or tell the
// listener).

const FLV_ATTEMPTS_BEFORE_FALLBACK = 4;
const MAX_RECONNECT_DELAY_MS = 5000;

// Keep about a second of audio buffered: close to live, with room for a
// loaded machine or network to be late now and then.
const FLV_CONFIG = {
  enableStashBuffer: false,
  lazyLoad: false,
  liveSync: true,
  liveSyncMaxLatency: 2.0,
  liveSyncTargetLatency: 1.0,
  liveSyncPlaybackRate: 1.1,
  autoCleanupSourceBuffer: true,
  autoCleanupMaxBackwardDuration: 30,
  autoCleanupMinBackwardDuration: 10,
  referrerPolicy: 'no-referrer',
};

// SRS cuts 1 s segments but announces #EXT-X-TARGETDURATION:2, and hls.js
// starts liveSyncDurationCount target durations behind the live edge: two
// (~4 s) instead of the default three (~6 s, docs/engine.md).
const HLS_CONFIG = {
  liveSyncDurationCount: 2,
  enableWorker: true,
  backBufferLength: 30,
};

// LL-HLS: hls.js follows the parts with blocking playlist reloads and
// starts PART-HOLD-BACK (3 parts, ~0.8 s) behind the live edge.
const LL_HLS_CONFIG = {
  lowLatencyMode: true,
  enableWorker: true,
  backBufferLength: 30,
};

function flvPlayable() {
  return Boolean(globalThis.mpegts?.getFeatureList?.().mseLivePlayback);
}

function hlsJsPlayable() {
  return Boolean(globalThis.Hls?.isSupported?.());
}

/** Which transports this browser can use, best first. */
export function playableTransports(audio) {
  const transports = [];
  if (flvPlayable()) transports.push('flv');
  if (hlsJsPlayable()) transports.push('hls');
  else if (audio.canPlayType('application/vnd.apple.mpegurl')) transports.push('native-hls');
  return transports;
}

export class LivePlayer {
  /**
   * `playback`: `{flv, hls, ll_hls}` from a join. `preferred`: 'auto', 'flv' or 'hls'.
   * `onEvent({type, …})`: `transport`, `playing`, `buffering`,
   * `needs-gesture`, `reconnecting`, `fallback`, `refused` (with `status`),
   * `unsupported`.
   */
  constructor(audio, playback, { preferred = 'auto', onEvent = () => {} } = {}) {
    this.audio = audio;
    this.playback = playback;
    this.onEvent = onEvent;
    const playable = playableTransports(audio);
    this.candidates = preferred === 'auto' ? playable : playable.filter((name) => name.endsWith(preferred));
    this.transport = null;
    this.failures = 0;
    this.everPlayed = false;
    this.stopped = false;
    this.mediaListeners = {
      playing: () => {
        this.failures = 0;
        this.everPlayed = true;
        this.onEvent({ type: 'playing' });
      },
      waiting: () => this.onEvent({ type: 'buffering' }),
    };
    for (const [name, listener] of Object.entries(this.mediaListeners)) {
      audio.addEventListener(name, listener);
    }
  }

  start() {
    const transport = this.candidates.shift();
    if (!transport) {
      this.onEvent({ type: 'unsupported' });
      return;
    }
    this.transport = transport;
    this.failures = 0;
    this.onEvent({ type: 'transport', transport, lowLatency: transport !== 'flv' && Boolean(this.playback.ll_hls) });
    this.open();
  }

  /** Continues with a fresh playback URL (after a join that renewed it). */
  restart(playback) {
    this.playback = playback;
    this.close();
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.close();
    for (const [name, listener] of Object.entries(this.mediaListeners)) {
      this.audio.removeEventListener(name, listener);
    }
    this.audio.removeAttribute('src');
    this.audio.load();
  }

  /** Seconds of audio between what plays and the newest audio received. */
  latencySeconds() {
    if (this.hls && Number.isFinite(this.hls.latency)) return this.hls.latency;
    const { buffered, currentTime } = this.audio;
    if (!buffered.length) return null;
    return Math.max(0, buffered.end(buffered.length - 1) - currentTime);
  }

  open() {
    if (this.transport === 'flv') this.openFlv();
    else if (this.transport === 'hls') this.openHlsJs();
    else this.openNativeHls();
  }

  close() {
    this.audio.onerror = null;
    if (this.flv) {
      this.flv.destroy();
      this.flv = null;
    }
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
  }

  play() {
    this.audio.play().catch((error) => {
      // Autoplay refused (no user gesture) or the source went away: the
      // audio element's own controls let the listener start it.
      if (error?.name === 'NotAllowedError') this.onEvent({ type: 'needs-gesture' });
    });
  }

  openFlv() {
    const { mpegts } = globalThis;
    const player = mpegts.createPlayer(
      { type: 'flv', isLive: true, hasAudio: true, hasVideo: false, url: this.playback.flv },
      FLV_CONFIG,
    );
    player.on(mpegts.Events.ERROR, (type, detail, info) => {
      if (type === mpegts.ErrorTypes.MEDIA_ERROR) this.fallBack(`${detail}: ${info?.msg ?? ''}`);
      else this.interrupted(info?.code);
    });
    // A live body that ends: the engine dropped or never attached us.
    player.on(mpegts.Events.LOADING_COMPLETE, () => this.interrupted());
    player.attachMediaElement(this.audio);
    player.load();
    this.flv = player;
    this.play();
  }

  openHlsJs() {
    const { Hls } = globalThis;
    const lowLatency = Boolean(this.playback.ll_hls);
    const hls = new Hls(lowLatency ? LL_HLS_CONFIG : HLS_CONFIG);
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      else this.interrupted(data.response?.code);
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => this.play());
    hls.loadSource(lowLatency ? this.playback.ll_hls : this.playback.hls);
    hls.attachMedia(this.audio);
    this.hls = hls;
  }

  openNativeHls() {
    this.audio.src = this.playback.ll_hls ?? this.playback.hls;
    this.audio.onerror = () => this.interrupted();
    this.play();
  }

  interrupted(status) {
    if (this.stopped) return;
    this.close();
    if (status === 401 || status === 403) {
      this.onEvent({ type: 'refused', status });
      return;
    }
    this.failures += 1;
    if (this.transport === 'flv' && !this.everPlayed && this.failures >= FLV_ATTEMPTS_BEFORE_FALLBACK) {
      this.fallBack('the HTTP-FLV stream did not start');
      return;
    }
    const delay = Math.min(500 * 2 ** (this.failures - 1), MAX_RECONNECT_DELAY_MS);
    this.onEvent({ type: 'reconnecting', status, delayMs: delay });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (!this.stopped) this.open();
    }, delay);
  }

  fallBack(reason) {
    this.close();
    if (!this.candidates.length) {
      this.onEvent({ type: 'unsupported', reason });
      return;
    }
    this.onEvent({ type: 'fallback', from: this.transport, reason });
    this.start();
  }
}
