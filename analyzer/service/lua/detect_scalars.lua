-- detect_scalars.lua: compare-and-set a run's scalar-detector state with the alerts it raised.
--
-- KEYS[1] scalar-detectors HASH (fields v, state)   KEYS[2] run alert STREAM   KEYS[3] run outbox
-- ARGV[1] expected version ('0' before the first)   ARGV[2] new state   ARGV[3] alerts kept
-- ARGV[4..] alert JSON documents, each added to the run's stream and outbox
-- Returns 1 when swapped, -1 when the version moved (nothing written).

local version = redis.call('HGET', KEYS[1], 'v') or '0'
if version ~= ARGV[1] then
  return -1
end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(version) + 1), 'state', ARGV[2])
for i = 4, #ARGV do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'alert', ARGV[i])
  redis.call('RPUSH', KEYS[3], ARGV[i])
end
return 1
