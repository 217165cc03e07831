-- Read up to ARGV[3] new entries for one consumer, from the highest priority stream down,
-- so that no lower level is read while a higher one has work.
-- KEYS: the queue's ready streams, highest level first.  ARGV[1]: group, ARGV[2]: consumer.
-- Returns a flat list: stream index (0-based), entry id, task id, envelope, redeliveries, ...
-- (an entry handed back by a worker carries its redelivery count as a second field pair).
local want = tonumber(ARGV[3])
local out = {}
for i = 1, #KEYS do
  if want <= 0 then break end
  local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', want,
    'STREAMS', KEYS[i], '>')
  if reply then
    local entries = reply[1][2]
    for _, entry in ipairs(entries) do
      local fields = entry[2]
      out[#out + 1] = i - 1
      out[#out + 1] = entry[1]
      out[#out + 1] = fields[1]
      out[#out + 1] = fields[2]
      -- A counter that is not a number counts as none, rather than failing the reader.
      out[#out + 1] = tonumber(fields[4]) or 0
    end
    want = want - #entries
  end
end
return out
