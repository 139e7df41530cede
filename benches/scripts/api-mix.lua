-- wrk script: an API-style mix of requests with ids, query strings and small JSON POSTs, so that a
-- capture of it looks like production API traffic rather than one URL repeated. Only JSON endpoints:
-- large static files are the "repeated" capture's subject (big-bodies.lua).
local counter = 0
local paths = {
  function(n) return "GET", "/api/users/" .. (n % 50000), nil end,
  function(n) return "GET", "/api/users/" .. (n % 7919) .. "/orders", nil end,
  function(n) return "GET", "/api/search?q=item" .. (n % 313) .. "&page=" .. (n % 9 + 1), nil end,
  function(n) return "POST", "/api/orders", '{"user":' .. (n % 50000) .. ',"items":[' .. (n % 97) .. ',' .. (n % 13) .. '],"note":"deliver after 6pm"}' end,
  function(n) return "GET", "/api/orders", nil end,
  function(n) return "GET", "/health", nil end,
  function(n) return "DELETE", "/api/users/" .. (n % 50000), nil end,
}
request = function()
  counter = counter + 1
  local method, path, body = paths[(counter % #paths) + 1](counter)
  local headers = {
    ["User-Agent"] = "shop-app/3.2 (okhttp)",
    ["Accept"] = "application/json",
    ["X-Request-Id"] = string.format("%08x%08x", counter, counter * 2654435761 % 4294967296),
  }
  if body then headers["Content-Type"] = "application/json" end
  return wrk.format(method, path, headers, body)
end
