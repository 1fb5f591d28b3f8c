-- HTTP-FLV fan-out at the edge. Each nginx worker opens one connection per
-- stream to the media engine and copies every FLV tag to all of its listeners
-- of that stream. A proxy would hold one engine connection per listener and
-- do a read and a write per tag and listener (twice the engine's own cost,
-- measured: ./scripts/bench fanout); here a tag is read once per worker.
--
-- The engine therefore no longer sees listeners, so the edge keeps their
-- seats: every $flv_reauth_seconds each relay sends the playback tokens of
-- all its listeners to the registry in one call (which renews their leases
-- in one Redis script run) and disconnects the listeners whose seats are
-- gone (left, stream ended, expired). A listener that goes away stops
-- renewing, so its seat frees within one lease.
--
-- Variables set by the location: $vibe, $playback_token, $engine_flv_addr and
-- $registry_addr (host:port), $edge_relay_key (shown to the engine, which
-- asks the registry whether it is the edge), $flv_reauth_seconds,
-- $flv_merge_ms.

local semaphore = require "ngx.semaphore"
local http_client = require "vibes.http_client"
local metrics = require "vibes.edge_metrics"

local M = {}

-- Tags kept for listeners whose connection is momentarily slower than the
-- stream: ~5.5 s of AAC at 46.9 tags/s. A listener further behind is closed
-- (its player reconnects) instead of growing the edge's memory.
local RING_TAGS = 256
-- A stream's engine connection that stays silent this long is closed; its
-- listeners' responses end and their players reconnect.
local ENGINE_SILENCE_MS = 5000
-- How long a new relay tries to get the stream's first tags (SRS holds a
-- player that arrives before the publisher, e.g. while ingest restarts its
-- encoder, without an answer), and how long a listener waits for them.
local FIRST_TAGS_WAIT_S = 5
local ENGINE_RETRY_S = 0.25
local FLV_HEAD_BYTES = 13 -- "FLV", version, flags, header size, PreviousTagSize0
local TAG_HEADER_BYTES = 11
local TAG_TRAILER_BYTES = 4 -- PreviousTagSize
local SCRIPT_TAG = 18
local AUDIO_TAG = 8
-- A waiting listener looks up at least this often (worker shutdown).
local LISTENER_WAKE_S = 1
-- Seat re-checks: tokens per registry call (the registry takes up to 2000),
-- and idle keepalive connections to the registry, closed before actix-web's
-- own 5 s keep-alive would close them under a request.
local SEAT_BATCH_TOKENS = 500
local TO_REGISTRY = {
  connect_ms = 2000,
  send_ms = 2000,
  read_ms = 2000,
  idle_ms = 4000,
  pool_size = 16,
}
-- A listener's tag and write counts reach the shared metrics every this many
-- writes (and when it ends): two shared-dict increments per write were ~2 %
-- of the edge's CPU.
local COUNTS_EVERY_WRITES = 16

