-- record_window.lua: store one window's metric record exactly once.
--
-- KEYS[1] windows HASH of the series (window-end index -> step): the exactly-once marker
-- KEYS[2] metrics ZSET of the series (record JSON scored by step)
-- ARGV[1] window-end index   ARGV[2] step   ARGV[3] record JSON
-- Returns 1 when this call recorded the window, 0 when it was recorded before.

if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
