package redisq

import "github.com/redis/go-redis/v9"

// The scripts keep every state change atomic: a job's hash, its stream entry,
// the depth counters, the results stream and the wake-up notification change
// together or not at all. Key names derived from data (a job's hash from the
// stream entry) are built from the prefix: the queue targets one Redis
// instance (or one cluster slot via a {hash tag} in the prefix).

// finishLua is shared by the scripts that give a job its final status: it
// copies the job's hash onto the results stream, adds a job with a
// callback_url to the callbacks stream (named like the results stream) and
// sets its TTLs.
const finishLua = `
local function finish(hk, results, ttl, ch, id)
  local h = redis.call('HGETALL', hk)
  redis.call('XADD', results, '*', unpack(h))
  if redis.call('HGET', hk, 'cb') == '1' then
    redis.call('XADD', string.sub(results, 1, -8) .. 'callbacks', '*', 'id', id)
  end
  redis.call('EXPIRE', hk, ttl)
  local idem = redis.call('HGET', hk, 'idem')
  if idem then redis.call('EXPIRE', idem, ttl) end
  redis.call('PUBLISH', ch, id)
end
`

// recordLua appends one attempt (JSON) to a job's history, keeping the last
// keep.
const recordLua = `
local function record(hk, rec, keep)
  local raw = redis.call('HGET', hk, 'hist')
  local hist = {}
  if raw and raw ~= '' then hist = cjson.decode(raw) end
  table.insert(hist, cjson.decode(rec))
  while #hist > tonumber(keep) do table.remove(hist, 1) end
  redis.call('HSET', hk, 'hist', cjson.encode(hist))
end
`

// enqueue: KEYS hash, stream, depth, idem; ARGV id, req, prio, now, max,
// channel, hasIdem, hasCallback. Waiting leasers are woken only when the queue was
// empty: a leaser sleeps only after it saw an empty queue.
var enqueueScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return {'ok', ''} end -- a retried call
if ARGV[7] == '1' then
  local ex = redis.call('GET', KEYS[4])
  if ex then return {'dup', ex} end
end
local d = redis.call('HMGET', KEYS[3], 'high', 'normal', 'low')
local n = 0
for _, v in ipairs(d) do if v then n = n + tonumber(v) end end
local max = tonumber(ARGV[5])
if max > 0 and n >= max then return {'full'} end
local e = redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'req', ARGV[2], 'prio', ARGV[3], 'status', 'queued',
  'att', 0, 'fails', 0, 'entry', e, 'created', ARGV[4], 'updated', ARGV[4], 'queued', ARGV[4])
if ARGV[7] == '1' then
  redis.call('SET', KEYS[4], ARGV[1])
  redis.call('HSET', KEYS[1], 'idem', KEYS[4])
end
if ARGV[8] == '1' then redis.call('HSET', KEYS[1], 'cb', '1') end
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
if n <= 0 then redis.call('PUBLISH', ARGV[6], '') end
return {'ok', e}
`)

// lease: KEYS streams high, normal, low, depth, results, dead, delayed;
// ARGV jobPrefix, group, consumer, visibilityMs, now, token, maxDeliveries,
// channel, deadTTL, worker, scanEveryMs, historyKeep.
//
// A handed-back entry (released, or its lease expired) stays pending with
// its idle time set to 1e9 ms, so XPENDING IDLE finds it in order.
// The depth hash counts per priority the queued jobs (high, normal, low),
// of which rel:<prio> are handed-back pending entries, and the leased ones.
// Every scanEveryMs one lease also scans for expired deliveries (handing
// them back, or dead-lettering them) and trims consumed stream entries.
var leaseScript = redis.NewScript(finishLua + recordLua + `
local prios = {'high', 'normal', 'low'}
local now, group, consumer = tonumber(ARGV[5]), ARGV[2], ARGV[3]
local D = KEYS[4]
-- Jobs handed back by Retry whose back-off is over join their stream.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('ZREM', KEYS[7], id)
  local hk = ARGV[1] .. id
  local h = redis.call('HMGET', hk, 'status', 'prio', 'delayed')
  if h[1] == 'queued' and h[3] == '1' then
    for i = 1, 3 do
      if prios[i] == h[2] then
        local e = redis.call('XADD', KEYS[i], '*', 'id', id)
        redis.call('HSET', hk, 'entry', e, 'queued', now)
        redis.call('HDEL', hk, 'delayed')
        redis.call('HINCRBY', D, h[2], 1)
      end
    end
  end
end
local d = redis.call('HMGET', D, 'high', 'normal', 'low', 'rel:high', 'rel:normal', 'rel:low', 'scan', 'n', 'leased')
local n = tonumber(d[8] or 0) + 1
local leased = tonumber(d[9] or 0)
local depth, rel = {}, {}
for i = 1, 3 do
  depth[i] = tonumber(d[i] or 0)
  rel[i] = tonumber(d[i + 3] or 0)
end

local function drop(s, eid)
  redis.call('XACK', s, group, eid)
  redis.call('XDEL', s, eid)
end

