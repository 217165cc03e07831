-- Enqueue any number of tasks of one queue in one round trip.
-- KEYS[1]: the queue's delayed set.  ARGV[1]: the queue's key base.
-- ARGV[2]: packed, five values per task: task id, priority level, delay in ms (0: ready
-- now), envelope, the client's reply channel ('' for none; kept so an abort can reply too).
-- A task id that already has state is not enqueued again (deduplication).
-- Returns one integer per task: 1 if it was enqueued, 0 if it already existed.
local base, delayed = ARGV[1], KEYS[1]
local blob, at = ARGV[2], 1
-- Each value of the packed argument is a 4-byte big-endian length, then the bytes: 'I4c0' in
-- struct's format, so one struct.unpack reads a task's five values.
local TASK = '>' .. string.rep('I4c0', 5)
local tasks = base .. ':task:'
local streams = {}
local created, n = {}, 0
local now, earliest
while at <= #blob do
  local id, level, delay, envelope, reply
  id, level, delay, envelope, reply, at = struct.unpack(TASK, blob, at)
  local key = tasks .. id
  n = n + 1
  if redis.call('EXISTS', key) == 1 then
    created[n] = 0
  else
    delay = tonumber(delay)
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
      local stream = streams[level]
      if not stream then
        stream = base .. ':ready:' .. level
        streams[level] = stream
      end
      local entry = redis.call('XADD', stream, '*', id, envelope)
      if reply ~= '' then
        redis.call('HSET', key, 's', 'queued', 'l', level, 'e', entry, 'c', reply)
      else
        redis.call('HSET', key, 's', 'queued', 'l', level, 'e', entry)
      end
    end
    created[n] = 1
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
