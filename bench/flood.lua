-- wrk script: POST with Basic credentials for FLOOD_USER and a different wrong password each time,
-- so no cache or shared check can help: every request costs the server a password check.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["content-type"] = "application/json"
wrk.headers["accept"] = "application/json, text/event-stream"

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(data)
  return ((data:gsub(".", function(char)
    local bits, byte = "", char:byte()
    for i = 8, 1, -1 do bits = bits .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and "1" or "0") end
    return bits
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(bits)
    if #bits < 6 then return "" end
    local value = 0
    for i = 1, 6 do value = value + (bits:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return alphabet:sub(value + 1, value + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

local user = os.getenv("FLOOD_USER") or "alice"
local counter = 0
request = function()
  counter = counter + 1
  wrk.headers["authorization"] = "Basic " .. base64(user .. ":wrong-" .. counter .. "-" .. math.random(1, 1000000000))
  return wrk.format()
end

dofile(os.getenv("WRK_REPORT"))
