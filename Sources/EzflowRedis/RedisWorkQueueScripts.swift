// The work queue's Lua scripts (see RedisWorkQueue.swift for the layout). Every script
// starts with `lib`: ARGV[1] is the key prefix. A runtime error in a script does not
// undo its earlier writes, so each one checks before it writes and calls only commands
// whose arguments it has just read back.
import EzflowPorts

extension RedisWorkQueue {
    static let lib = """
        local P = ARGV[1]
        local function field(kv, name)
          if not kv then return nil end
          for j = 1, #kv, 2 do if kv[j] == name then return kv[j + 1] end end
          return nil
        end
        local function sname(prio, kind, queue) return P .. 'wq:s:' .. prio .. ':' .. kind .. ':' .. queue end
        local function ensure(s, queue, prio)
          if not redis.call('ZSCORE', P .. 'wq:streams', s) then
            redis.pcall('XGROUP', 'CREATE', s, 'ezflow', '0', 'MKSTREAM')
            redis.call('ZADD', P .. 'wq:streams', prio, s)
            redis.call('HSET', P .. 'wq:squeue', s, queue)
          end
        end
        local function itemfields(ik)
          return redis.call('HMGET', ik, 'run', 'task', 'attempt', 'agent', 'key', 'queue', 'prio', 'payload', 'deliveries', 'until', 'order')
        end
        local function unlist(s, sid)
          if s and s ~= '' and sid and sid ~= '' then
            redis.call('XACK', s, 'ezflow', sid); redis.call('XDEL', s, sid); redis.call('HDEL', P .. 'wq:byid', s .. ' ' .. sid)
          end
        end
        local function unlease(ik, owner)
          redis.call('ZREM', P .. 'wq:leases', ik)
          if owner and owner ~= '' then redis.call('SREM', P .. 'wq:own:' .. owner, ik) end
        end
        local function requeue(ik)
          local h = redis.call('HMGET', ik, 'stream', 'sid', 'owner', 'queue', 'prio', 'order', 'cancelled')
          unlist(h[1], h[2]); unlease(ik, h[3])
          if h[7] == '1' then
            redis.call('HSET', ik, 'state', 'dropped', 'owner', '', 'until', 0, 'stream', '', 'sid', '')
            return
          end
          local s = sname(h[5], 'r', h[4])
          ensure(s, h[4], h[5])
          local id = redis.call('XADD', s, '*', 'k', ik, 'o', h[6])
          redis.call('HSET', P .. 'wq:byid', s .. ' ' .. id, ik)
          redis.call('HSET', ik, 'state', 'queued', 'owner', '', 'until', 0, 'stream', s, 'sid', id)
        end
        local function finish(run, f, json)
          local o = redis.call('INCR', P .. 'wq:order')
          redis.call('HSET', P .. 'wq:c:' .. run, f, json)
          redis.call('ZADD', P .. 'wq:co:' .. run, o, f)
        end

        """

    /// ARGV: prefix, then (run, task, attempt, agent, key, queue, priority, payload) per item.
    static let offer = RedisScript("wqOffer", lib + """
        local n = 0
        for i = 2, #ARGV, 8 do
          local ik = P .. 'wq:i:' .. ARGV[i + 1] .. ':' .. ARGV[i + 2] .. ':' .. ARGV[i]
          if redis.call('EXISTS', ik) == 0 then
            local queue, prio = ARGV[i + 5], ARGV[i + 6]
            local order = redis.call('INCR', P .. 'wq:order')
            local s = sname(prio, 'm', queue)
            ensure(s, queue, prio)
            local id = redis.call('XADD', s, '*', 'k', ik, 'o', order)
            redis.call('HSET', ik, 'run', ARGV[i], 'task', ARGV[i + 1], 'attempt', ARGV[i + 2], 'agent', ARGV[i + 3], 'key', ARGV[i + 4],
                       'queue', queue, 'prio', prio, 'payload', ARGV[i + 7], 'state', 'queued', 'owner', '', 'until', 0, 'deliveries', 0,
                       'cancelled', 0, 'order', order, 'stream', s, 'sid', id)
            redis.call('HSET', P .. 'wq:byid', s .. ' ' .. id, ik)
            redis.call('SADD', P .. 'wq:ri:' .. ARGV[i], ik)
            redis.call('INCR', P .. 'wq:offered')
            n = n + 1
          end
        end
        return n
        """)