local function entryJob(s, eid)
  local r = redis.call('XRANGE', s, eid, eid)
  local id = r[1] and r[1][2][2]
  return id, id and (ARGV[1] .. id)
end

if now >= tonumber(d[7] or 0) then
  redis.call('HSET', D, 'scan', now + tonumber(ARGV[11]))
  local woke = false
  for i = 1, 3 do
    local s, prio = KEYS[i], prios[i]
    local p = redis.call('XPENDING', s, group, 'IDLE', ARGV[4], '-', '+', 200)
    for _, e in ipairs(p) do
      local eid = e[1]
      local id, hk = entryJob(s, eid)
      local h = hk and redis.call('HMGET', hk, 'status', 'entry') or {}
      if h[1] == 'running' and h[2] == eid then
        redis.call('HINCRBY', D, 'leased', -1)
        leased = leased - 1
        local fails = redis.call('HINCRBY', hk, 'fails', 1)
        local att = redis.call('HGET', hk, 'att')
        record(hk, cjson.encode({n = tonumber(att or 0), at_ms = now, outcome = 'lease_expired'}), ARGV[12])
        if fails >= tonumber(ARGV[7]) then
          local msg = string.format("job was delivered %d times and every delivery's lease expired without a result " ..
            "(the worker died or stopped heartbeating); moved to the dead-letter list", fails)
          redis.call('HSET', hk, 'status', 'internal_error', 'updated', now, 'finished', now, 'dead', '1',
            'result', cjson.encode({status = 'internal_error', message = msg}))
          drop(s, eid)
          redis.call('ZADD', KEYS[6], now, id)
          finish(hk, KEYS[5], ARGV[9], ARGV[8], id)
        else
          redis.call('XCLAIM', s, group, consumer, 0, eid, 'IDLE', 1000000000, 'JUSTID')
          redis.call('HSET', hk, 'status', 'queued', 'tok', '', 'rel', '1', 'updated', now, 'queued', now)
          redis.call('HINCRBY', D, prio, 1)
          redis.call('HINCRBY', D, 'rel:' .. prio, 1)
          depth[i], rel[i] = depth[i] + 1, rel[i] + 1
          redis.call('PUBLISH', ARGV[8], id)
          woke = true
        end
      elseif h[1] ~= 'queued' then
        drop(s, eid) -- stale: job gone or final
      end
    end
    -- Trim entries every consumer is done with.
    local sum = redis.call('XPENDING', s, group)
    local minid = sum[2]
    if not minid then
      for _, g in ipairs(redis.call('XINFO', 'GROUPS', s)) do
        local name, last
        for k = 1, #g, 2 do
          if g[k] == 'name' then name = g[k + 1] elseif g[k] == 'last-delivered-id' then last = g[k + 1] end
        end
        if name == group then minid = last end
      end
    end
    if minid then redis.call('XTRIM', s, 'MINID', '~', minid) end
  end
  if woke then redis.call('PUBLISH', ARGV[8], '') end
end

-- grant leases the job; h is its HMGET status, entry, att, req, queued,
-- created, xfails.
local function grant(hk, id, eid, i, released, h)
  local att = tonumber(h[3] or 0) + 1
  redis.call('HSET', hk, 'status', 'running', 'tok', ARGV[6], 'updated', now, 'worker', ARGV[10], 'entry', eid, 'att', att)
  local dd = {prios[i], depth[i] - 1, 'leased', leased + 1, 'n', n}
  if released then
    redis.call('HDEL', hk, 'rel')
    dd[#dd + 1], dd[#dd + 2] = 'rel:' .. prios[i], rel[i] - 1
  end
  redis.call('HSET', D, unpack(dd))
  redis.call('PUBLISH', ARGV[8], id)
  return {id, h[4], att, h[5] or '0', h[6] or '0', tonumber(h[7] or 0)}
end

local order = {1, 2, 3}
if n % 10 == 0 then order = {3, 1, 2} elseif n % 5 == 0 then order = {2, 1, 3} end
for _, i in ipairs(order) do
  local s = KEYS[i]
  -- Handed-back jobs first, in their original order.
  while rel[i] > 0 do
    local p = redis.call('XPENDING', s, group, 'IDLE', 999999000, '-', '+', 1)
    if #p == 0 then
      redis.call('HSET', D, 'rel:' .. prios[i], 0) -- counter drifted; repair
      rel[i] = 0
      break
    end
    local eid = p[1][1]
    local id, hk = entryJob(s, eid)
    local h = hk and redis.call('HMGET', hk, 'status', 'entry', 'att', 'req', 'queued', 'created', 'xfails') or {}
    if h[1] == 'queued' and h[2] == eid then
      redis.call('XCLAIM', s, group, consumer, 0, eid, 'JUSTID')
      return grant(hk, id, eid, i, true, h)
    end
    drop(s, eid)
    redis.call('HINCRBY', D, 'rel:' .. prios[i], -1)
    rel[i] = rel[i] - 1
  end
  -- Then new jobs, oldest first.
  while depth[i] - rel[i] > 0 do
    local r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 1, 'STREAMS', s, '>')
    if not r then
      redis.call('HSET', D, prios[i], rel[i]) -- counter drifted; repair
      break
    end
    local ent = r[1][2][1]
    local eid, f = ent[1], ent[2]
    local id = f and f[2]
    local hk = id and (ARGV[1] .. id)
    local h = hk and redis.call('HMGET', hk, 'status', 'entry', 'att', 'req', 'queued', 'created', 'xfails') or {}
    if h[1] == 'queued' and h[2] == eid then return grant(hk, id, eid, i, false, h) end
    drop(s, eid)
  end
