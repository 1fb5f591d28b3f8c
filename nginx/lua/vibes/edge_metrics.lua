-- The edge's own metrics (the FLV relay), shared by all workers through
-- lua_shared_dict vibes_edge_metrics, served as Prometheus text on the
-- edge's internal metrics port. Label values are fixed words chosen in code,
-- never stream or participant ids, so the series stay few.

local M = {}

local dict = ngx.shared.vibes_edge_metrics

-- name -> type, help, label name, label values (series that exist from the start)
local METRICS = {
  {
    name = "vibes_edge_flv_listeners", type = "gauge",
    help = "FLV listeners this edge is writing to",
  },
  {
    name = "vibes_edge_flv_relays", type = "gauge",
    help = "engine connections held by the FLV relays (one per stream and nginx worker)",
  },
  {
    name = "vibes_edge_flv_listener_tags_total", type = "counter",
    help = "FLV tags written to listeners (one per tag and listener)",
  },
  {
    name = "vibes_edge_flv_listener_writes_total", type = "counter",
    help = "writes to FLV listeners; tags per write is what EDGE_FLV_MERGE_MS merges",
  },
  {
    name = "vibes_edge_flv_listener_ends_total", type = "counter",
    help = "FLV responses ended, by why",
    label = "reason",
    values = { "client_gone", "seat_gone", "fell_behind", "stream_ended", "shutting_down" },
  },
  {
    name = "vibes_edge_flv_seat_checks_total", type = "counter",
    help = "re-checks of connected FLV listeners' seats with the registry, by answer",
    label = "outcome",
    values = { "renewed", "gone", "registry_unavailable" },
  },
  {
    name = "vibes_edge_flv_seat_batches_total", type = "counter",
    help = "batched seat re-checks sent to the registry (one per stream, nginx worker and interval), by answer",
    label = "outcome",
    values = { "answered", "registry_unavailable" },
  },
  {
    name = "vibes_edge_flv_relay_ends_total", type = "counter",
    help = "FLV relay engine connections ended, by whether the stream played",
    label = "outcome",
    values = { "played", "never_played" },
  },
}

local function key(name, label, value)
  if not label then
    return name
  end
  return ("%s{%s=%q}"):format(name, label, value)
end

-- Creates every series at 0 (once, before the workers fork), so a rate over
-- a counter that has not moved yet is 0 rather than missing.
function M.init()
  for _, metric in ipairs(METRICS) do
    for _, value in ipairs(metric.values or { false }) do
      dict:add(key(metric.name, metric.label, value or nil), 0)
    end
  end
end

function M.add(name, amount)
  dict:incr(name, amount, 0)
end

function M.count(name, label, value, amount)
  dict:incr(key(name, label, value), amount or 1, 0)
end

function M.render()
  local lines = {}
  for _, metric in ipairs(METRICS) do
    lines[#lines + 1] = ("# HELP %s %s"):format(metric.name, metric.help)
    lines[#lines + 1] = ("# TYPE %s %s"):format(metric.name, metric.type)
    for _, value in ipairs(metric.values or { false }) do
      local series = key(metric.name, metric.label, value or nil)
      lines[#lines + 1] = ("%s %d"):format(series, dict:get(series) or 0)
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

return M
