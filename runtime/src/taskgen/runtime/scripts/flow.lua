-- Flow control, prepended to the scripts that admit or end flow-controlled tasks
-- (flow_enqueue, promote, complete, abort, sweep; see taskgen/runtime/flow.py).
-- A task's hash holds its flow record in field 'k' (packed: concurrency key and max, rate key,
-- count and period ms, unique key and ttl ms; '' and 0 where unset) and 'q' once it was
-- admitted (holds its concurrency slot and its rate token). Per key value, under the queue's
-- hash tag:  <base>:flow:c:<key> set of the ids holding a slot;  <base>:flow:w:<key> list of
-- the ids parked for one (status 'scheduled', envelope in 'p');  <base>:flow:r:<key> the token
-- bucket's theoretical arrival time (GCRA, ms);  <base>:flow:u:<key> the id a unique key
-- belongs to;  <base>:flow:parked the set of keys with parked ids (for the sweep).  Fair tasks
-- (scope: the task's wire name): <base>:flow:f:<scope> the set of ids admitted to the ready
-- stream (at most the window);  <base>:flow:fw:<scope>:<key> the ids parked per key;
-- <base>:flow:rr:<scope> the keys with parked ids, in turn;  <base>:flow:fparked the scopes
-- with parked ids (for the sweep).
-- Everything is defined inside flow_library(), called by a script only when it meets a
-- flow-controlled task, so a script that meets none (complete.lua's usual batch) pays for
-- one closure, not for these definitions.
local function flow_library()
  local FLOW_RECORD = '>' .. string.rep('I4c0', 10)
  local FLOW_FINAL = { done = true, failed = true, timed_out = true, aborted = true,
    expired = true, rejected = true }

  local function flow_now()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end

  local function flow_fields(spec)
    local ckey, cmax, rkey, rcount, rperiod, ukey, uttl, fscope, fkey, fwindow =
      struct.unpack(FLOW_RECORD, spec)
    return ckey, tonumber(cmax), rkey, tonumber(rcount), tonumber(rperiod), ukey, tonumber(uttl),
      fscope, fkey, tonumber(fwindow)
  end

  -- The task (envelope in 'p') onto its ready stream.
  local function flow_ready(base, key, id)
    local state = redis.call('HMGET', key, 'l', 'p', 'r')
    if not state[2] then return end
    local entry = redis.call('XADD', base .. ':ready:' .. state[1], '*', id, state[2],
      'r', state[3] or 0)
    redis.call('HSET', key, 's', 'queued', 'e', entry)
    redis.call('HDEL', key, 'p')
  end

  -- When the key's next token is free (GCRA: count tokens per period, count at once at most);
  -- the token is taken (reserved) for that time.
  local function flow_token(base, rkey, count, period, now)
    local bucket = base .. ':flow:r:' .. rkey
    local every = period / count
    local tat = tonumber(redis.call('GET', bucket)) or now
    if tat < now then tat = now end
    local due = tat - (period - every)
    if due < now then due = now end
    redis.call('SET', bucket, string.format('%.3f', tat + every), 'PX',
      math.ceil(tat + every - now + period))
    return math.ceil(due)
  end

  -- Admit a task that holds its slot (or needs none): ready now, or in the delayed set until its
  -- token is due. Returns that due time, or nil when it is ready now.
  local function flow_admit(base, key, id, rkey, rcount, rperiod, now, delayed)
    redis.call('HSET', key, 'q', '1')
    if rkey ~= '' then
      local due = flow_token(base, rkey, rcount, rperiod, now)
      if due > now then
        redis.call('HSET', key, 's', 'scheduled')
        redis.call('ZADD', delayed, due, id)
        return due
      end
    end
    flow_ready(base, key, id)
    return nil
  end

  -- A task whose envelope waits in 'p': take a slot and admit it, or park it.
  -- Returns the time it is due when its token is later than now, else nil.
  local function flow_gate(base, key, id, spec, now, delayed)
    local ckey, cmax, rkey, rcount, rperiod, _, _, fscope, fkey, fwindow = flow_fields(spec)
    if fscope ~= '' then
      -- Fair: a place in the task's window on the ready stream, or a turn in the round-robin.
      local admitted = base .. ':flow:f:' .. fscope
      if redis.call('SCARD', admitted) >= fwindow then
        redis.call('HSET', key, 's', 'scheduled')
        if redis.call('RPUSH', base .. ':flow:fw:' .. fscope .. ':' .. fkey, id) == 1 then
          redis.call('RPUSH', base .. ':flow:rr:' .. fscope, fkey)
        end
        redis.call('SADD', base .. ':flow:fparked', fscope)
        return nil
      end
      redis.call('SADD', admitted, id)
    elseif ckey ~= '' then
      local slots = base .. ':flow:c:' .. ckey
      if redis.call('SCARD', slots) >= cmax then
        redis.call('HSET', key, 's', 'scheduled')
        redis.call('RPUSH', base .. ':flow:w:' .. ckey, id)
        redis.call('SADD', base .. ':flow:parked', ckey)
        return nil
      end
      redis.call('SADD', slots, id)
    end
    return flow_admit(base, key, id, rkey, rcount, rperiod, now, delayed)
  end

  -- Admit parked tasks of a concurrency key while it has free slots; returns the earliest due
  -- time of one that waits for a rate token (or nil).
  local function flow_next(base, ckey, delayed)
    local slots, parked = base .. ':flow:c:' .. ckey, base .. ':flow:w:' .. ckey
    local now, earliest
    while true do
      local id = redis.call('LINDEX', parked, 0)
      if not id then
        redis.call('SREM', base .. ':flow:parked', ckey)
        return earliest
      end
      local key = base .. ':task:' .. id
      local state = redis.call('HMGET', key, 's', 'k', 'q')
      if state[1] == 'scheduled' and state[2] and not state[3] then
        local _, cmax, rkey, rcount, rperiod = flow_fields(state[2])
        if redis.call('SCARD', slots) >= cmax then return earliest end
        redis.call('LPOP', parked)
        redis.call('SADD', slots, id)
        now = now or flow_now()
        local due = flow_admit(base, key, id, rkey, rcount, rperiod, now, delayed)
        if due and (not earliest or due < earliest) then earliest = due end
      else
        -- Aborted, expired or gone while parked: it needs no slot.
        redis.call('LPOP', parked)
      end
    end
  end

  -- Fill the fair window of a task from its parked keys, one task per key in turn; returns the
  -- earliest due time of one that waits for a rate token (or nil).
  local function flow_next_fair(base, fscope, window, delayed)
    local admitted, turns = base .. ':flow:f:' .. fscope, base .. ':flow:rr:' .. fscope
    local now, earliest
    while redis.call('SCARD', admitted) < window do
      local fkey = redis.call('LPOP', turns)
      if not fkey then
        redis.call('SREM', base .. ':flow:fparked', fscope)
        return earliest
      end
      local parked = base .. ':flow:fw:' .. fscope .. ':' .. fkey
      local id = redis.call('LPOP', parked)
      -- The key goes to the back of the round-robin while it has parked tasks.
      if redis.call('LLEN', parked) > 0 then redis.call('RPUSH', turns, fkey) end
      if id then
        local key = base .. ':task:' .. id
        local state = redis.call('HMGET', key, 's', 'k', 'q')
        -- Aborted, expired or gone while parked: it needs no place.
        if state[1] == 'scheduled' and state[2] and not state[3] then
          local _, _, rkey, rcount, rperiod = flow_fields(state[2])
          redis.call('SADD', admitted, id)
          now = now or flow_now()
          local due = flow_admit(base, key, id, rkey, rcount, rperiod, now, delayed)
          if due and (not earliest or due < earliest) then earliest = due end
        end
      end
    end
    return earliest
  end

  -- A task ended (or was aborted): free its slot and unique key, admit the next parked task.
  -- Idempotent: a second ending of the same task frees nothing more.
  local function flow_release(base, id, delayed)
    local spec = redis.call('HGET', base .. ':task:' .. id, 'k')
    if not spec then return nil end
    local ckey, _, _, _, _, ukey, _, fscope, _, fwindow = flow_fields(spec)
    if ukey ~= '' then
      local unique = base .. ':flow:u:' .. ukey
      if redis.call('GET', unique) == id then redis.call('DEL', unique) end
    end
    if fscope ~= '' and redis.call('SREM', base .. ':flow:f:' .. fscope, id) == 1 then
      return flow_next_fair(base, fscope, fwindow, delayed)
    end
    if ckey ~= '' and redis.call('SREM', base .. ':flow:c:' .. ckey, id) == 1 then
      return flow_next(base, ckey, delayed)
    end
    return nil
  end

  -- Free the slots (or fair places) whose holders have ended without releasing them (a path
  -- that bypassed complete.lua: an entry deleted from its stream, a task hash that expired).
  local function flow_heal(slots, base)
    for _, id in ipairs(redis.call('SMEMBERS', slots)) do
      local status = redis.call('HGET', base .. ':task:' .. id, 's')
      if not status or FLOW_FINAL[status] then redis.call('SREM', slots, id) end
    end
  end

  return { FINAL = FLOW_FINAL, now = flow_now, fields = flow_fields, gate = flow_gate,
    next = flow_next, next_fair = flow_next_fair, release = flow_release, heal = flow_heal }
end
