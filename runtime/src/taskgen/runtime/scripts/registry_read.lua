-- Read a queue's registry for a client.
-- KEYS[1]: the queue's workers hash.  KEYS[2]: its contracts hash.
-- ARGV: the contract digests the client already holds (not sent again).
-- Returns {Redis time in ms, {worker, entry, ...}, {digest, contract, ...}}: the contracts
-- the entries name that the client lacks.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local held = {}
for _, d in ipairs(ARGV) do held[d] = true end
local sent = {}
for i = 2, #all, 2 do
  local d = string.match(all[i], '^%S+ (%S+)')
  if d and not held[d] then
    held[d] = true
    local contract = redis.call('HGET', KEYS[2], d)
    if contract then
      sent[#sent + 1] = d
      sent[#sent + 1] = contract
    end
  end
end
return {now, all, sent}