    /// ARGV: prefix → offered, owners, then ('q' or 'l', queue, count) per queue with
    /// queued or leased items. Queued = a stream's entries not pending (completed ones
    /// are deleted); leased = the lease records, without cancelled attempts.
    static let depth = RedisScript("wqDepth", lib + """
        local queued, leased, owners, nown = {}, {}, {}, 0
        for _, s in ipairs(redis.call('ZRANGE', P .. 'wq:streams', 0, -1)) do
          local q = redis.call('HGET', P .. 'wq:squeue', s)
          local n = redis.call('XLEN', s) - redis.call('XPENDING', s, 'ezflow')[1]
          if q and n > 0 then queued[q] = (queued[q] or 0) + n end
        end
        for _, ik in ipairs(redis.call('ZRANGE', P .. 'wq:leases', 0, -1)) do
          local h = redis.call('HMGET', ik, 'queue', 'owner', 'cancelled')
          if h[1] and h[3] ~= '1' then
            leased[h[1]] = (leased[h[1]] or 0) + 1
            if not owners[h[2]] then owners[h[2]] = true; nown = nown + 1 end
          end
        end
        local out = {redis.call('GET', P .. 'wq:offered') or '0', nown}
        for q, n in pairs(queued) do table.insert(out, 'q'); table.insert(out, q); table.insert(out, n) end
        for q, n in pairs(leased) do table.insert(out, 'l'); table.insert(out, q); table.insert(out, n) end
        return out
        """)

    /// ARGV: prefix, owner, now, lease ms, max, queues… → the leased items (`itemfields`), in claim order.
    static let claim = RedisScript("wqClaim", lib + """
        local owner, now, lease, max = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
        local want, any = {}, #ARGV < 6
        for i = 6, #ARGV do want[ARGV[i]] = true end
        local all = redis.call('ZRANGE', P .. 'wq:streams', 0, -1, 'WITHSCORES')
        local groups, prios = {}, {}
        for i = 1, #all, 2 do
          local s, pr = all[i], tonumber(all[i + 1])
          if any or want[redis.call('HGET', P .. 'wq:squeue', s)] then
            if not groups[pr] then groups[pr] = {}; table.insert(prios, pr) end
            table.insert(groups[pr], s)
          end
        end
        table.sort(prios)
        local out, left = {}, max
        for _, pr in ipairs(prios) do
          if left <= 0 then break end
          -- The undelivered heads of this priority's streams, merged by offer order.
          local heads = {}
          for _, s in ipairs(groups[pr]) do
            local last = '0-0'
            for _, g in ipairs(redis.call('XINFO', 'GROUPS', s)) do
              if field(g, 'name') == 'ezflow' then last = field(g, 'last-delivered-id') end
            end
            table.insert(heads, {s = s, e = redis.call('XRANGE', s, '(' .. last, '+', 'COUNT', left), pos = 1, n = 0})
          end
          local picked = 0
          while picked < left do
            local best, bo = nil, nil
            for _, h in ipairs(heads) do
              local e = h.e[h.pos]
              if e then
                local o = tonumber(field(e[2], 'o'))
                if not bo or o < bo then best, bo = h, o end
              end
            end
            if not best then break end
            best.pos = best.pos + 1; best.n = best.n + 1; picked = picked + 1
          end
          local got = {}
          for _, h in ipairs(heads) do
            if h.n > 0 then
              local r = redis.call('XREADGROUP', 'GROUP', 'ezflow', owner, 'COUNT', h.n, 'STREAMS', h.s, '>')
              for _, e in ipairs((r and r[1] and r[1][2]) or {}) do
                local ik = field(e[2], 'k')
                local st = ik and redis.call('HMGET', ik, 'state', 'sid') or {false, false}
                if st[1] == 'queued' and st[2] == e[1] then
                  local untilv = now + lease
                  redis.call('HINCRBY', ik, 'deliveries', 1)
                  redis.call('HSET', ik, 'state', 'leased', 'owner', owner, 'until', untilv)
                  redis.call('ZADD', P .. 'wq:leases', untilv, ik)
                  redis.call('SADD', P .. 'wq:own:' .. owner, ik)
                  table.insert(got, itemfields(ik))
                else
                  unlist(h.s, e[1])
                end
              end
            end
          end
          table.sort(got, function(a, b) return tonumber(a[11]) < tonumber(b[11]) end)
          for _, g in ipairs(got) do for _, x in ipairs(g) do table.insert(out, x) end end
          left = left - picked
        end
        return out
        """)

