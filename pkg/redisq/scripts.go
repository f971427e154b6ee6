package redisq

import "github.com/redis/go-redis/v9"

// The scripts keep every state change atomic: a job's hash, its stream entry,
// the depth counters, the results stream and the wake-up notification change
// together or not at all. Key names derived from data (a job's hash from the
// stream entry) are built from the prefix: the queue targets one Redis
// instance (or one cluster slot via a {hash tag} in the prefix).

// finishLua is shared by the scripts that give a job its final status: it
// copies the job's hash onto the results stream and sets its TTLs.
const finishLua = `
local function finish(hk, results, ttl, ch, id)
  local h = redis.call('HGETALL', hk)
  redis.call('XADD', results, '*', unpack(h))
  redis.call('EXPIRE', hk, ttl)
  local idem = redis.call('HGET', hk, 'idem')
  if idem then redis.call('EXPIRE', idem, ttl) end
  redis.call('PUBLISH', ch, id)
end
`

// enqueue: KEYS hash, stream, depth, idem; ARGV id, req, prio, now, max,
// channel, hasIdem.
var enqueueScript = redis.NewScript(`
if ARGV[7] == '1' then
  local ex = redis.call('GET', KEYS[4])
  if ex then return {'dup', ex} end
end
local max = tonumber(ARGV[5])
if max > 0 then
  local d = redis.call('HMGET', KEYS[3], 'high', 'normal', 'low')
  local n = 0
  for _, v in ipairs(d) do if v then n = n + tonumber(v) end end
  if n >= max then return {'full'} end
end
local e = redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'req', ARGV[2], 'prio', ARGV[3], 'status', 'queued',
  'att', 0, 'fails', 0, 'entry', e, 'created', ARGV[4], 'updated', ARGV[4], 'queued', ARGV[4])
if ARGV[7] == '1' then
  redis.call('SET', KEYS[4], ARGV[1])
  redis.call('HSET', KEYS[1], 'idem', KEYS[4])
end
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('PUBLISH', ARGV[6], '')
return {'ok', e}
`)

// lease: KEYS streams high, normal, low, depth, counter, results, dead;
// ARGV jobPrefix, group, consumer, visibilityMs, now, token, maxDeliveries,
// channel, deadTTL, worker.
var leaseScript = redis.NewScript(finishLua + `
local prios = {'high', 'normal', 'low'}
local n = redis.call('INCR', KEYS[5])
local order = {1, 2, 3}
if n % 10 == 0 then order = {3, 1, 2} elseif n % 5 == 0 then order = {2, 1, 3} end
local now, group, consumer = ARGV[5], ARGV[2], ARGV[3]

local function drop(s, eid)
  redis.call('XACK', s, group, eid)
  redis.call('XDEL', s, eid)
end

local function grant(hk, id, eid, prio, fromQueue)
  local att = redis.call('HINCRBY', hk, 'att', 1)
  redis.call('HSET', hk, 'status', 'running', 'tok', ARGV[6], 'updated', now, 'worker', ARGV[10], 'entry', eid)
  if fromQueue then
    redis.call('HINCRBY', KEYS[4], prio, -1)
    redis.call('HINCRBY', KEYS[4], 'leased', 1)
  end
  redis.call('PUBLISH', ARGV[8], id)
  local h = redis.call('HMGET', hk, 'req', 'queued')
  return {id, h[1], att, h[2] or '0', n}
end

for _, i in ipairs(order) do
  local s, prio = KEYS[i], prios[i]
  -- Deliveries whose lease expired, and released jobs, come first.
  while true do
    local p = redis.call('XPENDING', s, group, 'IDLE', ARGV[4], '-', '+', 1)
    if #p == 0 then break end
    local eid = p[1][1]
    redis.call('XCLAIM', s, group, consumer, 0, eid, 'JUSTID')
    local r = redis.call('XRANGE', s, eid, eid)
    local id = r[1] and r[1][2][2]
    local hk = id and (ARGV[1] .. id)
    local st = hk and redis.call('HGET', hk, 'status')
    if st == 'queued' then
      return grant(hk, id, eid, prio, true)
    elseif st == 'running' and redis.call('HGET', hk, 'entry') == eid then
      local fails = redis.call('HINCRBY', hk, 'fails', 1)
      if fails < tonumber(ARGV[7]) then
        return grant(hk, id, eid, prio, false)
      end
      local msg = string.format("job was delivered %d times and every delivery's lease expired without a result " ..
        "(the worker died or stopped heartbeating); moved to the dead-letter list", fails)
      redis.call('HSET', hk, 'status', 'internal_error', 'updated', now, 'finished', now, 'dead', '1',
        'result', cjson.encode({status = 'internal_error', message = msg}))
      drop(s, eid)
      redis.call('HINCRBY', KEYS[4], 'leased', -1)
      redis.call('ZADD', KEYS[7], now, id)
      finish(hk, KEYS[6], ARGV[9], ARGV[8], id)
    else
      drop(s, eid) -- stale entry: job gone or already final
    end
  end
  -- Then new jobs, oldest first.
  while true do
    local r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 1, 'STREAMS', s, '>')
    if not r then break end
    local ent = r[1][2][1]
    local eid, f = ent[1], ent[2]
    local id = f and f[2]
    local hk = id and (ARGV[1] .. id)
    if hk and redis.call('HGET', hk, 'status') == 'queued' and redis.call('HGET', hk, 'entry') == eid then
      return grant(hk, id, eid, prio, true)
    end
    drop(s, eid)
  end
end
return false
`)

