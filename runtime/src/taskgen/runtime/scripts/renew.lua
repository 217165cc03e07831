-- Renew this consumer's leases: reset the idle time of the entries it still owns, so that no
-- other worker takes over a task that is still running; and beat the worker's heartbeat,
-- storing its record (who it is, what it runs: see heartbeat.py) beside it.
-- KEYS: the ready streams, then the queue's liveness set, then its heartbeat records.
-- ARGV[1]: group, ARGV[2]: consumer, ARGV[3]: heartbeat lifetime in ms, ARGV[4]: the
-- worker's record ('' to leave it as it is); then stream index, entry id, ...
-- Returns the entry ids that another consumer has taken over in the meantime.
local group, me = ARGV[1], ARGV[2]
local nstreams = #KEYS - 2
local alive, records = KEYS[nstreams + 1], KEYS[nstreams + 2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', alive, now + tonumber(ARGV[3]), me)
if ARGV[4] ~= '' then redis.call('HSET', records, me, ARGV[4]) end
local mine, lost = {}, {}
for i = 5, #ARGV, 2 do
  local s, entry = tonumber(ARGV[i]) + 1, ARGV[i + 1]
  local owner = redis.call('XPENDING', KEYS[s], group, entry, entry, 1)[1]
  if owner and owner[2] == me then
    mine[s] = mine[s] or {}
    table.insert(mine[s], entry)
  else
    lost[#lost + 1] = entry
  end
end
for s, entries in pairs(mine) do
  for j = 1, #entries, 1000 do
    local chunk = { unpack(entries, j, math.min(j + 999, #entries)) }
    chunk[#chunk + 1] = 'JUSTID' -- JUSTID: a renewal is not a delivery; keep the count
    redis.call('XCLAIM', KEYS[s], group, me, 0, unpack(chunk))
  end
end
return lost
