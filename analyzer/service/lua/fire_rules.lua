-- fire_rules.lua: store user-rule states of one run, adding the alerts of the rules that fired.
--
-- KEYS[1] rule-state HASH (field -> state JSON)   KEYS[2] run alert STREAM   KEYS[3] run outbox
-- ARGV[1] alerts kept   ARGV[2..] triples: field, new state JSON, alert JSON ('' when none)
-- A field whose stored state already fired is left alone and its alert dropped, so each rule
-- fires once per field even when two analyzers race. Returns the number of alerts added.

local added = 0
for i = 2, #ARGV, 3 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  if not (old and cjson.decode(old)['fired']) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    if ARGV[i + 2] ~= '' then
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'alert', ARGV[i + 2])
      redis.call('RPUSH', KEYS[3], ARGV[i + 2])
      added = added + 1
    end
  end
end
return added
