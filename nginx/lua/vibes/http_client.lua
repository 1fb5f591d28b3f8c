-- HTTP/1.1 requests from the edge's Lua over pooled cosockets: the FLV
-- relay's seat re-checks (the registry) and the LL-HLS coalescer's requests
-- (the edge's own internal server in front of the packager; nginx's
-- subrequests would do, but lua-nginx-module refuses them under HTTP/2).
-- Every answer here carries Content-Length or ends with its connection;
-- chunked answers are refused.

local M = {}

-- target: "host:port" or "unix:/path".
local function connect(target, options)
  local sock = ngx.socket.tcp()
  sock:settimeouts(options.connect_ms, options.send_ms, options.read_ms)
  local connected, err
  if target:sub(1, 5) == "unix:" then
    connected, err = sock:connect(target)
  else
    local host, port = target:match("^(.+):(%d+)$")
    connected, err = sock:connect(host, tonumber(port))
  end
  if not connected then
    return nil, err
  end
  return sock
end

-- The answer { status, headers (lower-case names), body }, or nil and why;
-- and whether the connection may be reused.
local function read_answer(sock)
  local status_line, err = sock:receive("*l")
  if not status_line then
    return nil, err
  end
  local status = tonumber(status_line:match("^HTTP/%d%.%d (%d%d%d)") or "")
  if not status then
    return nil, "not an HTTP answer: " .. status_line
  end
  local keep = status_line:match("^HTTP/1%.1") ~= nil
  local headers = {}
  while true do
    local line
    line, err = sock:receive("*l")
    if not line then
      return nil, err
    end
    if line == "" then
      break
    end
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
      headers[name:lower()] = value
    end
  end
  if headers["connection"] and headers["connection"]:lower() == "close" then
    keep = false
  end
  if headers["transfer-encoding"] then
    return nil, "a chunked answer"
  end
  local length = tonumber(headers["content-length"] or "")
  local body = ""
  if not length then
    body, err = sock:receive("*a")
    keep = false
  elseif length > 0 then
    body, err = sock:receive(length)
  end
  if not body then
    return nil, err
  end
  return { status = status, headers = headers, body = body }, nil, keep
end

-- Sends `request` (a whole HTTP/1.1 request: a string or a table of strings)
-- to `target` and returns the answer, or nil and why. options: connect_ms,
-- send_ms, read_ms, idle_ms and pool_size (kept-alive connections, closed
-- before the other side's own keep-alive would close them under a request).
-- A pooled connection the other side closed meanwhile costs one more try on
-- a new one.
function M.request(target, request, options)
  for _ = 1, 2 do
    local sock, err = connect(target, options)
    if not sock then
      return nil, err
    end
    local reused = sock:getreusedtimes() > 0
    local sent, answer, keep
    sent, err = sock:send(request)
    if sent then
      answer, err, keep = read_answer(sock)
    end
    if answer then
      if keep then
        sock:setkeepalive(options.idle_ms, options.pool_size)
      else
        sock:close()
      end
      return answer
    end
    sock:close()
    if not reused then
      return nil, err
    end
  end
  return nil, "two connections in a row were closed under the request"
end

return M
