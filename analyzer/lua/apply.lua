-- apply.lua: apply one producer message at most once per (run, rank, seq).
--
-- KEYS[1] seen SET of the (run, rank) stream      KEYS[2] run meta HASH
-- KEYS[3] run registry ZSET (se:runs)             KEYS[4] the kind's target: snapshots HASH
--         (sketch, owners = 1), partials HASH (sketch, owners > 1), scalars ZSET; unused otherwise
-- KEYS[5] steps HASH (sketch); unused otherwise
-- ARGV[1] seq   ARGV[2] kind   ARGV[3] run id   ARGV[4] now (unix seconds)   ARGV[5] rank
-- ARGV[6] the sender's dropped count, '' when absent
-- ARGV[7..] by kind:
--   start    project, world, config JSON, d ('' when unknown)
--   sketch   index, step, owners, d, payload (float64 bytes)
--   scalars  step, member JSON
--   finish   status (finished | failed)
-- Returns {code, n}: code 1 applied, 0 duplicate, -1 unknown run, -2 dimension mismatch;
-- n is how many partial sketches the snapshot holds now (sketch with owners > 1), else 0.
-- Note: KEYS[3] is a global key, so on Redis Cluster this script needs a single-slot layout.

local seen, meta = KEYS[1], KEYS[2]
local seq, kind, run, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

if redis.call('SISMEMBER', seen, seq) == 1 then
  return {0, 0}
end
if kind ~= 'start' and redis.call('EXISTS', meta) == 0 then
  return {-1, 0}
end

local n = 0
if kind == 'start' then
  redis.call('HSETNX', meta, 'created_at', now)
  redis.call('HSET', meta, 'run_id', run, 'project', ARGV[7], 'world', ARGV[8],
    'config', ARGV[9], 'state', 'running')
  if ARGV[10] ~= '' then
    redis.call('HSET', meta, 'd', ARGV[10])
  end
  redis.call('HDEL', meta, 'finished_at')
  redis.call('ZADD', KEYS[3], 'NX', redis.call('HGET', meta, 'created_at'), run)
elseif kind == 'sketch' then
  local d = redis.call('HGET', meta, 'd')
  if d and d ~= ARGV[10] then
    return {-2, 0}
  end
  if tonumber(ARGV[9]) == 1 then
    redis.call('HSETNX', KEYS[4], ARGV[7], ARGV[11])
  else
    redis.call('HSET', KEYS[4], ARGV[5], ARGV[11])
    n = redis.call('HLEN', KEYS[4])
  end
  redis.call('HSET', KEYS[5], ARGV[7], ARGV[8])
elseif kind == 'scalars' then
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[8])
elseif kind == 'finish' then
  redis.call('HSET', meta, 'state', ARGV[7], 'finished_at', now)
end

if kind ~= 'start' and kind ~= 'finish' and redis.call('HGET', meta, 'state') == 'crashed' then
  redis.call('HSET', meta, 'state', 'running')
end
if ARGV[6] ~= '' then
  local field = 'dropped:' .. ARGV[5]
  local old = tonumber(redis.call('HGET', meta, field) or '0')
  if tonumber(ARGV[6]) > old then
    redis.call('HSET', meta, field, ARGV[6])
  end
end
redis.call('SADD', seen, seq)
redis.call('HSET', meta, 'updated_at', now)
return {1, n}