    /// ARGV: prefix, item key, owner, run, "task:attempt", completion → 1 if accepted.
    static let complete = RedisScript("wqComplete", lib + """
        local ik, owner, run, f, json = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
        local h = redis.call('HMGET', ik, 'state', 'owner', 'stream', 'sid')
        if h[1] ~= 'leased' or h[2] ~= owner then return 0 end
        -- XACK does not check the consumer: the PEL entry must be the owner's.
        local pend = redis.call('XPENDING', h[3], 'ezflow', h[4], h[4], 1)
        if #pend == 0 or pend[1][2] ~= owner then return 0 end
        unlist(h[3], h[4]); unlease(ik, owner)
        redis.call('HSET', ik, 'state', 'completed', 'owner', '', 'until', 0, 'stream', '', 'sid', '')
        finish(run, f, json)
        return 1
        """)

    /// ARGV: prefix, now → (item key, `itemfields`) per lease ended by `now`.
    static let expired = RedisScript("wqExpired", lib + """
        local out = {}
        for _, ik in ipairs(redis.call('ZRANGEBYSCORE', P .. 'wq:leases', '-inf', ARGV[2])) do
          table.insert(out, ik)
          for _, x in ipairs(itemfields(ik)) do table.insert(out, x) end
        end
        return out
        """)

    /// ARGV: prefix, now, max deliveries, orphan idle ms, then (item key, "task:attempt",
    /// run, the reaper's completion or '') per candidate → `itemfields` of each item put
    /// back or ended. Then the backstop: pending entries idle for the orphan time without
    /// a lease record (XAUTOCLAIM), and entries deleted under the PEL, are put back; and
    /// consumers idle that long with nothing pending are deleted.
    static let expire = RedisScript("wqExpire", lib + """
        local now, max, idle = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
        local out = {}
        local function emit(ik) for _, x in ipairs(itemfields(ik)) do table.insert(out, x) end end
        for i = 5, #ARGV, 4 do
          local ik, f, run, lost = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
          local h = redis.call('HMGET', ik, 'state', 'until', 'deliveries', 'owner', 'stream', 'sid')
          if h[1] == 'leased' and tonumber(h[2]) <= now then
            if tonumber(h[3]) >= max then
              if lost ~= '' then
                emit(ik)
                unlist(h[5], h[6]); unlease(ik, h[4])
                redis.call('HSET', ik, 'state', 'completed', 'owner', '', 'until', 0, 'stream', '', 'sid', '')
                finish(run, f, lost)
              end
            else
              emit(ik); requeue(ik)
            end
          end
        end
        for _, s in ipairs(redis.call('ZRANGE', P .. 'wq:streams', 0, -1)) do
          local r = redis.call('XAUTOCLAIM', s, 'ezflow', P .. 'reaper', idle, '0-0', 'COUNT', 100)
          for _, e in ipairs(r[2] or {}) do
            local ik = field(e[2], 'k')
            local h = ik and redis.call('HMGET', ik, 'state', 'owner', 'sid') or {false, false, false}
            if h[1] == 'leased' and h[3] == e[1] then
              redis.call('XCLAIM', s, 'ezflow', h[2], 0, e[1], 'JUSTID')
            elseif h[1] == 'queued' and h[3] == e[1] then
              emit(ik); requeue(ik)
            else
              unlist(s, e[1])
            end
          end
          for _, id in ipairs(r[3] or {}) do
            local ik = redis.call('HGET', P .. 'wq:byid', s .. ' ' .. id)
            redis.call('XACK', s, 'ezflow', id)
            redis.call('HDEL', P .. 'wq:byid', s .. ' ' .. id)
            if ik then
              local h = redis.call('HMGET', ik, 'state', 'sid')
              if (h[1] == 'leased' or h[1] == 'queued') and h[2] == id then
                redis.call('HSET', ik, 'sid', '')
                emit(ik); requeue(ik)
              end
            end
          end
          -- Worker ids are new per process start: forget the idle consumers with nothing
          -- pending (checked in this same script, so no pending entry goes with them).
          for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', s, 'ezflow')) do
            if tonumber(field(c, 'pending')) == 0 and tonumber(field(c, 'idle')) >= tonumber(idle) then
              redis.call('XGROUP', 'DELCONSUMER', s, 'ezflow', field(c, 'name'))
            end
          end
        end
        return out
        """)

