-- wrk script: each request takes a random path from the file named by $PATHS (one per
-- line), so a run spreads over many collections and pages instead of one URL.
local paths = {}
local f = assert(io.open(os.getenv("PATHS"), "r"))
for line in f:lines() do
  if #line > 0 then paths[#paths + 1] = line end
end
f:close()
math.randomseed(tonumber(os.getenv("SEED") or "1"))
-- As a browser asks: gzip taken (the dashboard keeps pages gzipped and sends them so).
local headers = { ["Accept-Encoding"] = "gzip, deflate, br" }
request = function()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end
-- Answers that are not 2xx/3xx, printed for the harness (the run is void if any).
done = function(summary, latency, requests)
  io.write(string.format("non200 %d\n", summary.errors.status))
end
