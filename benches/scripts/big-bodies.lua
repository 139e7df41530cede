-- wrk script: requests for large files (repeated bodies, or random ones), for log-size figures.
local counter = 0
local files = { "/static/big-a.json", "/static/big-b.json", "/static/big-c.json", "/static/app.js" }
request = function()
  counter = counter + 1
  return wrk.format("GET", files[(counter % #files) + 1] .. "?v=" .. (counter % 17))
end
