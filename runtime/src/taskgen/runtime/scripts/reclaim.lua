-- Take over entries whose lease expired because their worker died, up to ARGV[4] of them.
-- KEYS: the ready streams, highest level first.
-- ARGV[1]: group, ARGV[2]: consumer, ARGV[3]: lease in ms, ARGV[4]: count, ARGV[5]: key base.
-- Returns two lists. The first is flat: stream index, entry id, task id, envelope,
-- redeliveries so far, 1 if an abort was requested (else 0), ...  The second is flat too:
-- stream index, entry id, ... of pending entries that were deleted from their stream (XDEL or
-- XTRIM by something other than taskgen): their envelope is gone, so nothing can run them;
-- they are dropped from the pending list, and the caller reports them.
local group, me, idle, base = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local want = tonumber(ARGV[4])
local out, gone = {}, {}

-- Redis 6.2 claims a deleted entry but answers nil in its place, without its id: find the
-- claimed window's entries now owned here that the stream no longer holds, and drop them.
local function drop_deleted(i, from, to)
  local last = to == '0-0' and '+' or '(' .. to
  for _, p in ipairs(redis.call('XPENDING', KEYS[i], group, from, last, 100000, me)) do
    if not redis.call('XRANGE', KEYS[i], p[1], p[1])[1] then
      redis.call('XACK', KEYS[i], group, p[1])
      gone[#gone + 1] = i - 1
      gone[#gone + 1] = p[1]
    end
  end
end

for i = 1, #KEYS do
  local cursor = '0-0'
  while want > 0 do
    local reply = redis.call('XAUTOCLAIM', KEYS[i], group, me, idle, cursor, 'COUNT', want)
    local nils = false
    for _, entry in ipairs(reply[2]) do
      if not (entry and entry[2]) then
        nils = true
      else
        local id = entry[2][1]
        local key = base .. ':task:' .. id
        local redeliveries, aborted = 0, 0
        if redis.call('EXISTS', key) == 1 then
          -- A counter that is not a number counts from 0 (HINCRBY would fail the script, and
          -- with it every reclaim of the queue).
          redeliveries = (tonumber(redis.call('HGET', key, 'r')) or 0) + 1
          redis.call('HSET', key, 'r', redeliveries)
          if redis.call('HEXISTS', key, 'a') == 1 then aborted = 1 end
        else
          -- An entry without a task hash (not written by a client) is counted by the
          -- pending list, so one that keeps killing workers is still dead-lettered.
          local p = redis.call('XPENDING', KEYS[i], group, entry[1], entry[1], 1)[1]
          if p then redeliveries = tonumber(p[4]) - 1 end
        end
        out[#out + 1] = i - 1
        out[#out + 1] = entry[1]
        out[#out + 1] = id
        out[#out + 1] = entry[2][2]
        out[#out + 1] = redeliveries
        out[#out + 1] = aborted
        want = want - 1
      end
    end
    if nils then drop_deleted(i, cursor, reply[1]) end
    -- Redis 7 drops deleted entries from the pending list itself and lists their ids apart.
    for _, deleted in ipairs(reply[3] or {}) do
      gone[#gone + 1] = i - 1
      gone[#gone + 1] = deleted
    end
    cursor = reply[1]
    if cursor == '0-0' then break end
  end
end
return { out, gone }
