-- The counts of one queue, for `taskgen status`, in one call.
-- KEYS: the ready streams (highest level first), then the delayed set, the retrying set, the
-- dead-letter stream and the throughput hash.  ARGV[1]: group.
-- Returns {Redis time in ms, {entries, taken, oldest waiting entry id or ''} per stream...,
-- delayed, retrying, dead letters, the throughput hash as a flat list}.
local group = ARGV[1]
local nstreams = #KEYS - 4
local t = redis.call('TIME')
local out = { tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) }
for s = 1, nstreams do
  local entries, taken, oldest = 0, 0, ''
  if redis.call('EXISTS', KEYS[s]) == 1 then
    entries = redis.call('XLEN', KEYS[s])
    -- Entries after the group's last delivered id have not been read by any worker yet.
    local last = '0-0'
    for _, info in ipairs(redis.call('XINFO', 'GROUPS', KEYS[s])) do
      local fields = {}
      for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
      if fields['name'] == group then
        taken = fields['pending']
        last = fields['last-delivered-id']
      end
    end
    local first = redis.call('XRANGE', KEYS[s], '(' .. last, '+', 'COUNT', 1)[1]
    if first then oldest = first[1] end
  end
  out[#out + 1] = { entries, taken, oldest }
end
out[#out + 1] = redis.call('ZCARD', KEYS[nstreams + 1])
out[#out + 1] = redis.call('SCARD', KEYS[nstreams + 2])
out[#out + 1] = redis.call('XLEN', KEYS[nstreams + 3])
out[#out + 1] = redis.call('HGETALL', KEYS[nstreams + 4])
return out
