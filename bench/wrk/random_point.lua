-- wrk script: GET <path>?lat=..&lon=.. with uniformly random points in a bounding box.
-- usage: wrk ... -s random_point.lua URL -- PATH MINLON MINLAT MAXLON MAXLAT [EXTRA_QUERY]
local path, minlon, minlat, maxlon, maxlat, extra
local counter = 0

function init(args)
  path = args[1]
  minlon, minlat, maxlon, maxlat = tonumber(args[2]), tonumber(args[3]), tonumber(args[4]), tonumber(args[5])
  extra = args[6] or ""
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  counter = counter + 1
  local lon = minlon + math.random() * (maxlon - minlon)
  local lat = minlat + math.random() * (maxlat - minlat)
  return wrk.format("GET", string.format("%s?lat=%.7f&lon=%.7f%s", path, lat, lon, extra))
end
