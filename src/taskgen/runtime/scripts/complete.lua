-- Record how a batch of tasks ended, acknowledge their entries and drop them from the streams.
-- KEYS: the ready streams (highest level first), then the delayed set, then the dead letters.
-- ARGV[1]: key base, ARGV[2]: group, ARGV[3]: dead-letter cap; then one record per task:
--   'F', stream index, entry id, task id, status, outcome, ttl ms                  (ended)
--   'D', stream index, entry id, task id, status, outcome, ttl ms, task, reason, envelope
--                                                                   (ended, dead-lettered)
--   'R', stream index, entry id, task id, envelope of the next attempt, delay ms   (retry)
local base, group, cap = ARGV[1], ARGV[2], ARGV[3]
local nstreams = #KEYS - 2
local delayed, dead = KEYS[nstreams + 1], KEYS[nstreams + 2]
local acks = {}
local now, earliest
local i = 4
while i <= #ARGV do
  local kind, s, entry, id = ARGV[i], tonumber(ARGV[i + 1]) + 1, ARGV[i + 2], ARGV[i + 3]
  local list = acks[s]
  if not list then
    list = {}
    acks[s] = list
  end
  list[#list + 1] = entry
  local key = base .. ':task:' .. id
  if kind == 'R' then
    if not now then
      local t = redis.call('TIME')
      now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    local due = now + tonumber(ARGV[i + 5])
    redis.call('HSET', key, 's', 'scheduled', 'p', ARGV[i + 4])
    redis.call('ZADD', delayed, due, id)
    if not earliest or due < earliest then earliest = due end
    i = i + 6
  else
    local outcome = ARGV[i + 5]
    redis.call('HSET', key, 's', ARGV[i + 4], 'o', outcome)
    redis.call('PEXPIRE', key, ARGV[i + 6])
    redis.call('PUBLISH', base .. ':done:' .. id, outcome)
    if kind == 'D' then
      redis.call('XADD', dead, 'MAXLEN', '~', cap, '*', 'id', id, 'task', ARGV[i + 7],
        'reason', ARGV[i + 8], 'envelope', ARGV[i + 9], 'outcome', outcome)
      i = i + 10
    else
      i = i + 7
    end
  end
end
for s, list in pairs(acks) do
  -- In chunks, to stay below Lua's limit on unpacked arguments.
  for j = 1, #list, 1000 do
    local chunk = { unpack(list, j, math.min(j + 999, #list)) }
    redis.call('XACK', KEYS[s], group, unpack(chunk))
    redis.call('XDEL', KEYS[s], unpack(chunk))
  end
end
if earliest then
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if tonumber(first[2]) >= earliest then
    redis.call('PUBLISH', base .. ':control', 'wake')
  end
end
return 1
