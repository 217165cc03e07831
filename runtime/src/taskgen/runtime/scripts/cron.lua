-- Fire one tick of a periodic task, at most once across every worker process.
-- KEYS[1]: the queue's cron hash (job name -> last tick fired).
-- ARGV[1]: key base, ARGV[2]: job name, ARGV[3]: tick (epoch ms), ARGV[4]: task id,
-- ARGV[5]: priority level, ARGV[6]: envelope.
-- Returns 1 if this call fired the tick, 0 if it had been fired already.
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '-1')
if last >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
local base, id, level = ARGV[1], ARGV[4], ARGV[5]
local entry = redis.call('XADD', base .. ':ready:' .. level, '*', id, ARGV[6])
redis.call('HSET', base .. ':task:' .. id, 's', 'queued', 'l', level, 'e', entry)
return 1
