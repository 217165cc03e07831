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
--   K  task id      (a flow-controlled task ended: free its slot and unique key; flow.lua)
--   H  task id, handoff      (follows the F or D of a task of a chain or chord: stored in the
--      queue's handoff hash, in this same call, for the relay to carry on; see flows.py)
-- The throughput hash counts endings per 5-second bucket: fields '<bucket>d' (done), '<bucket>f'
-- (ended otherwise) and '<bucket>r' (retried), trimmed to the last 16 buckets.
local base, group, cap = ARGV[1], ARGV[3], ARGV[4]
local blob, at = ARGV[2], 1
-- Each value of the packed argument is a 4-byte big-endian length, then the bytes: 'I4c0' in
-- struct's format, so one struct.unpack reads a whole record (a call per value cost the server
-- more than the record's HSET). The kind is one byte, right after its length; a record of
-- another kind is refused.
local ENDED = '>' .. string.rep('I4c0', 8)
local DEAD = '>' .. string.rep('I4c0', 3)
local RETRY = '>' .. string.rep('I4c0', 6)
local PROGRESS = '>' .. string.rep('I4c0', 3)
local RELEASE = '>' .. string.rep('I4c0', 2)
local HANDOFF = '>' .. string.rep('I4c0', 3)
local tasks, channels = base .. ':task:', base .. ':done:'
local nstreams = #KEYS - 4
local delayed, dead = KEYS[nstreams + 1], KEYS[nstreams + 2]
local retrying, throughput = KEYS[nstreams + 3], KEYS[nstreams + 4]
local acks, counts = {}, {}
local flow
local now, earliest
local done, failed, retried = 0, 0, 0
-- The entry of a record of stream index s (0-based), to acknowledge and delete.
local function ack(s, entry)
  s = tonumber(s) + 1
  local n = (counts[s] or 0) + 1
  counts[s] = n
  local list = acks[s]
  if not list then
    list = {}
    acks[s] = list
  end
  list[n] = entry
end
while at <= #blob do
  local kind = string.sub(blob, at + 4, at + 4)
  if kind == 'F' or kind == 'D' then
    local _, s, entry, id, status, outcome, ttl, reply
    _, s, entry, id, status, outcome, ttl, reply, at = struct.unpack(ENDED, blob, at)
    ack(s, entry)
    local key = tasks .. id
    redis.call('HSET', key, 's', status, 'o', outcome)
    redis.call('PEXPIRE', key, ttl)
    if status == 'done' then done = done + 1 else failed = failed + 1 end
    local channel = channels .. id
    redis.call('PUBLISH', channel, outcome)
    if reply ~= '' then
      redis.call('PUBLISH', reply, struct.pack('>I4', #channel) .. channel .. outcome)
    end
    if kind == 'D' then
      local task, reason, envelope
      task, reason, envelope, at = struct.unpack(DEAD, blob, at)
      local letter = redis.call('XADD', dead, 'MAXLEN', '~', cap, '*', 'id', id, 'task', task,
        'reason', reason, 'envelope', envelope, 'outcome', outcome)
      redis.call('HSET', key, 'd', letter)
    end
  elseif kind == 'R' then
    local _, s, entry, id, envelope, delay
    _, s, entry, id, envelope, delay, at = struct.unpack(RETRY, blob, at)
    ack(s, entry)
    if not now then
      local t = redis.call('TIME')
      now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    local due = now + tonumber(delay)
    local key = tasks .. id
    redis.call('HSET', key, 's', 'scheduled', 'p', envelope)
    redis.call('ZADD', delayed, due, id)
    redis.call('SADD', retrying, id)
    retried = retried + 1
    if not earliest or due < earliest then earliest = due end
  elseif kind == 'P' then
    local _, id, progress
    _, id, progress, at = struct.unpack(PROGRESS, blob, at)
    local key = tasks .. id
    -- Never for a task whose hash is gone: that would make one that does not expire.
    if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 'g', progress) end
  elseif kind == 'K' then
    local _, id
    _, id, at = struct.unpack(RELEASE, blob, at)
    flow = flow or flow_library()
    local due = flow.release(base, id, delayed)
    if due and (not earliest or due < earliest) then earliest = due end
  elseif kind == 'H' then
    local _, id, handoff
    _, id, handoff, at = struct.unpack(HANDOFF, blob, at)
    redis.call('HSET', base .. ':handoff', id, handoff)
  else
    return redis.error_reply('complete: unknown record kind ' .. kind)
  end
end
for s, list in pairs(acks) do
  -- In chunks, to stay below Lua's limit on unpacked arguments.
  for j = 1, counts[s], 1000 do
    local last = math.min(j + 999, counts[s])
    redis.call('XACK', KEYS[s], group, unpack(list, j, last))
    redis.call('XDEL', KEYS[s], unpack(list, j, last))
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
