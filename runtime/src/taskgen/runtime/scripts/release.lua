-- Hand this consumer's unfinished entries back to the queue, for immediate redelivery to
-- another worker: each is added again at the tail and the old entry acknowledged and dropped.
-- KEYS: the ready streams.  ARGV[1]: group, ARGV[2]: consumer, ARGV[3]: key base;
-- then the task ids that had started running: their hand-back counts as a redelivery.
-- Returns how many tasks were handed back.
local group, me, base = ARGV[1], ARGV[2], ARGV[3]
local started = {}
for i = 4, #ARGV do started[ARGV[i]] = true end
local handed = 0
for s = 1, #KEYS do
  local pending = redis.call('XPENDING', KEYS[s], group, '-', '+', 1000000, me)
  for _, p in ipairs(pending) do
    local old = p[1]
    local found = redis.call('XRANGE', KEYS[s], old, old)[1]
    if found then
      local id, envelope = found[2][1], found[2][2]
      local key = base .. ':task:' .. id
      local known = redis.call('EXISTS', key) == 1
      local redeliveries = 0
      if known then
        -- A counter that is not a number counts from 0 rather than failing the hand-back.
        redeliveries = tonumber(redis.call('HGET', key, 'r')) or 0
        if started[id] then
          redeliveries = redeliveries + 1
          redis.call('HSET', key, 'r', redeliveries)
        end
      end
      local entry = redis.call('XADD', KEYS[s], '*', id, envelope, 'r', redeliveries)
      if known then redis.call('HSET', key, 'e', entry) end
      handed = handed + 1
    end
    redis.call('XACK', KEYS[s], group, old)
    redis.call('XDEL', KEYS[s], old)
  end
end
return handed
