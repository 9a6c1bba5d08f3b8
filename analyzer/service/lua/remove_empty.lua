-- remove_empty.lua: delete a run that no data ever reached, unless it spoke since the sweep read it.
--
-- KEYS[1] run meta HASH   KEYS[2] run owner STRING (its lease)
-- KEYS[3..] the seen SET of each rank that has a `low:<rank>` meta field
-- ARGV[1] the updated_at the sweep read (before it read the fields that named KEYS[3..])
-- The meta field `empty` (see apply.lua) marks a run no sketch or scalars reached. Every other
-- per-run key is written only after such data, so the meta, the lease and the seen SETs are all
-- it holds;
-- an unchanged updated_at means no message, hence no new rank, arrived since they were read.
-- Returns 1 when the run was deleted, 0 otherwise.

if redis.call('HEXISTS', KEYS[1], 'empty') == 0 then
  return 0
end
if redis.call('HGET', KEYS[1], 'updated_at') ~= ARGV[1] then
  return 0
end
redis.call('DEL', unpack(KEYS))
return 1
