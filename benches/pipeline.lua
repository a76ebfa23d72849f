-- wrk script: DEPTH requests back to back in every write (HTTP pipelining).
-- Usage: wrk -s pipeline.lua URL -- DEPTH
local depth = 16
init = function(args)
  depth = tonumber(args[1]) or depth
  local r = {}
  for i = 1, depth do r[i] = wrk.format() end
  req = table.concat(r)
end
request = function() return req end
