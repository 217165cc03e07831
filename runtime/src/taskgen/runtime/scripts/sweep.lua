-- Remove the consumers of workers that are gone: no pending entries, no live heartbeat, and
-- idle for longer than ARGV[2] ms (so a worker that is just starting is left alone).
-- KEYS: the ready streams, then the queue's liveness set.  ARGV[1]: group, ARGV[2]: idle ms.
-- Returns the names of the consumers removed (once per stream they were in).
local group, idle = ARGV[1], tonumber(ARGV[2])
local alive = KEYS[#KEYS]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', alive, '-inf', now)
local removed = {}
for s = 1, #KEYS - 1 do
  if redis.call('EXISTS', KEYS[s]) == 1 then
    for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[s], group)) do
      local fields = {}
      for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
      if fields['pending'] == 0 and fields['idle'] > idle
          and not redis.call('ZSCORE', alive, fields['name']) then
        redis.call('XGROUP', 'DELCONSUMER', KEYS[s], group, fields['name'])
        removed[#removed + 1] = fields['name']
      end
    end
  end
end
return removed