// extend: KEYS hash; ARGV token, streamPrefix, group, consumer.
var extendScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'status', 'tok', 'entry', 'prio')
if not h[1] or h[2] ~= ARGV[1] then return 'lost' end
if h[1] == 'canceled' then return 'canceled' end
if h[1] ~= 'running' then return 'lost' end
redis.call('XCLAIM', ARGV[2] .. h[4], ARGV[3], ARGV[4], 0, h[3], 'JUSTID')
return 'ok'
`)

// complete: KEYS hash, depth, results; ARGV token, streamPrefix, group,
// result, status, now, ttl, channel, id.
var completeScript = redis.NewScript(finishLua + `
local h = redis.call('HMGET', KEYS[1], 'status', 'tok', 'entry', 'prio')
if not h[1] or h[2] ~= ARGV[1] then return 'lost' end
if h[1] == 'canceled' then return 'canceled' end
if h[1] ~= 'running' then return 'lost' end
local s = ARGV[2] .. h[4]
redis.call('XACK', s, ARGV[3], h[3])
redis.call('XDEL', s, h[3])
redis.call('HINCRBY', KEYS[2], 'leased', -1)
redis.call('HSET', KEYS[1], 'status', ARGV[5], 'result', ARGV[4], 'updated', ARGV[6], 'finished', ARGV[6])
finish(KEYS[1], KEYS[3], ARGV[7], ARGV[8], ARGV[9])
return 'ok'
`)

// release: KEYS hash, depth; ARGV token, streamPrefix, group, consumer, now,
// channel, id.
var releaseScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'status', 'tok', 'entry', 'prio')
if not h[1] or h[2] ~= ARGV[1] then return 'lost' end
if h[1] == 'canceled' then return 'canceled' end
if h[1] ~= 'running' then return 'lost' end
-- Mark the pending entry long idle so the next Lease takes it at once,
-- ahead of newer jobs of its priority.
redis.call('XCLAIM', ARGV[2] .. h[4], ARGV[3], ARGV[4], 0, h[3], 'IDLE', 1000000000, 'JUSTID')
redis.call('HSET', KEYS[1], 'status', 'queued', 'tok', '', 'updated', ARGV[5], 'queued', ARGV[5])
redis.call('HINCRBY', KEYS[2], h[4], 1)
redis.call('HINCRBY', KEYS[2], 'leased', -1)
redis.call('PUBLISH', ARGV[6], '')
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 'ok'
`)

// cancel: KEYS hash, depth, results; ARGV streamPrefix, group, now, result,
// ttl, channel, id.
var cancelScript = redis.NewScript(finishLua + `
local h = redis.call('HMGET', KEYS[1], 'status', 'entry', 'prio')
if not h[1] then return {'notfound'} end
if h[1] == 'queued' then
  redis.call('HINCRBY', KEYS[2], h[3], -1)
elseif h[1] == 'running' then
  redis.call('HINCRBY', KEYS[2], 'leased', -1)
else
  return {'final', redis.call('HGETALL', KEYS[1])}
end
local s = ARGV[1] .. h[3]
redis.call('XACK', s, ARGV[2], h[2])
redis.call('XDEL', s, h[2])
redis.call('HSET', KEYS[1], 'status', 'canceled', 'result', ARGV[4], 'updated', ARGV[3], 'finished', ARGV[3])
finish(KEYS[1], KEYS[3], ARGV[5], ARGV[6], ARGV[7])
return {'ok', redis.call('HGETALL', KEYS[1])}
`)

// requeue: KEYS hash, depth, dead; ARGV streamPrefix, now, channel, id.
var requeueScript = redis.NewScript(`
if redis.call('ZREM', KEYS[3], ARGV[4]) == 0 then return 'notfound' end
local prio = redis.call('HGET', KEYS[1], 'prio')
if not prio then return 'notfound' end
local e = redis.call('XADD', ARGV[1] .. prio, '*', 'id', ARGV[4])
redis.call('HSET', KEYS[1], 'status', 'queued', 'entry', e, 'updated', ARGV[2], 'queued', ARGV[2], 'fails', 0, 'tok', '')
redis.call('HDEL', KEYS[1], 'result', 'finished', 'dead')
redis.call('PERSIST', KEYS[1])
local idem = redis.call('HGET', KEYS[1], 'idem')
if idem then redis.call('PERSIST', idem) end
redis.call('HINCRBY', KEYS[2], prio, 1)
redis.call('PUBLISH', ARGV[3], '')
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 'ok'
`)
