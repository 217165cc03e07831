-- Store one chord member's value; once every member's is in, return them all.
-- KEYS[1]: the chord's hash (fields 'n': member count, 'spec': the callback, then one field
-- per member index).  ARGV[1]: member index, ARGV[2]: its encoded value.
-- Returns 0 while members are missing, -1 if the chord is unknown (its callback was enqueued
-- already, or it failed), else the hash's fields and values: the caller enqueues the callback
-- under its fixed id, which the enqueue script deduplicates, so two callers that both see the
-- chord complete still start it once.
local chord = KEYS[1]
local n = redis.call('HGET', chord, 'n')
if not n then return -1 end
redis.call('HSET', chord, ARGV[1], ARGV[2])
if redis.call('HLEN', chord) - 2 < tonumber(n) then return 0 end
return redis.call('HGETALL', chord)
