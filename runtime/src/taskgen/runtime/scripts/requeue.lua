-- Move dead letters back onto the queue: each gets a fresh entry and its task state is reset.
-- KEYS[1]: the dead-letter stream.  ARGV[1]: key base; then, per letter: dead entry id,
-- task id, priority level, envelope (the worker re-encoded it with a fresh attempt count).
-- Returns how many letters were requeued.
local base = ARGV[1]
local moved = 0
for i = 2, #ARGV, 4 do
  local dead, id, level, envelope = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if redis.call('XDEL', KEYS[1], dead) == 1 then
    local entry = redis.call('XADD', base .. ':ready:' .. level, '*', id, envelope)
    local key = base .. ':task:' .. id
    redis.call('DEL', key)
    redis.call('HSET', key, 's', 'queued', 'l', level, 'e', entry)
    moved = moved + 1
  end
end
return moved
