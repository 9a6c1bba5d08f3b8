-- release.lua: give up a run's lease if this analyzer still holds it (a clean stop hands over).
--
-- KEYS[1] run owner STRING   ARGV[1] this analyzer's name
-- Returns 1 when the lease was released, 0 when another analyzer (or none) held it.

if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
