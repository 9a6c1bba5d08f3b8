-- advance_detector.lua: compare-and-set a detector's state and publish the alerts it raised.
--
-- KEYS[1] detector STRING of the series   KEYS[2] the run's alert STREAM
-- KEYS[3] global alert STREAM (se:alerts)
-- ARGV[1] expected current state ('' when none is stored)   ARGV[2] new state
-- ARGV[3..] alert JSON documents, each added to both streams under the field 'alert'
-- Returns 1 when the state was swapped (and the alerts added), 0 when another writer got there first.
-- Note: KEYS[3] is a global key, so on Redis Cluster this script needs a single-slot layout.

local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
for i = 3, #ARGV do
  redis.call('XADD', KEYS[2], '*', 'alert', ARGV[i])
  redis.call('XADD', KEYS[3], '*', 'alert', ARGV[i])
end
return 1
