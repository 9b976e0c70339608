-- wrk script: POST one-row OIP v2 bodies, cycling through a file of bodies (one JSON per line).
-- Usage: wrk ... -s infer.lua URL -- BODIES_FILE URL_PATH
-- done() prints one line "WRK_JSON {...}" with the figures the harness parses.

local requests_ = {}
local next_index = 0

function init(args)
  local bodies_file, url_path = args[1], args[2]
  local headers = { ["Content-Type"] = "application/json" }
  for line in io.lines(bodies_file) do
    if #line > 0 then
      requests_[#requests_ + 1] = wrk.format("POST", url_path, headers, line)
    end
  end
  if #requests_ == 0 then
    error("no request bodies in " .. tostring(bodies_file))
  end
end

function request()
  next_index = next_index % #requests_ + 1
  return requests_[next_index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99_9":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
