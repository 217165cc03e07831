-- Move delayed and retrying tasks that are due onto their ready streams (flow.lua is
-- prepended: a flow-controlled task delayed at enqueue goes through its gate instead).
-- KEYS[1]: the delayed set, KEYS[2]: the retrying set (ids of the retries in it).
-- ARGV[1]: key base, ARGV[2]: most tasks to move in one call.
-- Returns {tasks moved, ms until the next one is due (-1: none)}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local base = ARGV[1]
local flow
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do
  local key = base .. ':task:' .. id
  local state = redis.call('HMGET', key, 'l', 'p', 'r', 'k', 'q')
  redis.call('ZREM', KEYS[1], id)
  redis.call('SREM', KEYS[2], id)
  if state[2] then
    if state[4] and not state[5] then
      -- A flow-controlled task delayed at enqueue passes its gate now (flow.lua).
      flow = flow or flow_library()
      flow.gate(base, key, id, state[4], now, KEYS[1])
    else
      local entry = redis.call('XADD', base .. ':ready:' .. state[1], '*', id, state[2],
        'r', state[3] or 0)
      redis.call('HSET', key, 's', 'queued', 'e', entry)
      redis.call('HDEL', key, 'p')
    end
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if first[2] then wait = math.max(0, tonumber(first[2]) - now) end
return { #due, wait }
