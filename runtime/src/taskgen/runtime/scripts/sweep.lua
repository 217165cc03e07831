-- Remove the consumers of workers that are gone: no pending entries, no live heartbeat, and
-- idle for longer than ARGV[2] ms (so a worker that is just starting is left alone); and the
-- heartbeat records of workers whose heartbeat ran out; and a sample of the retrying set is
-- checked against the delayed set (an older client's abort leaves its id behind).
-- KEYS: the ready streams, then the queue's liveness set, its heartbeat records, its delayed
-- set and its retrying set.  ARGV[1]: group, ARGV[2]: idle ms, ARGV[3]: the key base.
-- Returns the names of the consumers removed (once per stream they were in).
local group, idle = ARGV[1], tonumber(ARGV[2])
local nstreams = #KEYS - 4
local alive, records = KEYS[nstreams + 1], KEYS[nstreams + 2]
local delayed, retrying = KEYS[nstreams + 3], KEYS[nstreams + 4]
for _, id in ipairs(redis.call('SRANDMEMBER', retrying, 100)) do
  if not redis.call('ZSCORE', delayed, id) then redis.call('SREM', retrying, id) end
end
-- Concurrency slots held by tasks that ended by a path that did not free them, of keys with
-- parked tasks (flow.lua is prepended): freed, and the parked tasks admitted.
if ARGV[3] then
  local woken = false
  local base, flow = ARGV[3], flow_library()
  for _, ckey in ipairs(redis.call('SRANDMEMBER', base .. ':flow:parked', 100)) do
    flow.heal(base .. ':flow:c:' .. ckey, base)
    if flow.next(base, ckey, delayed) then woken = true end
  end
  for _, fscope in ipairs(redis.call('SRANDMEMBER', base .. ':flow:fparked', 100)) do
    flow.heal(base .. ':flow:f:' .. fscope, base)
    -- The window of the task whose turn is next (every task of a scope has the same).
    local fkey = redis.call('LINDEX', base .. ':flow:rr:' .. fscope, 0)
    local id = fkey and redis.call('LINDEX', base .. ':flow:fw:' .. fscope .. ':' .. fkey, 0)
    local spec = id and redis.call('HGET', base .. ':task:' .. id, 'k')
    local window = spec and select(10, flow.fields(spec)) or 1
    if flow.next_fair(base, fscope, window, delayed) then woken = true end
  end
  if woken then redis.call('PUBLISH', ARGV[3] .. ':control', 'wake') end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gone = redis.call('ZRANGEBYSCORE', alive, '-inf', now)
for j = 1, #gone, 1000 do
  redis.call('HDEL', records, unpack(gone, j, math.min(j + 999, #gone)))
end
redis.call('ZREMRANGEBYSCORE', alive, '-inf', now)
local removed = {}
for s = 1, nstreams do
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