    /// ARGV: prefix, owner, now, lease ms → how many leases were extended.
    static let renew = RedisScript("wqRenew", lib + """
        local owner, untilv = ARGV[2], tonumber(ARGV[3]) + tonumber(ARGV[4])
        local own = P .. 'wq:own:' .. owner
        local n = 0
        for _, ik in ipairs(redis.call('SMEMBERS', own)) do
          local h = redis.call('HMGET', ik, 'state', 'owner', 'stream', 'sid')
          if h[1] == 'leased' and h[2] == owner then
            redis.call('HSET', ik, 'until', untilv)
            redis.call('ZADD', P .. 'wq:leases', untilv, ik)
            -- Resets the entry's idle time (the orphan backstop) without counting a delivery.
            redis.call('XCLAIM', h[3], 'ezflow', owner, 0, h[4], 'JUSTID')
            n = n + 1
          else
            redis.call('SREM', own, ik)
          end
        end
        return n
        """)

    /// ARGV: prefix, owner → how many leases were put back (uncounted), in offer order.
    static let release = RedisScript("wqRelease", lib + """
        local owner = ARGV[2]
        local items = {}
        for _, ik in ipairs(redis.call('SMEMBERS', P .. 'wq:own:' .. owner)) do
          local h = redis.call('HMGET', ik, 'state', 'owner', 'order')
          if h[1] == 'leased' and h[2] == owner then table.insert(items, {ik, tonumber(h[3])}) end
        end
        table.sort(items, function(a, b) return a[2] < b[2] end)
        for _, it in ipairs(items) do
          redis.call('HINCRBY', it[1], 'deliveries', -1)
          requeue(it[1])
        end
        redis.call('DEL', P .. 'wq:own:' .. owner)
        return #items
        """)

    /// ARGV: prefix, item key. A queued item is dropped; any other is marked (never queued again).
    static let cancel = RedisScript("wqCancel", lib + """
        local ik = ARGV[2]
        local h = redis.call('HMGET', ik, 'state', 'stream', 'sid')
        if h[1] == 'queued' then
          unlist(h[2], h[3])
          redis.call('DEL', ik)
        elseif h[1] then
          redis.call('HSET', ik, 'cancelled', 1)
        end
        return 1
        """)

    /// ARGV: prefix, run, reader → the completions this reader has not had, in acceptance order.
    static let completions = RedisScript("wqCompletions", lib + """
        local run, reader = ARGV[2], ARGV[3]
        local rk = P .. 'wq:rd:' .. #run .. ':' .. run .. ':' .. reader
        local out = {}
        local list = redis.call('ZRANGE', P .. 'wq:co:' .. run, 0, -1)
        if #list > 0 then redis.call('SADD', P .. 'wq:readers:' .. run, rk) end
        for _, f in ipairs(list) do
          if redis.call('SADD', rk, f) == 1 then table.insert(out, redis.call('HGET', P .. 'wq:c:' .. run, f)) end
        end
        return out
        """)

    /// ARGV: prefix, run. The run's items (indexed at their offer) end and lose their
    /// payloads; its completions and read marks go.
    static let forget = RedisScript("wqForget", lib + """
        local run = ARGV[2]
        local index = P .. 'wq:ri:' .. run
        for _, ik in ipairs(redis.call('SMEMBERS', index)) do
          local h = redis.call('HMGET', ik, 'state', 'stream', 'sid')
          if h[1] == 'queued' then
            unlist(h[2], h[3])
            redis.call('HSET', ik, 'state', 'completed', 'owner', '', 'until', 0, 'stream', '', 'sid', '', 'payload', '')
          elseif h[1] == 'leased' then
            redis.call('HSET', ik, 'cancelled', 1, 'payload', '')
          elseif h[1] then
            redis.call('HSET', ik, 'payload', '')
          end
        end
        for _, rk in ipairs(redis.call('SMEMBERS', P .. 'wq:readers:' .. run)) do redis.call('DEL', rk) end
        redis.call('DEL', P .. 'wq:readers:' .. run, P .. 'wq:c:' .. run, P .. 'wq:co:' .. run)
        return 1
        """)

    /// The dead-letter feed's fields, in `DeadLetterEntry` order.
    static let deadLetterFields = ["run", "seq", "task", "task_name", "kind", "class", "message", "attempts", "at_ms", "principal"]

