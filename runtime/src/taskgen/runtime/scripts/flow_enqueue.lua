-- Enqueue flow-controlled tasks of one queue (flow.lua is prepended).
-- KEYS[1]: the queue's delayed set.  ARGV[1]: the queue's key base.
-- ARGV[2]: packed, six values per task: task id, priority level, delay in ms (0: now),
-- envelope, reply channel ('' for none), flow record (see flow.lua).
-- A task is admitted at once (ready, or delayed until its rate token is due), parked until
-- a concurrency slot of its key frees, or, with a delay, admitted when promoted.
-- Returns per task: 1 if it was enqueued, 0 if its id already existed, or the id of the
-- queued or running task that holds its unique key.
local base, delayed = ARGV[1], KEYS[1]
local flow = flow_library()
local blob, at = ARGV[2], 1
local TASK = '>' .. string.rep('I4c0', 6)
local tasks = base .. ':task:'
local created, n = {}, 0
local now, earliest
while at <= #blob do
  local id, level, delay, envelope, reply, spec
  id, level, delay, envelope, reply, spec, at = struct.unpack(TASK, blob, at)
  local key = tasks .. id
  n = n + 1
  local holder
  local _, _, _, _, _, ukey, uttl = flow.fields(spec)
  if ukey ~= '' then
    local unique = base .. ':flow:u:' .. ukey
    holder = redis.call('GET', unique)
    if holder and (holder == id or flow.FINAL[redis.call('HGET', tasks .. holder, 's') or 'done']) then
      holder = nil
    end
  end
  if holder then
    created[n] = holder
  elseif redis.call('EXISTS', key) == 1 then
    created[n] = 0
  else
    now = now or flow.now()
    if ukey ~= '' then
      if uttl > 0 then
        redis.call('SET', base .. ':flow:u:' .. ukey, id, 'PX', uttl)
      else
        redis.call('SET', base .. ':flow:u:' .. ukey, id)
      end
    end
    redis.call('HSET', key, 's', 'scheduled', 'l', level, 'p', envelope, 'k', spec)
    if reply ~= '' then redis.call('HSET', key, 'c', reply) end
    local due
    delay = tonumber(delay)
    if delay > 0 then
      due = now + delay
      redis.call('ZADD', delayed, due, id)
    else
      due = flow.gate(base, key, id, spec, now, delayed)
    end
    if due and (not earliest or due < earliest) then earliest = due end
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
