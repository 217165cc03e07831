-- Record how a batch of tasks ended, acknowledge their entries and drop them from the streams.
-- KEYS: the ready streams (highest level first), then the delayed set, the dead letters, the
-- retrying set and the throughput counts.
-- ARGV[1]: key base, ARGV[2]: packed records, ARGV[3]: group, ARGV[4]: dead-letter cap,
-- ARGV[5]: the worker's current 5-second bucket (epoch ms // 5000), ARGV[6]: '1' when that
-- bucket is new to this worker: then the throughput fields of buckets a minute old are dropped.
-- A record is a kind, then its values:
--   F  stream index, entry id, task id, status, outcome, ttl ms, reply channel     (ended)
--   D  stream index, entry id, task id, status, outcome, ttl ms, reply channel, task, reason,
--      envelope                                                   (ended, dead-lettered)
-- The outcome is published on the task's channel and, when the enqueueing client gave one, on
-- its reply channel, prefixed with the task channel's name.
--   R  stream index, entry id, task id, envelope of the next attempt, delay ms   (retry)
--   P  task id, progress                  (the latest progress report of a running task)
-- The throughput hash counts endings per 5-second bucket: fields '<bucket>d' (done), '<bucket>f'
-- (ended otherwise) and '<bucket>r' (retried), trimmed to the last 16 buckets.
local base, group, cap = ARGV[1], ARGV[3], ARGV[4]
local blob, at = ARGV[2], 1
-- One value of the packed argument: a 4-byte big-endian length, then the bytes.
local function take()
  local n, from = struct.unpack('>I4', blob, at)
  at = from + n
  return string.sub(blob, from, at - 1)
end
local nstreams = #KEYS - 4
local delayed, dead = KEYS[nstreams + 1], KEYS[nstreams + 2]
local retrying, throughput = KEYS[nstreams + 3], KEYS[nstreams + 4]
local acks = {}
local now, earliest
local done, failed, retried = 0, 0, 0
while at <= #blob do
  local kind = take()
  if kind == 'P' then
    local id, progress = take(), take()
    local key = base .. ':task:' .. id
    -- Never for a task whose hash is gone: that would make one that does not expire.
    if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 'g', progress) end
  else
    local s, entry, id = tonumber(take()) + 1, take(), take()
    local list = acks[s]
    if not list then
      list = {}
      acks[s] = list
    end
    list[#list + 1] = entry
    local key = base .. ':task:' .. id
    if kind == 'R' then
      local envelope, delay = take(), tonumber(take())
      if not now then
        local t = redis.call('TIME')
        now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      end
      local due = now + delay
      redis.call('HSET', key, 's', 'scheduled', 'p', envelope)
      redis.call('ZADD', delayed, due, id)
      redis.call('SADD', retrying, id)
      retried = retried + 1
      if not earliest or due < earliest then earliest = due end
    else
      local status, outcome, ttl, reply = take(), take(), take(), take()
      redis.call('HSET', key, 's', status, 'o', outcome)
      redis.call('PEXPIRE', key, ttl)
      if status == 'done' then done = done + 1 else failed = failed + 1 end
      local channel = base .. ':done:' .. id
      redis.call('PUBLISH', channel, outcome)
      if reply ~= '' then
        redis.call('PUBLISH', reply, struct.pack('>I4', #channel) .. channel .. outcome)
      end
      if kind == 'D' then
        local task, reason, envelope = take(), take(), take()
        local letter = redis.call('XADD', dead, 'MAXLEN', '~', cap, '*', 'id', id, 'task', task,
          'reason', reason, 'envelope', envelope, 'outcome', outcome)
        redis.call('HSET', key, 'd', letter)
      end
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
-- Counted under the batch's bucket: one HINCRBY per kind of ending the batch holds.
local bucket = ARGV[5]
if done > 0 then redis.call('HINCRBY', throughput, bucket .. 'd', done) end
if failed > 0 then redis.call('HINCRBY', throughput, bucket .. 'f', failed) end
if retried > 0 then redis.call('HINCRBY', throughput, bucket .. 'r', retried) end
if ARGV[6] == '1' then
  local oldest = tonumber(bucket) - 15
  for _, field in ipairs(redis.call('HKEYS', throughput)) do
    local b = tonumber(string.sub(field, 1, -2))
    if not b or b < oldest then redis.call('HDEL', throughput, field) end
  end
end
if earliest then
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if tonumber(first[2]) >= earliest then
    redis.call('PUBLISH', base .. ':control', 'wake')
  end
end
return 1
