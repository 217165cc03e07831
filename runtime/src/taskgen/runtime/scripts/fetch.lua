-- Read up to ARGV[3] new entries for one consumer, from the highest priority stream down,
-- so that no lower level is read while a higher one has work.
-- KEYS: the queue's ready streams, highest level first.  ARGV[1]: group, ARGV[2]: consumer.
-- Returns a flat list: stream index (0-based), entry id, task id, envelope, redeliveries, ...
-- (an entry handed back by a worker carries its redelivery count as a second field pair).
-- Flat rather than XREADGROUP's nested reply: returning the nested tables cost the server more.
local want = tonumber(ARGV[3])
local out, n = {}, 0
for i = 1, #KEYS do
  if want <= 0 then break end
  local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', want,
    'STREAMS', KEYS[i], '>')
  if reply then
    local entries = reply[1][2]
    local level = i - 1
    for j = 1, #entries do
      local entry = entries[j]
      local fields = entry[2]
      out[n + 1] = level
      out[n + 2] = entry[1]
      out[n + 3] = fields[1]
      out[n + 4] = fields[2]
      -- A counter that is not a number counts as none, rather than failing the reader.
      out[n + 5] = tonumber(fields[4]) or 0
      n = n + 5
    end
    want = want - #entries
  end
end
return out
