-- LL-HLS requests coalesced per worker. Every listener of a stream asks for
-- the same next part, and for the playlist that lists it, before the part
-- exists; the packager holds such a request until the part is cut (every
-- 256 ms). The first request for a name (and delivery directives) goes on,
-- through the edge's internal server in front of the packager (its cache
-- and its hashing over replicas, $llhls_target); the others wait here and
-- get its answer the moment it arrives.
--
-- nginx's own proxy_cache_lock did the same, but it looks at a lock only
-- every 500 ms: everyone but the first listener got each part up to half a
-- second late (measured: part playable p50 0.43 s against 0.17 s for the
-- first, bench/ll-hls-cache-lock.md).
--
-- Variables set by the location: $vibe, $media_file, $llhls_target, and for
-- playlists $llhls_directives (the delivery directives the packager gets,
-- "" or "?_HLS_msn=…&_HLS_part=…"); media names take no query.

local semaphore = require "ngx.semaphore"
local http_client = require "vibes.http_client"

local M = {}

-- Longer than the packager holds a blocking reload (3 target durations),
-- so nobody gives up before the answer it waits for.
local ANSWER_WAIT_S = 6
local TO_PACKAGER = {
  connect_ms = 1000,
  send_ms = 1000,
  read_ms = ANSWER_WAIT_S * 1000,
  -- Under the internal server's keepalive_timeout (65 s).
  idle_ms = 30000,
  pool_size = 64,
}

-- path -> flight { ready (semaphore), waiters, answer } (this worker's)
local flights = {}

-- The packager's answer: its status, its body, and for a refusal its
-- problem+json type. The edge names the media types of successful answers
-- itself (add_header $edge_media_type), as for every /live answer.
local function send(answer)
  ngx.status = answer.status
  if answer.status ~= ngx.HTTP_OK then
    ngx.header["Content-Type"] = answer.headers["content-type"]
  end
  ngx.print(answer.body)
  return ngx.exit(ngx.HTTP_OK)
end

-- nginx's own failures to reach the packager (no problem document) become
-- the edge's 502/503 problem, like any other unreachable upstream.
local function from_packager(answer)
  if answer.status >= 500 and answer.headers["content-type"] ~= "application/problem+json" then
    return nil
  end
  return answer
end

function M.serve(kind)
  local directives = kind == "playlist" and ngx.var.llhls_directives or ""
  local path = "/_llhls/" .. ngx.var.vibe .. "/" .. ngx.var.media_file .. directives
  local flight = flights[path]
  if flight then
    flight.waiters = flight.waiters + 1
    local woken = flight.ready:wait(ANSWER_WAIT_S)
    if woken and flight.answer then
      return send(flight.answer)
    end
    return ngx.exit(ngx.HTTP_SERVICE_UNAVAILABLE)
  end

  flight = { ready = semaphore.new(), waiters = 0 }
  flights[path] = flight
  local request = "GET " .. path .. " HTTP/1.1\r\nHost: edge\r\n\r\n"
  -- Whatever happens, the flight ends and its waiters are woken: a flight
  -- left behind would hold every later request for its name.
  local called, answer, err = pcall(http_client.request, ngx.var.llhls_target, request, TO_PACKAGER)
  flights[path] = nil
  if not called then
    answer, err = nil, answer
  end
  if answer then
    flight.answer = from_packager(answer)
  else
    ngx.log(ngx.ERR, "LL-HLS request to the packager failed: ", err)
  end
  if flight.waiters > 0 then
    flight.ready:post(flight.waiters)
  end
  if not flight.answer then
    return ngx.exit(ngx.HTTP_SERVICE_UNAVAILABLE)
  end
  return send(flight.answer)
end

return M
