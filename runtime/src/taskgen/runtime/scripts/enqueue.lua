-- Enqueue any number of tasks of one queue in one round trip.
-- KEYS[1]: the queue's delayed set.  ARGV[1]: the queue's key base.
-- ARGV[2]: packed, five values per task: task id, priority level, delay in ms (0: ready
-- now), envelope, the client's reply channel ('' for none; kept so an abort can reply too).
-- A task id that already has state is not enqueued again (deduplication).
-- Returns one integer per task: 1 if it was enqueued, 0 if it already existed.
local base, delayed = ARGV[1], KEYS[1]
local blob, at = ARGV[2], 1
-- One value of the packed argument: a 4-byte big-endian length, then the bytes.
local function take()
  local n, from = struct.unpack('>I4', blob, at)
  at = from + n
  return string.sub(blob, from, at - 1)
end
local created = {}
local now, earliest
while at <= #blob do
  local id, level, delay, envelope, reply = take(), take(), tonumber(take()), take(), take()
  local key = base .. ':task:' .. id
  if redis.call('EXISTS', key) == 1 then
    created[#created + 1] = 0
  else
    if delay > 0 then
      if not now then
        local t = redis.call('TIME')
        now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      end
      local due = now + delay
      redis.call('HSET', key, 's', 'scheduled', 'l', level, 'p', envelope)
      if reply ~= '' then redis.call('HSET', key, 'c', reply) end
      redis.call('ZADD', delayed, due, id)
      if not earliest or due < earliest then earliest = due end
    else
      local entry = redis.call('XADD', base .. ':ready:' .. level, '*', id, envelope)
      if reply ~= '' then
        redis.call('HSET', key, 's', 'queued', 'l', level, 'e', entry, 'c', reply)
      else
        redis.call('HSET', key, 's', 'queued', 'l', level, 'e', entry)
      end
    end
    created[#created + 1] = 1
  end
end
-- A task due sooner than any other wakes the workers' schedulers, which may be sleeping.
if earliest then
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if tonumber(first[2]) >= earliest then
    redis.call('PUBLISH', base .. ':control', 'wake')
  end
end
return created
