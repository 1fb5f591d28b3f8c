// The public API as the pages use it: same-origin requests through the edge,
// bearer tokens, and problem+json answers turned into sentences for people.

/** A refused or failed request: the problem's status and stable code. */
export class ApiError extends Error {
  constructor({ status, code, title, detail, retryAfterSeconds, extensions }) {
    super(detail || title || code);
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.retryAfterSeconds = retryAfterSeconds;
    this.extensions = extensions ?? {};
  }
}

/** Seconds from a `Retry-After` header (delta-seconds only, as the API sends). */
export function retryAfterSeconds(headerValue, fallback = 1) {
  const seconds = Number.parseInt(headerValue ?? '', 10);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : fallback;
}

async function problemFrom(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's page, say): the status alone has to do.
  }
  const { type, title, status, code, detail, ...extensions } = body ?? {};
  return new ApiError({
    status: response.status,
    code: code ?? `http_${response.status}`,
    title,
    detail,
    retryAfterSeconds: retryAfterSeconds(response.headers.get('Retry-After')),
    extensions,
  });
}

/**
 * One API call. Resolves to `{status, body}` for a 2xx answer; rejects with an
 * `ApiError` otherwise (code `network_error` when nothing answered).
 */
export async function callApi(path, { method = 'GET', token, json, body, headers = {}, keepalive = false } = {}) {
  const init = { method, headers: { ...headers }, keepalive, cache: 'no-store' };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError({ status: 0, code: 'network_error', detail: String(error?.message ?? error) });
  }
  if (!response.ok) throw await problemFrom(response);
  return { status: response.status, body: await response.json() };
}

/**
 * The claims of a JWT, read without verifying it (the server verifies): the
 * pages use them to prefill the stream id and to warn about expiry early.
 */
export function tokenClaims(token) {
  const payload = String(token ?? '').split('.')[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const claims = JSON.parse(atob(padded));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/**
 * A token handed over in the page address (`#token=…`, which never reaches a
 * server or a Referer): returned once, then removed from the address bar.
 */
export function takeTokenFromAddress(location, history) {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get('token');
  if (token) history.replaceState(null, '', location.pathname + location.search);
  return token;
}

export const VIBE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** What a listener should read for a refusal. */
export function listenerMessage(error) {
  const extra = error.extensions ?? {};
  switch (error.code) {
    case 'stream_full':
      return `This stream is full (${extra.participant_count ?? 'all'} of ${extra.max_participants ?? 'its'} seats taken). Try again in a little while.`;
    case 'stream_not_live':
      return 'This stream has ended or has not started yet.';
    case 'token_expired':
      return 'Your listener token has expired. Get a new one and join again.';
    case 'token_missing':
      return 'A listener token is needed to join. Paste one above.';
    case 'token_invalid':
      return 'This listener token is not valid. Paste the token your app gave you.';
    case 'wrong_role':
      return 'This is a creator token. Listening needs a listener (participant) token.';
    case 'wrong_participant':
      return 'This token belongs to another listener.';
    case 'playback_forbidden':
    case 'participant_left':
      return 'Playback was refused: you left, the stream ended or it is full. Join again.';
    case 'playback_token_invalid':
      return 'Your playback link has expired. Join again.';
    default:
      return commonMessage(error);
  }
}

/** What a creator should read for a refusal of audio or of ending a stream. */
export function creatorMessage(error) {
  const extra = error.extensions ?? {};
  switch (error.code) {
    case 'buffer_full':
      return `The server's buffer is full; sending again in ${error.retryAfterSeconds} s.`;
    case 'token_expired':
      return 'Your creator token has expired. Get a new one to go on streaming.';
    case 'token_missing':
      return 'A creator token is needed. Paste one above.';
    case 'token_invalid':
      return 'This creator token is not valid.';
    case 'wrong_role':
      return 'This is a listener token. Streaming needs a creator token.';
    case 'wrong_vibe':
      return 'This creator token is for another stream. Use the stream id the token names.';
    case 'stale_chunk_seq':
      return `The server already has newer audio (chunk ${extra.last_seq}); going on from there.`;
    case 'stream_ending':
      return 'The stream is being ended; sending again starts a new one.';
    default:
      return commonMessage(error);
  }
}

function commonMessage(error) {
  switch (error.code) {
    case 'rate_limited':
      return `Too many requests; trying again in ${error.retryAfterSeconds} s.`;
    case 'network_error':
      return 'The server could not be reached. Check your connection.';
    case 'registry_unavailable':
    case 'ingest_unavailable':
    case 'edge_upstream_unavailable':
      return 'The service is unavailable right now; trying again shortly.';
    case 'invalid_vibe_id':
      return 'A stream id is 1 to 64 letters, digits, "-" or "_".';
    default:
      return `${error.title ?? 'Request refused'} (${error.status} ${error.code})${error.detail ? `: ${error.detail}` : ''}`;
  }
}
