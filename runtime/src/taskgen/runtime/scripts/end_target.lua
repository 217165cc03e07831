-- End the task a chain's or chord's caller awaits with the outcome of a step that failed (or
-- mark a step not yet enqueued as aborted), unless that task already has state: the enqueue
-- script then never runs it, since it skips ids that have state.
-- KEYS[1]: the task hash.  ARGV[1]: key base, ARGV[2]: task id, ARGV[3]: status,
-- ARGV[4]: outcome, ARGV[5]: ttl ms, ARGV[6]: the awaiting client's reply channel ('' none).
-- Returns 1 if it wrote the outcome, 0 if the task had state already.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 's', ARGV[3], 'o', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local channel = ARGV[1] .. ':done:' .. ARGV[2]
redis.call('PUBLISH', channel, ARGV[4])
if ARGV[6] ~= '' then
  redis.call('PUBLISH', ARGV[6], struct.pack('>I4', #channel) .. channel .. ARGV[4])
end
return 1
