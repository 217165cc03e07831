-- Open a chord before its members are enqueued: its member count and callback, kept until
-- the callback is enqueued (then deleted) or ARGV[3] ms pass (members that never all end).
-- KEYS[1]: the chord's hash.  ARGV[1]: member count, ARGV[2]: the encoded flows.ChordSpec.
local chord = KEYS[1]
redis.call('HSET', chord, 'n', ARGV[1], 'spec', ARGV[2])
redis.call('PEXPIRE', chord, ARGV[3])
return 1
