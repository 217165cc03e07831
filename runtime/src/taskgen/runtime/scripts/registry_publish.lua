-- Write one worker's entry in a queue's registry: at start, on each heartbeat, at stop.
-- KEYS[1]: the queue's workers hash.  KEYS[2]: its contracts hash (digest -> contract).
-- ARGV[1]: worker id.  ARGV[2]: state, 'L' (live) or 'S' (stopped).  ARGV[3]: the digest of
-- the worker's contract.  ARGV[4]: the contract, or '' on a heartbeat (already stored).
-- ARGV[5]: ms after its last heartbeat that a live worker counts as stale.
-- ARGV[6]: seconds the registry keeps an entry after its last heartbeat.
-- ARGV[7]: the queue's registry channel, told of every join and stop.
-- An entry is '<state> <digest> <heartbeat ms> <stale after ms>', in Redis time, so clients on
-- other hosts judge staleness with the same clock.
-- Returns 1, or 0 when a heartbeat finds its contract gone (the worker writes it again).
local workers, contracts = KEYS[1], KEYS[2]
local id, state, digest, contract = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local keep = tonumber(ARGV[6])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if contract == '' then
  if redis.call('HEXISTS', contracts, digest) == 0 then return 0 end
else
  redis.call('HSET', contracts, digest, contract)
  -- Joining and stopping are rare, so they tidy up. Entries silent for longer than `keep`
  -- go; of the others that are not live (stopped, or stale: a worker that died), one per
  -- contract is enough to show that the contract served here, and none while a live
  -- worker runs it; a contract no entry names goes too.
  local entries, live = {}, {}
  if state == 'L' then live[digest] = true end
  local all = redis.call('HGETALL', workers)
  for i = 1, #all, 2 do
    if all[i] ~= id then
      local s, d, beat, stale = string.match(all[i + 1], '^(%S+) (%S+) (%d+) (%d+)$')
      if not beat or now - tonumber(beat) > keep * 1000 then
        redis.call('HDEL', workers, all[i])
      else
        local alive = s == 'L' and now - tonumber(beat) <= tonumber(stale)
        if alive then live[d] = true end
        entries[#entries + 1] = {all[i], d, tonumber(beat), alive}
      end
    end
  end
  local newest = {}
  if state ~= 'L' then newest[digest] = {id, now} end
  local used = {[digest] = true}
  for _, e in ipairs(entries) do
    local field, d, beat, alive = e[1], e[2], e[3], e[4]
    if alive then
      used[d] = true
    elseif live[d] then
      redis.call('HDEL', workers, field)
    elseif not newest[d] then
      newest[d] = {field, beat}
      used[d] = true
    elseif beat > newest[d][2] then
      redis.call('HDEL', workers, newest[d][1])
      newest[d] = {field, beat}
    else
      redis.call('HDEL', workers, field)
    end
  end
  for _, d in ipairs(redis.call('HKEYS', contracts)) do
    if not used[d] then redis.call('HDEL', contracts, d) end
  end
end
local previous = redis.call('HGET', workers, id)
redis.call('HSET', workers, id, state .. ' ' .. digest .. ' ' .. now .. ' ' .. ARGV[5])
redis.call('EXPIRE', workers, keep)
redis.call('EXPIRE', contracts, keep)
if not previous or string.sub(previous, 1, 1) ~= state then
  redis.call('PUBLISH', ARGV[7], state)
end
return 1
