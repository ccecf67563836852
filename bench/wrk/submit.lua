-- wrk script: POST /api/cases/ as logged-in lane chiefs (session cookie + CSRF header, as the phone page sends),
-- JSON bodies with uniformly random points in a bounding box, a random reportable non-sensitive category and a
-- unique Idempotency-Key per request. Every answer is written to OUTDIR/resp-<thread>.txt as "status id" so the
-- bench can match each 2xx answer to its case row. No request is sent after STOP_AT (Unix seconds): run wrk a few
-- seconds longer, so every request sent is answered and written down before wrk stops (wrk drops the answers still
-- in flight when its duration ends, which would leave cases without a recorded answer).
-- usage: wrk ... -s submit.lua URL -- MINLON MINLAT MAXLON MAXLAT TAG OUTDIR SESSIONS_FILE CATEGORIES(comma) STOP_AT
local minlon, minlat, maxlon, maxlat, tag, outdir, stop_at
local sessions, categories = {}, {}
local counter, tid, out = 0, 0, nil
local threads, nthreads = {}, 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end

function init(args)
  minlon, minlat, maxlon, maxlat = tonumber(args[1]), tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  tag, outdir = args[5], args[6]
  for line in io.lines(args[7]) do
    local sid, csrf = line:match("^(%S+)%s+(%S+)$")
    if sid then
      table.insert(sessions, { cookie = "sessionid=" .. sid .. "; csrftoken=" .. csrf, csrf = csrf })
    end
  end
  for code in string.gmatch(args[8], "[^,]+") do
    table.insert(categories, code)
  end
  stop_at = tonumber(args[9])
  tid = tonumber(wrk.thread:get("tid")) or 0
  out = io.open(string.format("%s/resp-%d.txt", outdir, tid), "w")
  math.randomseed(os.time() + tid * 7919 + tonumber(tostring({}):sub(8), 16) % 100000)
end

function delay()
  if os.time() >= stop_at then
    return 3600000 -- idle until wrk stops: no new request after STOP_AT
  end
  return 0
end

function request()
  counter = counter + 1
  local s = sessions[math.random(#sessions)]
  local lon = minlon + math.random() * (maxlon - minlon)
  local lat = minlat + math.random() * (maxlat - minlat)
  local key = string.format("%s-%d-%d", tag, tid, counter)
  local body = string.format(
    '{"category":"%s","lon":%.7f,"lat":%.7f,"description":"%s"}',
    categories[math.random(#categories)], lon, lat, key
  )
  return wrk.format("POST", "/api/cases/", {
    ["Content-Type"] = "application/json",
    ["Cookie"] = s.cookie,
    ["X-CSRFToken"] = s.csrf,
    ["Idempotency-Key"] = key,
  }, body)
end

function response(status, headers, body)
  local id = body:match('^%s*{%s*"id"%s*:%s*(%d+)') or "-"
  out:write(status, " ", id, "\n")
end

function done(summary, latency, requests)
  -- the per-thread files are flushed when the threads' Lua states close
end
