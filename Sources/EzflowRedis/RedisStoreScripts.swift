// The store's Lua scripts. A script is atomic on the server (no other command runs in
// between), but a runtime error does NOT roll back the writes made before it: every
// check comes first and returns an `EZ<KIND> …` error before the first write.
extension RedisStore {
    static let createRun = RedisScript("createRun", """
        if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('EZCONFLICT run `' .. ARGV[1] .. '` already exists') end
        redis.call('HSET', KEYS[1], 'workflow', ARGV[2], 'ir_hash', ARGV[3], 'seed', ARGV[4], 'status', 'created', 'verdict', '',
                   'created_ms', ARGV[5], 'updated_ms', ARGV[5], 'ir', ARGV[6], 'meta', ARGV[7])
        redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
        return 1
        """)

    /// KEYS: run, jev, att → the row's fields, the record count, the open attempts.
    static let runInfo = RedisScript("runInfo", """
        local r = redis.call('HMGET', KEYS[1], 'workflow', 'ir_hash', 'seed', 'status', 'verdict', 'created_ms', 'updated_ms')
        table.insert(r, redis.call('LLEN', KEYS[2]))
        table.insert(r, redis.call('HLEN', KEYS[3]))
        return r
        """)

    static let update = RedisScript("update", """
        if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('EZNOT_FOUND no run `' .. ARGV[1] .. '`') end
        redis.call('HSET', KEYS[1], 'status', ARGV[2], 'verdict', ARGV[3], 'updated_ms', ARGV[4])
        return 1
        """)

    static let setIfRun = RedisScript("setIfRun", """
        if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
        return 1
        """)

    /// KEYS: ver (from → IR hash), verir (from → IR) → from, hash, IR triples.
    static let versions = RedisScript("versions", """
        local out = {}
        local h = redis.call('HGETALL', KEYS[1])
        for i = 1, #h, 2 do
          table.insert(out, h[i]); table.insert(out, h[i + 1]); table.insert(out, redis.call('HGET', KEYS[2], h[i]) or '')
        end
        return out
        """)

    /// A version at or past `fromSeq` is a leftover of a crash before its `plan_upgraded`: replaced.
    static let addVersion = RedisScript("addVersion", """
        local from = tonumber(ARGV[1])
        for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
          if tonumber(f) >= from then redis.call('HDEL', KEYS[1], f); redis.call('HDEL', KEYS[2], f) end
        end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
        return 1
        """)

    /// KEYS: run, jev, jcmd, jchain; ARGV: from → the hash before `from`, events, commands, chain hashes.
    static let journal = RedisScript("journal", """
        local from = tonumber(ARGV[1])
        local prev
        if from == 0 then prev = redis.call('HGET', KEYS[1], 'ir_hash') else prev = redis.call('LINDEX', KEYS[4], from - 1) end
        return {prev, redis.call('LRANGE', KEYS[2], from, -1), redis.call('LRANGE', KEYS[3], from, -1), redis.call('LRANGE', KEYS[4], from, -1)}
        """)

    static let post = RedisScript("post", """
        if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('EZNOT_FOUND no run `' .. ARGV[1] .. '`') end
        local id = redis.call('INCR', KEYS[3])
        redis.call('HSET', KEYS[2], id, ARGV[2])
        return id
        """)

    /// KEYS: run, jev, jcmd, jchain, logs, inbox, att, proc, lease.
    /// ARGV: run id, expected seq, head chain hash, lease owner ('' none), lease epoch,
    /// has update, status, verdict, updated ms, #records, #logs, #consumed, #ops,
    /// #started, #ended, then (event, commands, chain) per record, the logs, the consumed
    /// ids, the ops (`+task:attempt` opens, `-task:attempt` closes), (field, value) per
    /// started process and the fields of the ended ones.
    static let append = RedisScript("append", RedisWorkQueue.addDeadLettersLua + """
        local run = ARGV[1]
        if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('EZNOT_FOUND no run `' .. run .. '`') end
        local expected = tonumber(ARGV[2])
        local n = redis.call('LLEN', KEYS[2])
        if n ~= expected then
          return redis.error_reply('EZCONFLICT run `' .. run .. '`: the writer expects seq ' .. expected .. ', the journal has ' .. n .. ' records')
        end
        if ARGV[4] ~= '' then
          local cur = redis.call('GET', KEYS[9])
          if cur ~= ARGV[5] .. ' ' .. ARGV[4] then
            return redis.error_reply('EZCONFLICT run `' .. run .. '`: this coordinator\\'s lease (epoch ' .. ARGV[5] .. ') expired or was taken over by another coordinator')
          end
        end
        local nrec, nlog, ncon, nops, nstart, nend = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15])
        if tonumber(ARGV[16]) > 0 then
          local refused = deadLetterKeysRefusal(KEYS[10], KEYS[11])
          if refused then return refused end
        end
        if nrec > 0 then
          local head
          if n == 0 then head = redis.call('HGET', KEYS[1], 'ir_hash') else head = redis.call('LINDEX', KEYS[4], -1) end
          if head ~= ARGV[3] then
            return redis.error_reply('EZCONFLICT run `' .. run .. '`: the journal\\'s head changed while the batch was prepared')
          end
        end
        local i = 17
        for _ = 1, nrec do
          redis.call('RPUSH', KEYS[2], ARGV[i]); redis.call('RPUSH', KEYS[3], ARGV[i + 1]); redis.call('RPUSH', KEYS[4], ARGV[i + 2])
          i = i + 3
        end
        for _ = 1, nlog do redis.call('RPUSH', KEYS[5], ARGV[i]); i = i + 1 end
        for _ = 1, ncon do redis.call('HDEL', KEYS[6], ARGV[i]); i = i + 1 end
        for _ = 1, nops do
          local op = ARGV[i]
          if string.sub(op, 1, 1) == '+' then redis.call('HSET', KEYS[7], string.sub(op, 2), 1) else redis.call('HDEL', KEYS[7], string.sub(op, 2)) end
          i = i + 1
        end
        for _ = 1, nstart do redis.call('HSET', KEYS[8], ARGV[i], ARGV[i + 1]); i = i + 2 end
        for _ = 1, nend do redis.call('HDEL', KEYS[8], ARGV[i]); i = i + 1 end
        addDeadLetters(KEYS[10], KEYS[11], i, tonumber(ARGV[16]))
        if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'status', ARGV[7], 'verdict', ARGV[8], 'updated_ms', ARGV[9]) end
        return 1
        """)
}
