-- mark_crashed.lua: mark a running run crashed unless a message arrived since the sweep looked.
--
-- KEYS[1] run meta HASH
-- ARGV[1] the updated_at the sweep judged stale
-- Returns 1 when the run was marked crashed, 0 otherwise.

if redis.call('HGET', KEYS[1], 'state') ~= 'running' then
  return 0
end
if redis.call('HGET', KEYS[1], 'updated_at') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'crashed')
return 1