-- vibe id -> relay { head, newest, ring, waiting, sema, ended, listeners }
-- (this worker's); listeners: set of { token, cut }
local relays = {}

local function u24(bytes, at)
  local high, middle, low = bytes:byte(at, at + 2)
  return high * 65536 + middle * 256 + low
end

local function wake(relay)
  if relay.waiting > 0 then
    relay.sema:post(relay.waiting)
    relay.waiting = 0
  end
end

local function wait(relay, seconds)
  relay.waiting = relay.waiting + 1
  local woken = relay.sema:wait(seconds)
  if not woken then
    relay.waiting = math.max(relay.waiting - 1, 0)
  end
end

-- Reads n bytes of the response body, undoing chunked framing when the
-- engine uses it (SRS frames FLV in chunks even for an HTTP/1.0 request).
local function body_reader(sock, chunked)
  if not chunked then
    return function(n) return sock:receive(n) end
  end
  local left_in_chunk = 0
  return function(n)
    local parts = {}
    while n > 0 do
      if left_in_chunk == 0 then
        local line, err = sock:receive("*l")
        if line == "" then
          line, err = sock:receive("*l")
        end
        if not line then
          return nil, err
        end
        left_in_chunk = tonumber(line:match("^%x+") or "", 16)
        if not left_in_chunk or left_in_chunk == 0 then
          return nil, "end of the engine's body"
        end
      end
      local take = math.min(n, left_in_chunk)
      local data, err = sock:receive(take)
      if not data then
        return nil, err
      end
      parts[#parts + 1] = data
      n = n - take
      left_in_chunk = left_in_chunk - take
    end
    return table.concat(parts)
  end
end

-- Copies the engine's tags into the relay until the body ends; returns why.
-- The head a new listener gets first: the FLV header, the script tags and
-- the latest AAC sequence header (a decoder needs it before any frame).
local function relay_tags(read, relay)
  local flv_head, err = read(FLV_HEAD_BYTES)
  if not flv_head then
    return err
  end
  if flv_head:sub(1, 3) ~= "FLV" then
    return "the engine's body is not FLV"
  end
  local prefix = flv_head
  while not ngx.worker.exiting() do
    local tag_header, header_err = read(TAG_HEADER_BYTES)
    if not tag_header then
      return header_err
    end
    local rest, rest_err = read(u24(tag_header, 2) + TAG_TRAILER_BYTES)
    if not rest then
      return rest_err
    end
    local tag = tag_header .. rest
    local kind = tag_header:byte(1) % 32
    local sequence_header = kind == AUDIO_TAG and rest:byte(2) == 0
    if sequence_header then
      relay.head = prefix .. tag
    elseif kind == SCRIPT_TAG and not relay.head then
      prefix = prefix .. tag
    end
    if relay.head and not (sequence_header and relay.newest == 0) then
      relay.newest = relay.newest + 1
      relay.ring[relay.newest % RING_TAGS] = tag
    end
    -- Coalesced writes: listeners are woken at most once per merge window
    -- (EDGE_FLV_MERGE_MS) and then write everything since their last write
    -- in one go, so a listener costs a write per window instead of one per
    -- tag (~47/s). A sequence header (the stream's start) wakes them at once.
    local now = ngx.now()
    if sequence_header or now - relay.woken_at >= relay.merge_s then
      relay.woken_at = now
      wake(relay)
    end
  end
  return "nginx is shutting down"
end

-- A cosocket connected to "host:port".
local function connect(address, read_timeout_ms)
  local host, port = address:match("^(.+):(%d+)$")
  local sock = ngx.socket.tcp()
  sock:settimeouts(2000, 2000, read_timeout_ms)
  local connected, err = sock:connect(host, tonumber(port))
  if not connected then
    return nil, err
  end
  return sock
end

-- One engine connection for the relay, until its body ends; returns why.
local function play_from_engine(vibe, relay, engine_addr, relay_key)
  local sock, connect_err = connect(engine_addr, ENGINE_SILENCE_MS)
  if not sock then
    return "could not connect to the engine: " .. tostring(connect_err)
  end
  local why
  sock:send(("GET /live/%s.flv?relay=%s HTTP/1.0\r\nHost: %s\r\n\r\n")
    :format(vibe, relay_key, engine_addr))
  local head, head_err = sock:receiveuntil("\r\n\r\n")()
  if not head then
    why = "no answer from the engine: " .. tostring(head_err)
  elseif not head:match("^HTTP/1%.%d 200") then
    why = "the engine answered " .. head:match("^[^\r\n]*")
  else
    local chunked = head:lower():find("transfer%-encoding:%s*chunked") ~= nil
    why = relay_tags(body_reader(sock, chunked), relay)
  end
  sock:close()
  return why
end

-- POST /internal/playback-seats over a keepalive connection: renews the
-- seats of `tokens` (newline-separated) on `vibe` and returns the registry's
-- list of tokens to cut, or nil and why.
local function renew_seats(registry_addr, vibe, tokens)
  local request = {
    "POST /internal/playback-seats HTTP/1.1\r\nHost: registry\r\n",
    "X-Playback-Stream: ", vibe, "\r\nContent-Type: text/plain\r\n",
    "Content-Length: ", #tokens, "\r\n\r\n", tokens,
  }
  local answer, err = http_client.request(registry_addr, request, TO_REGISTRY)
  if not answer then
    return nil, err
  end
  if answer.status ~= ngx.HTTP_OK then
    return nil, "the registry answered " .. answer.status
  end
  return answer.body
end

-- One seat re-check of all this relay's listeners: disconnects those the
-- registry names; while it cannot answer, everyone keeps playing (their
-- leases lapse on their own).
local function check_seats(relay, vibe, registry_addr)
  local holders, tokens = {}, {}
  for listener in pairs(relay.listeners) do
    local token = listener.token
    if not holders[token] then
      holders[token] = {}
      tokens[#tokens + 1] = token
    end
    holders[token][#holders[token] + 1] = listener
  end
  local any_cut = false
  for first = 1, #tokens, SEAT_BATCH_TOKENS do
    local last = math.min(first + SEAT_BATCH_TOKENS - 1, #tokens)
    local cut, err = renew_seats(registry_addr, vibe,
      table.concat(tokens, "\n", first, last) .. "\n")
    local asked = last - first + 1
    if not cut then
      ngx.log(ngx.WARN, "seat re-check of ", asked, " flv listeners of ", vibe,
        " failed: ", err)
      metrics.count("vibes_edge_flv_seat_batches_total", "outcome", "registry_unavailable")
      metrics.count("vibes_edge_flv_seat_checks_total", "outcome", "registry_unavailable", asked)
    else
      metrics.count("vibes_edge_flv_seat_batches_total", "outcome", "answered")
      local gone = 0
      for token in cut:gmatch("[^\n]+") do
        for _, listener in ipairs(holders[token] or {}) do
          listener.cut = true
          any_cut = true
        end
        gone = gone + 1
      end
      metrics.count("vibes_edge_flv_seat_checks_total", "outcome", "gone", gone)
      metrics.count("vibes_edge_flv_seat_checks_total", "outcome", "renewed", asked - gone)
    end
  end
  if any_cut then
    wake(relay)
  end
end

-- The relay's seat keeper (a light thread of its pump).
local function keep_seats(relay, vibe, registry_addr, every_s)
  while true do
    ngx.sleep(every_s)
    if next(relay.listeners) then
      check_seats(relay, vibe, registry_addr)
    end
  end
end

local function pump(premature, vibe, relay, engine_addr, relay_key, registry_addr, reauth_s)
  metrics.add("vibes_edge_flv_relays", 1)
  local keeper = ngx.thread.spawn(keep_seats, relay, vibe, registry_addr, reauth_s)
  local why = "nginx is shutting down"
  local give_up_at = ngx.now() + FIRST_TAGS_WAIT_S
  while not premature and not ngx.worker.exiting() do
    why = play_from_engine(vibe, relay, engine_addr, relay_key)
    -- Once the stream has played, its end is final: listeners reconnect.
    if relay.head or ngx.now() >= give_up_at then
      break
    end
    ngx.sleep(ENGINE_RETRY_S)
  end
  relay.ended = true
  ngx.thread.kill(keeper)
  if relays[vibe] == relay then
    relays[vibe] = nil
  end
  wake(relay)
  metrics.add("vibes_edge_flv_relays", -1)
  metrics.count("vibes_edge_flv_relay_ends_total", "outcome",
    relay.head and "played" or "never_played")
  local level = relay.head and ngx.INFO or ngx.WARN
  ngx.log(level, "flv relay for ", vibe, " ended after ", relay.newest, " tags: ", why)
end

local function relay_for(vibe)
  local relay = relays[vibe]
  if relay and not relay.ended then
    return relay
  end
  relay = {
    newest = 0, ring = {}, waiting = 0, sema = semaphore.new(0),
    merge_s = tonumber(ngx.var.flv_merge_ms) / 1000, woken_at = 0, listeners = {},
  }
  local started, err = ngx.timer.at(0, pump, vibe, relay, ngx.var.engine_flv_addr,
    ngx.var.edge_relay_key, ngx.var.registry_addr, tonumber(ngx.var.flv_reauth_seconds))
  if not started then
    ngx.log(ngx.ERR, "could not start the flv relay for ", vibe, ": ", err)
    return nil
  end
  relays[vibe] = relay
  return relay
end

-- Moves a listener's tag and write counts into the shared metrics.
local function report_counts(listener)
  if listener.writes > 0 then
    metrics.add("vibes_edge_flv_listener_tags_total", listener.tags)
    metrics.add("vibes_edge_flv_listener_writes_total", listener.writes)
    listener.tags, listener.writes = 0, 0
  end
end

-- Writes the relay's tags to this listener from the live edge on, until
-- the listener, its seat, the stream or the worker ends; returns which.
local function play(relay, listener, vibe)
  local next_tag = relay.newest + 1
  -- On reload or stop, end at once: players reconnect to the new workers
  -- (or another edge) instead of holding the old worker for the grace time.
  while not ngx.worker.exiting() do
    if listener.cut then
      ngx.log(ngx.INFO, "flv listener of ", vibe, " lost its seat; disconnecting")
      return "seat_gone"
    end
    local newest = relay.newest
    if newest >= next_tag then
      if newest - next_tag >= RING_TAGS then
        ngx.log(ngx.WARN, "flv listener of ", vibe, " fell ", newest - next_tag,
          " tags behind; closing it")
        return "fell_behind"
      end
      if newest == next_tag then
        ngx.print(relay.ring[newest % RING_TAGS])
      else
        local tags = {}
        for tag = next_tag, newest do
          tags[#tags + 1] = relay.ring[tag % RING_TAGS]
        end
        ngx.print(tags)
      end
      listener.tags = listener.tags + newest - next_tag + 1
      listener.writes = listener.writes + 1
      if listener.writes >= COUNTS_EVERY_WRITES then
        report_counts(listener)
      end
      if not ngx.flush(true) then
        return "client_gone"
      end
      next_tag = newest + 1
    elseif relay.ended then
      return "stream_ended"
    else
      wait(relay, LISTENER_WAKE_S)
    end
  end
  return "shutting_down"
end

-- The content handler of /live/<token>/<vibe>.flv (after auth_request).
function M.serve()
  local method = ngx.req.get_method()
  if method ~= "GET" and method ~= "HEAD" then
    return ngx.exit(ngx.HTTP_NOT_ALLOWED)
  end
  local vibe = ngx.var.vibe
  local relay = relay_for(vibe)
  if not relay then
    return ngx.exit(ngx.HTTP_SERVICE_UNAVAILABLE)
  end
  local deadline = ngx.now() + FIRST_TAGS_WAIT_S
  while not relay.head and not relay.ended and ngx.now() < deadline do
    wait(relay, deadline - ngx.now())
  end
  if not relay.head then
    return ngx.exit(ngx.HTTP_BAD_GATEWAY)
  end

  ngx.header["Content-Type"] = "video/x-flv"
  ngx.header["Cache-Control"] = "no-store"
  if method == "HEAD" then
    return ngx.exit(ngx.HTTP_OK)
  end
  -- Counted from here until the log phase, which runs however the response
  -- ends (a client that goes away aborts this handler mid-way).
  metrics.add("vibes_edge_flv_listeners", 1)
  -- The token auth_request checked, from the location's one parse; the
  -- relay's seat keeper renews it from now on.
  local listener = { token = ngx.var.playback_token, tags = 0, writes = 0 }
  relay.listeners[listener] = true
  ngx.ctx.flv_relay, ngx.ctx.flv_listener = relay, listener
  ngx.ctx.flv_end = "client_gone"
  ngx.print(relay.head)
  if ngx.flush(true) then
    ngx.ctx.flv_end = play(relay, listener, vibe)
  end
end

-- The log phase of /live/<token>/<vibe>.flv: the listener is gone.
function M.finish()
  local listener = ngx.ctx.flv_listener
  if listener then
    ngx.ctx.flv_relay.listeners[listener] = nil
    report_counts(listener)
    metrics.add("vibes_edge_flv_listeners", -1)
    metrics.count("vibes_edge_flv_listener_ends_total", "reason", ngx.ctx.flv_end)
  end
end

return M
