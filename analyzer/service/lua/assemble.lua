-- assemble.lua: store the sum of a snapshot's partial sketches as its complete snapshot.
--
-- KEYS[1] partials HASH of the snapshot   KEYS[2] snapshots HASH of the series
-- KEYS[3] series HASH                     KEYS[4] run deadlines ZSET
-- ARGV[1] snapshot index   ARGV[2] summed snapshot blob   ARGV[3] how many partials were summed
-- ARGV[4] the deadline member `part|<group>|<index>|<owners>`   ARGV[5] gap deadline   ARGV[6] group
-- Returns 2 when stored and it is the series' next snapshot, 1 when stored, 0 when the snapshot
-- was already assembled or passed (partials dropped), -1 when the partials changed meanwhile.

local parts, snaps, series, deadlines = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local index = tonumber(ARGV[1])
local frontier = tonumber(redis.call('HGET', series, 'frontier') or '-1')
if index <= frontier or redis.call('HEXISTS', snaps, ARGV[1]) == 1 then
  redis.call('DEL', parts)
  redis.call('ZREM', deadlines, ARGV[4])
  return 0
end
if redis.call('HLEN', parts) ~= tonumber(ARGV[3]) then
  return -1
end
redis.call('HSET', snaps, ARGV[1], ARGV[2])
redis.call('DEL', parts)
redis.call('ZREM', deadlines, ARGV[4])
if index == frontier + 1 then
  return 2
end
redis.call('ZADD', deadlines, 'NX', ARGV[5], 'gap|' .. ARGV[6])
return 1
