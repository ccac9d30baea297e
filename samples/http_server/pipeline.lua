-- wrk -s pipeline.lua URL -- DEPTH: every request wrk makes carries DEPTH pipelined
-- GET /plaintext requests (default 16); wrk counts each response.
init = function(args)
  local depth = tonumber(args[1]) or 16
  local batch = {}
  for i = 1, depth do batch[i] = wrk.format(nil, "/plaintext") end
  req = table.concat(batch)
end

request = function()
  return req
end
