-- A task's status; 'queued' becomes 'running' once a worker has taken its entry.
-- KEYS[1]: the task hash.  ARGV[1]: key base, ARGV[2]: group.
local state = redis.call('HMGET', KEYS[1], 's', 'l', 'e')
local status = state[1]
if status == 'queued' and state[3] then
  local taken = redis.pcall('XPENDING', ARGV[1] .. ':ready:' .. state[2], ARGV[2],
    state[3], state[3], 1)
  if type(taken) == 'table' and taken[1] then return 'running' end
end
return status or 'unknown'
