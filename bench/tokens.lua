-- wrk script: POST the body in WRK_BODY with "Authorization: Bearer <token>", taking the tokens one
-- after another from TOKENS_FILE (one a line) and starting over at the end: every request comes
-- from the next principal. TOKENS_OFFSET lines are skipped first, so successive runs carry on
-- where the last one stopped.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["content-type"] = "application/json"
wrk.headers["accept"] = "application/json, text/event-stream"

local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  if line ~= "" then tokens[#tokens + 1] = "Bearer " .. line end
end
local next = (tonumber(os.getenv("TOKENS_OFFSET") or "0") or 0) % #tokens
request = function()
  next = next % #tokens + 1
  wrk.headers["authorization"] = tokens[next]
  return wrk.format()
end

dofile(os.getenv("WRK_REPORT"))
