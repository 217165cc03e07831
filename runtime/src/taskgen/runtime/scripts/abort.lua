-- Abort a task.  A queued or scheduled task is removed and ends as aborted; a task that a
-- worker has taken is flagged, and the workers are told to cancel it.
-- KEYS[1]: the task hash, KEYS[2]: the delayed set, KEYS[3]: the retrying set.
-- ARGV[1]: key base, ARGV[2]: group, ARGV[3]: task id, ARGV[4]: the aborted outcome,
-- ARGV[5]: its ttl in ms.
-- Returns 1: aborted; 2: a worker was asked to cancel it; 0: it had ended or is unknown.
local base, group, id = ARGV[1], ARGV[2], ARGV[3]
local state = redis.call('HMGET', KEYS[1], 's', 'l', 'e', 'c', 'k')
local status = state[1]
if status == 'queued' then
  local stream = base .. ':ready:' .. state[2]
  local taken = redis.pcall('XPENDING', stream, group, state[3], state[3], 1)
  if type(taken) == 'table' and taken[1] then
    redis.call('HSET', KEYS[1], 'a', '1')
    redis.call('PUBLISH', base .. ':control', 'abort:' .. id)
    return 2
  end
  redis.call('XDEL', stream, state[3])
elseif status == 'scheduled' then
  redis.call('ZREM', KEYS[2], id)
  redis.call('SREM', KEYS[3], id)
else
  return 0
end
redis.call('HSET', KEYS[1], 's', 'aborted', 'o', ARGV[4])
redis.call('HDEL', KEYS[1], 'p')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
-- A flow-controlled task frees its slot and unique key (flow.lua is prepended); one parked
-- for a slot is skipped when its turn comes.
if state[5] and flow_library().release(base, id, KEYS[2]) then
  redis.call('PUBLISH', base .. ':control', 'wake')
end
local channel = base .. ':done:' .. id
redis.call('PUBLISH', channel, ARGV[4])
if state[4] then
  -- The enqueueing client awaits it on its own channel (see complete.lua).
  redis.call('PUBLISH', state[4], struct.pack('>I4', #channel) .. channel .. ARGV[4])
end
return 1