end
redis.call('HSET', D, 'n', n)
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
-- The entry is trimmed later (lease scan), which is cheaper than XDEL now.
redis.call('XACK', ARGV[2] .. h[4], ARGV[3], h[3])
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
redis.call('HSET', KEYS[1], 'status', 'queued', 'tok', '', 'rel', '1', 'updated', ARGV[5], 'queued', ARGV[5])
redis.call('HINCRBY', KEYS[2], h[4], 1)
redis.call('HINCRBY', KEYS[2], 'rel:' .. h[4], 1)
redis.call('HINCRBY', KEYS[2], 'leased', -1)
redis.call('PUBLISH', ARGV[6], '')
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 'ok'
`)

// retry: KEYS hash, depth, delayed; ARGV token, streamPrefix, group, now,
// readyAt, attempt, counted, historyKeep, channel, id. The stream entry goes
// (a new one is added when the back-off is over, by Lease).
var retryScript = redis.NewScript(recordLua + `
local h = redis.call('HMGET', KEYS[1], 'status', 'tok', 'entry', 'prio')
if not h[1] or h[2] ~= ARGV[1] then return 'lost' end
if h[1] == 'canceled' then return 'canceled' end
if h[1] ~= 'running' then return 'lost' end
local s = ARGV[2] .. h[4]
redis.call('XACK', s, ARGV[3], h[3])
redis.call('XDEL', s, h[3])
redis.call('HINCRBY', KEYS[2], 'leased', -1)
redis.call('HSET', KEYS[1], 'status', 'queued', 'tok', '', 'delayed', '1', 'updated', ARGV[4])
if ARGV[7] == '1' then redis.call('HINCRBY', KEYS[1], 'xfails', 1) end
record(KEYS[1], ARGV[6], ARGV[8])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[10])
redis.call('PUBLISH', ARGV[9], ARGV[10])
return 'ok'
`)

// fail: KEYS hash, depth, results, dead; ARGV token, streamPrefix, group,
// result, status, now, ttl, channel, id, attempt, historyKeep.
var failScript = redis.NewScript(finishLua + recordLua + `
local h = redis.call('HMGET', KEYS[1], 'status', 'tok', 'entry', 'prio')
if not h[1] or h[2] ~= ARGV[1] then return 'lost' end
if h[1] == 'canceled' then return 'canceled' end
if h[1] ~= 'running' then return 'lost' end
local s = ARGV[2] .. h[4]
redis.call('XACK', s, ARGV[3], h[3])
redis.call('XDEL', s, h[3])
redis.call('HINCRBY', KEYS[2], 'leased', -1)
record(KEYS[1], ARGV[10], ARGV[11])
redis.call('HSET', KEYS[1], 'status', ARGV[5], 'result', ARGV[4], 'updated', ARGV[6], 'finished', ARGV[6], 'dead', '1')
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[9])
finish(KEYS[1], KEYS[3], ARGV[7], ARGV[8], ARGV[9])
return 'ok'
`)

// cancel: KEYS hash, depth, results, delayed; ARGV streamPrefix, group, now,
// result, ttl, channel, id.
var cancelScript = redis.NewScript(finishLua + `
local h = redis.call('HMGET', KEYS[1], 'status', 'entry', 'prio', 'rel', 'delayed')
if not h[1] then return {'notfound'} end
if h[1] == 'queued' and h[5] == '1' then
  redis.call('ZREM', KEYS[4], ARGV[7])
  redis.call('HDEL', KEYS[1], 'delayed')
elseif h[1] == 'queued' then
  redis.call('HINCRBY', KEYS[2], h[3], -1)
  if h[4] == '1' then
    redis.call('HINCRBY', KEYS[2], 'rel:' .. h[3], -1)
    redis.call('HDEL', KEYS[1], 'rel')
  end
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
redis.call('HSET', KEYS[1], 'status', 'queued', 'entry', e, 'updated', ARGV[2], 'queued', ARGV[2], 'fails', 0, 'xfails', 0, 'tok', '')
redis.call('HDEL', KEYS[1], 'result', 'finished', 'dead', 'rel', 'delayed')
redis.call('PERSIST', KEYS[1])
local idem = redis.call('HGET', KEYS[1], 'idem')
if idem then redis.call('PERSIST', idem) end
redis.call('HINCRBY', KEYS[2], prio, 1)
redis.call('PUBLISH', ARGV[3], '')
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 'ok'
`)

// recordCallback: KEYS hash; ARGV state. A job that is gone stays gone.
var recordCallbackScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'cbst', ARGV[1])
return 1
`)
