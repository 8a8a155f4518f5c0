-- wrk script: POST with wrong credentials, different on every request, so no cache or shared check
-- can help. FLOOD_USER set: Basic credentials for that user with a fresh wrong password. Otherwise
-- FLOOD_HEADER gets FLOOD_PREFIX followed by FLOOD_LENGTH random base64url characters (a wrong API
-- key or bearer token, or, after a JWT's header and payload, a signature that does not verify).
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

local urlsafe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function randomText(length)
  local chars = {}
  for i = 1, length do
    local k = math.random(1, #urlsafe)
    chars[i] = urlsafe:sub(k, k)
  end
  return table.concat(chars)
end

local user = os.getenv("FLOOD_USER") or ""
local header = os.getenv("FLOOD_HEADER") or "authorization"
local prefix = os.getenv("FLOOD_PREFIX") or ""
local length = tonumber(os.getenv("FLOOD_LENGTH") or "43")
local counter = 0
request = function()
  counter = counter + 1
  if user ~= "" then
    wrk.headers["authorization"] = "Basic " .. base64(user .. ":wrong-" .. counter .. "-" .. math.random(1, 1000000000))
  else
    wrk.headers[header] = prefix .. randomText(length)
  end
  return wrk.format()
end

dofile(os.getenv("WRK_REPORT"))
