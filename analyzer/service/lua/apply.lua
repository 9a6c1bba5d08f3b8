-- apply.lua: apply a batch of one run's producer messages, each at most once per (rank, seq).
--
-- KEYS[1] run meta HASH   KEYS[2] run deadlines ZSET   KEYS[3] run scalars ZSET
-- KEYS[4] run owner STRING (the analyzer holding the run's lease)
-- then three keys per message i (base b = 4 + 3 * (i - 1)):
--   KEYS[b+1] seen SET of its rank   KEYS[b+2] its target: snapshots HASH (sketch, owners = 1) or
--   partials HASH (sketch, owners > 1), else the meta HASH   KEYS[b+3] series HASH of its group
-- ARGV[1] now   ARGV[2] assembly deadline   ARGV[3] gap deadline   ARGV[4] scalar retention
-- ARGV[5] run id   ARGV[6] this analyzer's name   ARGV[7] lease in ms (0: no ownership)
-- then nine fields per message i (base a = 7 + 9 * (i - 1)):
--   kind, rank, seq, dropped ('' when absent), group, f1, f2, f3, f4 where by kind
--   start    project, world, config JSON, d ('' when unknown)
--   sketch   index, owners, d, snapshot blob
--   scalars  step, member JSON
--   finish   status (finished | failed), base ('' when absent)
--   heartbeat base ('' when absent): the sender's first sequence number
-- Ownership: while another analyzer's lease on the run is live, nothing is applied and every
-- message gets {-3, the lease's remaining ms}; otherwise, when the run exists afterwards, the
-- lease is taken or renewed for ARGV[7] ms.
-- Returns two values per message: {code, extra}, then the earliest score of the run's deadlines
-- ZSET ('' when empty), for the global deadline index. code 1 applied, 0 duplicate, 2 late (a sketch
-- for a snapshot the series already passed or assembled: recorded as seen, data dropped),
-- -1 unknown run, -2 dimension mismatch. extra: start -> the run's created_at; sketch with one
-- owner -> bit 0: it is the series' next snapshot, bit 1: this message's data was stored (not
-- when the index already held a snapshot); sketch with owners > 1 -> partials held.
-- Sequence numbers at or below the meta field `low:<rank>` are applied; the seen SET keeps the
-- ones above it, and the watermark advances over consecutive ones (memory stays bounded). Senders
-- number from a clock-derived `base`, which their heartbeats and finish carry: the watermark then
-- jumps to base - 1 (nothing of this sender lies below it) and the seen SET is compacted.
-- The START that creates a run sets the meta field `empty`; the first sketch or scalars applied
-- (late ones too) deletes it, so only a run no data ever reached carries it (see remove_empty.lua).

local meta, deadlines, scalars, owner = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, assembly_at, gap_at, keep_scalars = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local me, lease, count = ARGV[6], tonumber(ARGV[7]), (#KEYS - 4) / 3

local function earliest()
  local first = redis.call('ZRANGE', deadlines, 0, 0, 'WITHSCORES')
  return first[2] or ''
end

if lease > 0 then
  local holder = redis.call('GET', owner)
  if holder and holder ~= me then
    local left, refused = redis.call('PTTL', owner), {}
    for _ = 1, count do
      refused[#refused + 1] = -3
      refused[#refused + 1] = left
    end
    refused[#refused + 1] = earliest()
    return refused
  end
end

local exists = redis.call('EXISTS', meta) == 1
local d = redis.call('HGET', meta, 'd')
local state = redis.call('HGET', meta, 'state')
local lows, sizes, frontiers, touched, fed = {}, {}, {}, false, false
local out = {}

-- Per-rank watermarks, seen-set sizes and per-series frontiers are read once per batch.
local function low_of(seen, rank)
  if lows[rank] == nil then
    lows[rank] = tonumber(redis.call('HGET', meta, 'low:' .. rank) or '-1')
    sizes[seen] = redis.call('SCARD', seen)
  end
  return lows[rank]
end

local function is_seen(seen, rank, seq)
  return tonumber(seq) <= low_of(seen, rank) or redis.call('SISMEMBER', seen, seq) == 1
end

-- Take the consecutive seqs above `low` out of `seen`; the highest becomes the rank's low.
local function settle(seen, rank, low)
  while sizes[seen] > 0 and redis.call('SREM', seen, string.format('%d', low + 1)) == 1 do
    low = low + 1
    sizes[seen] = sizes[seen] - 1
  end
  lows[rank] = low
end

local function mark_seen(seen, rank, seq)
  local low, n = low_of(seen, rank), tonumber(seq)
  if n ~= low + 1 then
    redis.call('SADD', seen, seq)
    sizes[seen] = sizes[seen] + 1
    return
  end
  settle(seen, rank, n)
end

local function raise_low(seen, rank, base)
  local floor = tonumber(base)
  if floor == nil or low_of(seen, rank) >= floor - 1 then
    return
  end
  local low = floor - 1
  for _, member in ipairs(redis.call('SMEMBERS', seen)) do
    if tonumber(member) <= low then
      redis.call('SREM', seen, member)
      sizes[seen] = sizes[seen] - 1
    end
  end
  settle(seen, rank, low)
end

local function frontier(series)
  if frontiers[series] == nil then
    frontiers[series] = tonumber(redis.call('HGET', series, 'frontier') or '-1')
  end
  return frontiers[series]
end

local function start(a)
  redis.call('HSETNX', meta, 'created_at', now)
  redis.call('HSET', meta, 'run_id', ARGV[5], 'project', ARGV[a + 6], 'world', ARGV[a + 7],
    'config', ARGV[a + 8], 'state', 'running')
  if ARGV[a + 9] ~= '' then
    redis.call('HSET', meta, 'd', ARGV[a + 9])
    d = ARGV[a + 9]
  end
  redis.call('HDEL', meta, 'finished_at')
  if not exists then
    redis.call('HSET', meta, 'empty', '1')
  end
  exists, state = true, 'running'
end

local function sketch(a, target, series, group)
  local index, owners = tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7])
  if d and d ~= ARGV[a + 8] then
    return -2, 0
  end
  local f = frontier(series)
  if index <= f then
    return 2, 0
  end
  if owners == 1 then
    local stored = redis.call('HSETNX', target, ARGV[a + 6], ARGV[a + 9])
    if index > f + 1 then
      redis.call('ZADD', deadlines, 'NX', gap_at, 'gap|' .. group)
    end
    return 1, ((index == f + 1) and 1 or 0) + 2 * stored
  end
  redis.call('HSET', target, ARGV[a + 2], ARGV[a + 9])
  local member = 'part|' .. group .. '|' .. ARGV[a + 6] .. '|' .. ARGV[a + 7]
  redis.call('ZADD', deadlines, 'NX', assembly_at, member)
  return 1, redis.call('HLEN', target)
end

local function duplicate_extra(kind, a, target, series)
  if kind == 'start' then
    return redis.call('HGET', meta, 'created_at') or now
  end
  if kind ~= 'sketch' then
    return 0
  end
  local index = tonumber(ARGV[a + 6])
  if tonumber(ARGV[a + 7]) > 1 then
    return redis.call('HLEN', target)
  end
  local due = index == frontier(series) + 1 and redis.call('HEXISTS', target, ARGV[a + 6]) == 1
  return due and 1 or 0
end

local function touch(kind, a)
  if kind ~= 'start' and kind ~= 'finish' and state == 'crashed' then
    redis.call('HSET', meta, 'state', 'running')
    state = 'running'
  end
  if ARGV[a + 4] ~= '' then
    local field = 'dropped:' .. ARGV[a + 2]
    if tonumber(ARGV[a + 4]) > tonumber(redis.call('HGET', meta, field) or '0') then
      redis.call('HSET', meta, field, ARGV[a + 4])
    end
  end
  touched = true
  fed = fed or kind == 'sketch' or kind == 'scalars'
end

for i = 1, count do
  local b, a = 4 + 3 * (i - 1), 7 + 9 * (i - 1)
  local seen, target, series = KEYS[b + 1], KEYS[b + 2], KEYS[b + 3]
  local kind, rank, seq, group = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 5]
  local code, extra = 1, 0
  if is_seen(seen, rank, seq) then
    code, extra = 0, duplicate_extra(kind, a, target, series)
  elseif kind ~= 'start' and not exists then
    code = -1
  else
    if kind == 'start' then
      start(a)
      extra = redis.call('HGET', meta, 'created_at')
    elseif kind == 'sketch' then
      code, extra = sketch(a, target, series, group)
    elseif kind == 'scalars' then
      redis.call('ZADD', scalars, ARGV[a + 6], ARGV[a + 7])
      redis.call('ZREMRANGEBYRANK', scalars, 0, -(keep_scalars + 1))
    elseif kind == 'finish' then
      redis.call('HSET', meta, 'state', ARGV[a + 6], 'finished_at', now)
      state = ARGV[a + 6]
      raise_low(seen, rank, ARGV[a + 7])
    elseif kind == 'heartbeat' then
      raise_low(seen, rank, ARGV[a + 6])
    end
    if code >= 1 then
      touch(kind, a)
      mark_seen(seen, rank, seq)
    end
  end
  out[#out + 1] = code
  out[#out + 1] = extra
end
if exists then -- a message for an unknown run leaves no key behind
  for rank, low in pairs(lows) do
    redis.call('HSET', meta, 'low:' .. rank, string.format('%d', low))
  end
end
if touched then
  redis.call('HSET', meta, 'updated_at', now)
end
if fed then
  redis.call('HDEL', meta, 'empty')
end
if exists and lease > 0 then
  redis.call('SET', owner, me, 'PX', lease)
end
out[#out + 1] = earliest()
return out
