-- wrk script for bench/scan_burst.py: signed-in people posting scans of
-- distinct badges (or, for the baseline, one-row writes) as fast as 32
-- connections allow.
--
-- wrk ... -s bench/scan_burst.lua URL -- PLAN MODE SECONDS TAG THREADS MARKS
--   PLAN     a file of "<api token> <badge token>" lines, one per attendee
--   MODE     "scans" (POST /api/v1/scans) or "row" (POST /api/v1/bench/row)
--   SECONDS  how long to send; then every answer is awaited (see delay())
--   TAG      makes client_ids unique across runs against one database
--   THREADS  wrk's -t, so each thread takes its own share of the sequence
--   MARKS    a folder where each thread leaves a file once all its answers
--            are in, so the caller can stop wrk then (SIGINT) instead of
--            waiting out -d
--   OFFSET   requests of this mode sent by earlier runs against the same
--            database: numbering goes on from there, so a later run's scans
--            are new meetings too, not the first run's pairs meeting again
--
-- Request number s (over all threads and runs) is attendee s mod N scanning the badge
-- of attendee s mod N + 1 + floor(s / N) mod (N - 1): every (scanner, badge)
-- pair is new until N * (N - 1) requests, and each person's requests are
-- spread over the run, as at a real event (and below the per-user limit).
-- X-Forwarded-For gives each person their own address, as phones on mobile
-- data have, behind the one trusted proxy (TRUSTED_PROXIES=1).

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } scan_burst_timespec;
  int clock_gettime(int clock_id, scan_burst_timespec *tp);
]]
local clock = ffi.new("scan_burst_timespec")
local function now()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) / 1e9
end

local tokens, badges, people = {}, {}, 0
local mode, path, window, tag, thread_count, marks, offset = "scans", "/api/v1/scans", 1, "run", 1, nil, 0

-- Globals: read by done() through thread:get().
thread_id = 0
sent, answered = 0, 0
ok_in_window = 0 -- 2xx answers that arrived while sending: the throughput
started = 0
statuses = {}

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local token, badge = line:match("^(%S+) (%S+)$")
    if token then
      people = people + 1
      tokens[people], badges[people] = token, badge
    end
  end
  mode = args[2]
  path = mode == "scans" and "/api/v1/scans" or "/api/v1/bench/row"
  window, tag, thread_count, marks = tonumber(args[3]), args[4], tonumber(args[5]), args[6]
  offset = tonumber(args[7] or "0")
end

-- Stop sending once the window is over; the connection then waits (an hour,
-- longer than wrk's -d) so nothing is left in flight when wrk stops: every
-- request sent gets its answer counted, and Scan rows can be matched to them.
function delay()
  if started == 0 then -- the first connection of this thread is about to send
    started = now()
  end
  if now() - started > window then
    return 3600000
  end
  return 0
end

local function address(n)
  return string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end

function request()
  if started == 0 then
    -- wrk's own check of the script (on the first thread, before it runs):
    -- this request is never sent, so it must not use up a number.
    return wrk.format("POST", path, {["Content-Type"] = "application/json"}, "{}")
  end
  local s = offset + sent * thread_count + thread_id
  sent = sent + 1
  local scanner = s % people
  local badge = (scanner + 1 + math.floor(s / people) % (people - 1)) % people
  local headers = {
    ["Authorization"] = "Bearer " .. tokens[scanner + 1],
    ["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = address(scanner + 1),
  }
  local body
  if mode == "scans" then
    body = string.format('{"badge":"%s","client_id":"%s-%d"}', badges[badge + 1], tag, s)
  else
    body = string.format('{"client_id":"%s-%d"}', tag, s)
  end
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  answered = answered + 1
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  local late = now() - started > window
  if status < 300 and not late then
    ok_in_window = ok_in_window + 1
  end
  if late and answered >= sent then
    local mark = io.open(string.format("%s/done-%d", marks, thread_id), "w")
    if mark then mark:close() end
    wrk.thread:stop()
  end
end

-- One line of JSON: the counts, and the latency histogram ([microseconds,
-- count] pairs, as wrk reports it) so that several runs can be merged.
-- (This runs in wrk's main Lua state, where init() never ran.)
function done(summary, latency, requests)
  local totals = {sent = 0, answered = 0, ok_in_window = 0}
  local by_status = {}
  for _, thread in ipairs(threads) do
    for name in pairs(totals) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
    for status, n in pairs(thread:get("statuses") or {}) do
      by_status[status] = (by_status[status] or 0) + n
    end
  end
  local parts, points = {}, {}
  for status, n in pairs(by_status) do
    table.insert(parts, string.format('"%s":%d', status, n))
  end
  for i = 1, #latency do
    local value, count = latency(i)
    table.insert(points, string.format("[%d,%d]", value, count))
  end
  local e = summary.errors
  print(string.format(
    'SCAN_BURST_RESULT {"sent":%d,"answered":%d,"ok_in_window":%d,"statuses":{%s},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"latency_us":[%s]}',
    totals.sent, totals.answered, totals.ok_in_window, table.concat(parts, ","),
    e.connect, e.read, e.write, e.status, e.timeout, table.concat(points, ",")))
end
