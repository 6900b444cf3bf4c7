-- wrk script of bench/run-serve-bench.sh: each wrk thread uses its own
-- session, SESSION_PREFIX-N for thread N (the run script creates them; wrk
-- may call request() once before sending anything, so creating sessions
-- from here is unreliable), and alternates POST /v1/route (a 384-float embedding, the
-- paper's input) and POST /v1/settle of the reservation it got back.  A
-- thread keeps a queue of reservations to settle, so with several
-- connections per thread routes and settles still pair up one to one.

local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  session = string.format("%s-%d", os.getenv("SESSION_PREFIX") or "bench", id)
  pending = {}
  routes, settles, refused = 0, 0, 0
  local values = {}
  for i = 1, 384 do
    values[i] = string.format("%.4f", (math.random() - 0.5) * 0.2)
  end
  route_body = string.format('{"session_id":"%s","embedding":[%s]}', session,
                             table.concat(values, ","))
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local reservation = table.remove(pending)
  if reservation then
    settles = settles + 1
    return wrk.format("POST", "/v1/settle", nil,
                      string.format('{"reservation_id":"%s","cost":0.001}', reservation))
  end
  routes = routes + 1
  return wrk.format("POST", "/v1/route", nil, route_body)
end

function response(status, headers, body)
  if status >= 400 then
    refused = refused + 1
    return
  end
  local reservation = body:match('"reservation_id":"([^"]+)","reserved"')
  if reservation and not body:match('"state":"settled"') then
    table.insert(pending, reservation)
  end
end

function done(summary, latency, requests)
  local r, s, e = 0, 0, 0
  for _, thread in ipairs(threads) do
    r = r + thread:get("routes")
    s = s + thread:get("settles")
    e = e + thread:get("refused")
  end
  io.write(string.format(
    "requests=%d seconds=%.2f requests_per_s=%.0f routes=%d settles=%d errors=%d " ..
    "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    r, s, e + summary.errors.status, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
