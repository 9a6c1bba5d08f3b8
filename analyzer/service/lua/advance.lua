-- advance.lua: compare-and-set one series' state together with everything its advance produced.
--
-- KEYS[1] series HASH   KEYS[2] snapshots HASH   KEYS[3] run deadlines ZSET
-- KEYS[4] run alert STREAM   KEYS[5] run outbox LIST
-- KEYS[6..] metrics ZSET per (window length, stride) series that gained records
-- ARGV[1] expected version ('0' before the first advance)   ARGV[2] group
-- ARGV[3] records kept per metrics ZSET   ARGV[4] alerts kept per run   ARGV[5] gap deadline
-- ARGV[6] m state field/value pairs   ARGV[7] c consumed snapshot indices   ARGV[8] a alerts
-- ARGV[9 .. 8 + w] r_k records per metrics key k (w = #KEYS - 5); then the m pairs, the c
-- indices, the a alert JSON documents, and per metrics key its r_k (score, record JSON) pairs.
-- The state pairs include `frontier`. Returns -1 when the version moved (nothing written), else
-- 2 when the snapshot after the new frontier is already stored (advance again), else 1.

local series, snaps, deadlines, stream, outbox = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local version = redis.call('HGET', series, 'v') or '0'
if version ~= ARGV[1] then
  return -1
end
local before = tonumber(redis.call('HGET', series, 'frontier') or '-1')
local w = #KEYS - 5
local m, c, a = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local p = 9 + w

redis.call('HSET', series, 'v', tostring(tonumber(version) + 1))
for i = 0, m - 1 do
  redis.call('HSET', series, ARGV[p + 2 * i], ARGV[p + 2 * i + 1])
end
p = p + 2 * m
for i = 0, c - 1 do
  redis.call('HDEL', snaps, ARGV[p + i])
end
p = p + c
for i = 0, a - 1 do
  redis.call('XADD', stream, 'MAXLEN', '~', ARGV[4], '*', 'alert', ARGV[p + i])
  redis.call('RPUSH', outbox, ARGV[p + i])
end
p = p + a
for k = 1, w do
  local r = tonumber(ARGV[8 + k])
  for i = 0, r - 1 do
    redis.call('ZADD', KEYS[5 + k], ARGV[p + 2 * i], ARGV[p + 2 * i + 1])
  end
  p = p + 2 * r
  if r > 0 then
    redis.call('ZREMRANGEBYRANK', KEYS[5 + k], 0, -(tonumber(ARGV[3]) + 1))
  end
end

local frontier = tonumber(redis.call('HGET', series, 'frontier') or '-1')
local member = 'gap|' .. ARGV[2]
if redis.call('HLEN', snaps) == 0 then
  redis.call('ZREM', deadlines, member)
elseif frontier > before then
  redis.call('ZADD', deadlines, ARGV[5], member)
else
  redis.call('ZADD', deadlines, 'NX', ARGV[5], member)
end
if redis.call('HEXISTS', snaps, string.format('%d', frontier + 1)) == 1 then
  return 2
end
return 1