    /// Lua: `addDeadLetters(stream, keys, first, count)` adds the `count` entries whose
    /// `deadLetterFields` start at ARGV[first] to the stream (PREFIX `dlq`, never trimmed),
    /// each (run, seq, task, kind) once (the set PREFIX `dlq:keys`). Shared by the queue's
    /// script and the journal's append (`RedisStore`), which writes the turn's entries.
    /// `deadLetterKeysRefusal(stream, keys)` is the error reply for keys of another type
    /// (nil when usable): a script checks it before its first write, for a command that
    /// fails mid-script leaves the writes before it in place (a key marked, no entry).
    static let addDeadLettersLua = """
        local function deadLetterKeysRefusal(stream, keys)
          local st, kt = redis.call('TYPE', stream)['ok'], redis.call('TYPE', keys)['ok']
          if (st ~= 'none' and st ~= 'stream') or (kt ~= 'none' and kt ~= 'set') then
            return redis.error_reply('the dead-letter keys ' .. stream .. ' (' .. st .. ') and ' .. keys .. ' (' .. kt .. ') are not a stream and a set: another program wrote them')
          end
          return nil
        end
        local function addDeadLetters(stream, keys, first, count)
          local names = {\(deadLetterFields.map { "'\($0)'" }.joined(separator: ", "))}
          for e = 0, count - 1 do
            local i = first + e * #names
            if redis.call('SADD', keys, ARGV[i] .. ' ' .. ARGV[i + 1] .. ' ' .. ARGV[i + 2] .. ' ' .. ARGV[i + 4]) == 1 then
              local kv = {}
              for j = 1, #names do table.insert(kv, names[j]); table.insert(kv, ARGV[i + j - 1]) end
              redis.call('XADD', stream, '*', unpack(kv))
            end
          end
        end

        """

    /// The entries as the scripts take them: `deadLetterFields` each.
    static func deadLetterArgs(_ entries: [DeadLetterEntry]) -> [[UInt8]] {
        entries.flatMap { e in
            [b(e.runID), b(e.seq), b(e.task), b(e.taskName), b(e.kind.rawValue), b(e.errorClass), b(e.message), b(e.attempts), b(e.atMs),
             b(e.principal)]
        }
    }

    /// ARGV: prefix, then each entry's `deadLetterFields`.
    static let deadLetter = RedisScript("wqDeadLetter", lib + addDeadLettersLua + """
        local refused = deadLetterKeysRefusal(P .. 'dlq', P .. 'dlq:keys')
        if refused then return refused end
        addDeadLetters(P .. 'dlq', P .. 'dlq:keys', 2, (#ARGV - 1) / \(deadLetterFields.count))
        return 1
        """)

    /// ARGV: prefix, run ('' for every run) → each entry's `deadLetterFields`, in feed order.
    static let deadLetters = RedisScript("wqDeadLetters", lib + """
        local names = {\(deadLetterFields.map { "'\($0)'" }.joined(separator: ", "))}
        local out = {}
        for _, e in ipairs(redis.call('XRANGE', P .. 'dlq', '-', '+')) do
          if ARGV[2] == '' or field(e[2], 'run') == ARGV[2] then
            for _, n in ipairs(names) do table.insert(out, field(e[2], n) or '') end
          end
        end
        return out
        """)

    /// ARGV: prefix, owner → `itemfields` of each item leased to it and cancelled.
    static let cancelled = RedisScript("wqCancelled", lib + """
        local out = {}
        for _, ik in ipairs(redis.call('SMEMBERS', P .. 'wq:own:' .. ARGV[2])) do
          local h = redis.call('HMGET', ik, 'state', 'owner', 'cancelled')
          if h[1] == 'leased' and h[2] == ARGV[2] and h[3] == '1' then
            for _, x in ipairs(itemfields(ik)) do table.insert(out, x) end
          end
        end
        return out
        """)

    /// ARGV: prefix, run, "task:attempt"…
    static let acknowledge = RedisScript("wqAcknowledge", lib + """
        local run = ARGV[2]
        local readers = redis.call('SMEMBERS', P .. 'wq:readers:' .. run)
        for i = 3, #ARGV do
          redis.call('ZREM', P .. 'wq:co:' .. run, ARGV[i])
          redis.call('HDEL', P .. 'wq:c:' .. run, ARGV[i])
          for _, rk in ipairs(readers) do redis.call('SREM', rk, ARGV[i]) end
        end
        return 1
        """)
}
