import GatehouseLimiterPolicies
import GatehouseRedis

/// The Lua script that decides a batch of requests, each a list of ``RateLimitItem``s decided atomically and
/// all or nothing, and its argument and reply layout.
///
/// Layout, for requests `1...r` whose items, in order, are `1...n`:
/// - `KEYS[i]`: item `i`'s state key (exactly one key per item), the keys of request 1 first.
/// - `ARGV[1]`: the number of requests `r`.
/// - Then per request: its mode — `check` (charge when every item allows), `peek` (decide, never write),
///   `acquire` (grant leases) or `release` (credit unspent lease units back); its item count; for `acquire`
///   the fleet size (live edges, ≥ 1) and the lease period in microseconds; and per item its algorithm
///   (``RateLimitAlgorithm`` raw value), limit, period in microseconds, burst and cost, as decimal integers,
///   plus for `acquire` the extra units wanted beyond the cost and for `release` the epoch the units were
///   granted in (the window's start in microseconds, from the grant; 0 for the rate algorithms), with the
///   returned units as the cost.
/// - Reply: a flat array of integers, per item in order: for `check` and `peek` 5: allowed (0 or 1), limit,
///   remaining (≥ 0), milliseconds until reset, milliseconds until retry (0 when the item allows); for
///   `acquire` 8: those 5, then units granted, the lease in whole milliseconds and the epoch; for `release`
///   1: the units credited back.
///
/// Requests are decided one after the other, each seeing the charges of the ones before it, exactly as if
/// each had been its own script call. Within a request, the script first decides every item without
/// charging; only when all allow and the mode is `check` or `acquire` does it charge every item. When an
/// item denies, nothing of that request is charged and every item reports its state as it is. The clock is
/// Redis' own `TIME`, in microseconds, read once per batch; the caller's clock is never used, and every
/// request of a batch is decided at that one instant.
///
/// **Leases.** An `acquire` is a `check` that charges each item its cost plus up to its extra units, all or
/// nothing on the cost: the units granted are debited from the state exactly like that many checks, so a
/// lease holder that spends only what it was granted never takes the policy past its limit. The extra
/// units are at most a `2 × fleet`-th of what the item would have left after the cost, so near the limit
/// grants shrink to the cost and the last units go out one request at a time. A lease lasts the lease
/// period, never past the end of the window it was granted in (window algorithms) nor past the moment the
/// budget would be full again (rate algorithms). A `release` credits unspent units back: for the rate
/// algorithms at once (never beyond the capacity; the state is exactly the one without those grants); for
/// the window algorithms only while the window they were granted in is the one stored.
///
/// A key is read from Redis once per batch, when a request first needs it, and kept in the script as
/// decoded state that later requests of the batch read and charge. After the last request, each charged
/// key is written once, with its final state and a `PEXPIRE` at the moment that state becomes equivalent
/// to a fresh one. A hot key (one client's many concurrent requests) costs one read and one write per
/// batch, not per request; and a batch that fails part-way writes nothing.
///
/// State per algorithm:
/// - `gcra`: a string, the theoretical arrival time in microseconds as `"<whole>.<9 fraction digits>"`, so the
///   fractional emission intervals of limits like 3 per second add up exactly.
/// - `token_bucket`: a hash `tokens` (a float) and `ts` (microseconds of the last refill).
/// - `sliding_window`: a hash `window` (start of the current window, microseconds), `current`, `previous`.
/// - `fixed_window`: a hash `window` (start of the counted window, microseconds) and `count`.
enum RateLimitScript {
    /// What a request does.
    enum Mode: Sendable {
        /// Decide and, when every item allows, charge every item.
        case check
        /// Decide only; nothing is written.
        case peek
        /// Decide and, when every item allows, grant and charge each item its cost plus extra units.
        case acquire(LeaseTerms)
        /// Credit each item's cost (the unspent units) back to the epoch given per item.
        case release(epochs: [Int64])

        /// The mode's name in the script's arguments and in logs.
        var name: String {
            switch self {
            case .check: "check"
            case .peek: "peek"
            case .acquire: "acquire"
            case .release: "release"
            }
        }
    }

    /// What an `acquire` asks for beyond its items' costs.
    struct LeaseTerms: Sendable, Hashable {
        /// The live edges sharing the budget (at least 1): extra units are at most a `2 × fleetSize`-th of what
        /// is left.
        var fleetSize: Int
        /// The longest lease.
        var period: Duration
        /// Extra units wanted per item, in item order.
        var extras: [Int]
    }

    /// One request of a batch.
    struct Request: Sendable {
        let items: [RateLimitItem]
        let mode: Mode
        /// When the request was handed to the batcher, for its queue wait; `nil` for a request that was
        /// never queued (one of a `limiter.CheckBatch`, sent in script calls of its own).
        var submitted: ContinuousClock.Instant? = nil
    }

    /// The number of `ARGV` entries per item of a `check` or `peek`.
    static let argumentsPerItem = 5
    /// The number of reply integers per item of a `check` or `peek`.
    static let replyIntegersPerItem = 5
    /// The number of reply integers per item of an `acquire`.
    static let replyIntegersPerGrant = 8

    /// The script, loaded by SHA1 and reloaded transparently by ``RedisClient/evalScript(_:keys:arguments:)``.
    static let script = RedisScript(source: Self.source)

    /// The `KEYS` for a batch.
    static func keys(for requests: [Request]) -> [String] {
        var keys: [String] = []
        keys.reserveCapacity(requests.reduce(0) { $0 + $1.items.count })
        for request in requests {
            for item in request.items {
                keys.append(item.key)
            }
        }
        return keys
    }

    /// The `ARGV` for a batch.
    static func arguments(for requests: [Request]) -> [String] {
        var arguments = [String(requests.count)]
        arguments.reserveCapacity(1 + requests.reduce(0) { $0 + 4 + (Self.argumentsPerItem + 1) * $1.items.count })
        for request in requests {
            arguments.append(request.mode.name)
            arguments.append(String(request.items.count))
            if case .acquire(let terms) = request.mode {
                arguments.append(String(max(1, terms.fleetSize)))
                arguments.append(String(Self.microseconds(terms.period)))
            }
            for (index, item) in request.items.enumerated() {
                arguments.append(item.algorithm.rawValue)
                arguments.append(String(item.limit))
                arguments.append(String(item.periodMicroseconds))
                arguments.append(String(item.burst))
                arguments.append(String(item.cost))
                switch request.mode {
                case .check, .peek:
                    break
                case .acquire(let terms):
                    arguments.append(String(max(0, terms.extras[index])))
                case .release(let epochs):
                    arguments.append(String(epochs[index]))
                }
            }
        }
        return arguments
    }

    private static func microseconds(_ duration: Duration) -> Int64 {
        let components = duration.components
        return max(0, components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000)
    }

    /// The reply integers of one item of a request in `mode`.
    private static func replyIntegers(_ mode: Mode) -> Int {
        switch mode {
        case .check, .peek: Self.replyIntegersPerItem
        case .acquire: Self.replyIntegersPerGrant
        case .release: 1
        }
    }

    /// Parses the script's reply into one decision per request.
    ///
    /// A `release` request's items are all allowed, with ``RateLimitItemDecision/granted`` the units credited
    /// back and the other fields zero.
    ///
    /// - Throws: ``RateLimitReplyError`` when the reply does not have the documented layout.
    static func decisions(from reply: RESPValue, for requests: [Request]) throws(RateLimitReplyError) -> [RateLimitDecision] {
        let expected = requests.reduce(0) { $0 + Self.replyIntegers($1.mode) * $1.items.count }
        guard let values = reply.array, values.count == expected else {
            throw RateLimitReplyError(reason: "expected an array of \(expected) integers, got \(reply)")
        }
        var decisions: [RateLimitDecision] = []
        decisions.reserveCapacity(requests.count)
        var position = 0
        func next() throws(RateLimitReplyError) -> Int {
            let value = values[position]
            guard case .integer = value, let integer = value.int, integer >= 0 else {
                throw RateLimitReplyError(reason: "expected non-negative integers, got \(value) in \(reply)")
            }
            position += 1
            return integer
        }
        for request in requests {
            var items: [RateLimitItemDecision] = []
            items.reserveCapacity(request.items.count)
            for _ in request.items {
                if case .release = request.mode {
                    let credited = try next()
                    items.append(RateLimitItemDecision(allowed: true, limit: 0, remaining: 0, resetAfter: .zero, retryAfter: .zero, granted: credited))
                    continue
                }
                let allowed = try next() == 1
                let limit = try next()
                let remaining = try next()
                let resetAfter = Duration.milliseconds(try next())
                let retryAfter = Duration.milliseconds(try next())
                var decision = RateLimitItemDecision(
                    allowed: allowed, limit: limit, remaining: remaining, resetAfter: resetAfter, retryAfter: retryAfter
                )
                if case .acquire = request.mode {
                    decision.granted = try next()
                    decision.lease = .milliseconds(try next())
                    decision.epoch = Int64(try next())
                }
                items.append(decision)
            }
            decisions.append(RateLimitDecision(items: items))
        }
        return decisions
    }

    /// The Lua source; see the type's documentation for the layout.
    static let source = """
        -- The whole layout is checked before anything is decided, so a malformed batch writes nothing.
        local bad_arguments = 'ERR rate-limit script: bad arguments (request count, then per request mode, item count, '
          .. 'for acquire fleet size and lease period, and 5 per item, 6 for acquire and release)'
        local request_count = tonumber(ARGV[1])
        if not request_count or request_count < 1 or #KEYS == 0 then
          return redis.error_reply(bad_arguments)
        end
        do
          local keys_seen, position = 0, 2
          for _ = 1, request_count do
            local mode, count = ARGV[position], tonumber(ARGV[position + 1])
            local per_item, header = 5, 2
            if mode == 'acquire' then
              per_item, header = 6, 4
              local fleet, lease_period = tonumber(ARGV[position + 2]), tonumber(ARGV[position + 3])
              if not fleet or fleet < 1 or not lease_period or lease_period < 0 then
                return redis.error_reply(bad_arguments)
              end
            elseif mode == 'release' then
              per_item = 6
            elseif mode ~= 'check' and mode ~= 'peek' then
              return redis.error_reply(bad_arguments)
            end
            if not count or count < 1 then
              return redis.error_reply(bad_arguments)
            end
            keys_seen = keys_seen + count
            position = position + header + per_item * count
          end
          if keys_seen ~= #KEYS or position ~= #ARGV + 1 then
            return redis.error_reply(bad_arguments)
          end
        end

        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

        -- Microseconds to whole milliseconds, rounded up and at least 1 for any positive time (ignoring float
        -- noise below a nanosecond, which the decisions' slack absorbs): waiting that long is always enough.
        local function to_ms(us)
          if us <= 0 then
            return 0
          end
          return math.max(1, math.ceil(us / 1000 - 1e-6))
        end

        -- A stored "<whole>.<fraction>" microsecond timestamp minus now, exact: the whole part is subtracted
        -- as an integer before the small fraction is added.
        local function since_now(text)
          local dot = string.find(text, '.', 1, true)
          if not dot then
            return tonumber(text) - now
          end
          return (tonumber(string.sub(text, 1, dot - 1)) - now) + tonumber('0' .. string.sub(text, dot))
        end

        -- now + offset (offset >= 0) as "<whole>.<9 fraction digits>".
        local function timestamp_text(offset)
          local whole = math.floor(offset)
          local nanos = math.floor((offset - whole) * 1e9 + 0.5)
          if nanos >= 1e9 then
            whole = whole + 1
            nanos = 0
          end
          return string.format('%.0f.%09d', now + whole, nanos)
        end

        -- This call's view of each key it touched: decoded state, read from Redis on first use; charges
        -- change only the view, and each charged key is written once, after the last request.
        local view = {}
        local charged_keys = {}
        local writers = {}

        local function load(key, read)
          local state = view[key]
          if state == nil then
            state = read(key)
            view[key] = state
          end
          return state
        end

        local function charged(key, write, state)
          if writers[key] == nil then
            charged_keys[#charged_keys + 1] = key
          end
          view[key] = state
          writers[key] = write
        end

        -- Per algorithm: read (stored state, decoded; fields nil when the key is absent) and write (the
        -- decoded state stored, with its PEXPIRE).
        local function read_gcra(key)
          local stored = redis.call('GET', key)
          return { backlog = stored and math.max(0, since_now(stored)) or 0 }
        end

        local function write_gcra(key, state)
          if state.backlog > 0 then
            redis.call('SET', key, timestamp_text(state.backlog), 'PX', to_ms(state.backlog))
          else
            redis.call('DEL', key)
          end
        end

        local function read_token_bucket(key)
          local stored = redis.call('HMGET', key, 'tokens', 'ts')
          if stored[1] and stored[2] then
            return { tokens = tonumber(stored[1]), ts = tonumber(stored[2]) }
          end
          return {}
        end

        local function write_token_bucket(key, state)
          redis.call('HSET', key, 'tokens', string.format('%.17g', state.tokens), 'ts', string.format('%.0f', state.ts))
          redis.call('PEXPIRE', key, to_ms(state.ttl))
        end

        local function read_sliding_window(key)
          local stored = redis.call('HMGET', key, 'window', 'current', 'previous')
          return { window = tonumber(stored[1]), current = tonumber(stored[2]) or 0, previous = tonumber(stored[3]) or 0 }
        end

        local function write_sliding_window(key, state)
          redis.call('HSET', key, 'window', string.format('%.0f', state.window),
            'current', state.current, 'previous', state.previous)
          redis.call('PEXPIRE', key, to_ms(state.ttl))
        end

        local function read_fixed_window(key)
          local stored = redis.call('HMGET', key, 'window', 'count')
          return { window = tonumber(stored[1]), count = tonumber(stored[2]) or 0 }
        end

        local function write_fixed_window(key, state)
          redis.call('HSET', key, 'window', string.format('%.0f', state.window), 'count', state.count)
          redis.call('PEXPIRE', key, to_ms(state.ttl))
        end

        -- Each algorithm decides without charging. It returns: allowed, limit, remaining_now and reset_now
        -- (state as it is), remaining_after and reset_after (after charging, when allowed), retry (µs, when
        -- denied), and, when a charge changes the key, charged (its state after the charge) and write (the
        -- algorithm's writer for that state).

        local function gcra(key, limit, period, burst, cost)
          local interval = period / limit
          local capacity = burst * interval
          local slack = 1e-3 + capacity * 1e-12
          local state = load(key, read_gcra)
          local backlog = state.backlog
          local after = backlog + cost * interval
          local d = {
            limit = limit,
            available = math.floor((capacity - backlog + slack) / interval),
            reset_now = backlog,
            retry = 0,
          }
          d.remaining_now = d.available
          if after <= capacity + slack then
            d.allowed = true
            d.remaining_after = math.floor((capacity - after + slack) / interval)
            d.reset_after = after
            if cost > 0 then
              d.charged, d.write = { backlog = after }, write_gcra
            end
          else
            d.allowed = false
            d.retry = after - capacity
          end
          return d
        end

        local function token_bucket(key, limit, period, burst, cost)
          local interval = period / limit
          local slack = 1e-9 + burst * 1e-12
          local state = load(key, read_token_bucket)
          local tokens = burst
          if state.tokens then
            local elapsed = math.max(0, now - state.ts)
            tokens = math.min(burst, state.tokens + elapsed / interval)
          end
          local left = tokens - cost
          local d = {
            limit = limit,
            available = math.floor(tokens + slack),
            reset_now = (burst - tokens) * interval,
            retry = 0,
          }
          d.remaining_now = d.available
          if left >= -slack then
            left = math.max(0, left)
            d.allowed = true
            d.remaining_after = math.floor(left + slack)
            d.reset_after = (burst - left) * interval
            if cost > 0 then
              d.charged, d.write = { tokens = left, ts = now, ttl = d.reset_after }, write_token_bucket
            end
          else
            d.allowed = false
            d.retry = (cost - tokens) * interval
          end
          return d
        end

        local function sliding_window(key, limit, period, burst, cost)
          local window = now - (now % period)
          local state = load(key, read_sliding_window)
          local current, previous = 0, 0
          if state.window == window then
            current = state.current
            previous = state.previous
          elseif state.window == window - period then
            previous = state.current
          end
          local slack = 1e-9 + limit * 1e-12
          local estimate = previous * ((period - (now - window)) / period) + current
          -- Until the estimate is zero: the current window's requests weigh until the next one ends.
          local function until_reset(counted)
            if counted > 0 then
              return window + 2 * period - now
            elseif previous > 0 then
              return window + period - now
            end
            return 0
          end
          local d = {
            limit = limit,
            available = math.floor(limit - estimate + slack),
            reset_now = until_reset(current),
            retry = 0,
            window = window,
            window_end = window + period - now,
          }
          d.remaining_now = d.available
          if estimate + cost <= limit + slack then
            d.allowed = true
            d.remaining_after = math.floor(limit - estimate - cost + slack)
            d.reset_after = until_reset(current + cost)
            if cost > 0 then
              d.charged = { window = window, current = current + cost, previous = previous, ttl = window + 2 * period - now }
              d.write = write_sliding_window
            end
          else
            d.allowed = false
            local room = limit - current - cost
            if room >= 0 then
              -- Fits in this window once enough of the previous one has slid out (previous > 0 here).
              d.retry = window + period * (1 - room / previous) - now
            else
              -- Needs the next window, once enough of this one has slid out (current > 0 here).
              d.retry = window + period + period * math.max(0, 1 - (limit - cost) / current) - now
            end
          end
          return d
        end

        local function fixed_window(key, limit, period, burst, cost)
          local window = now - (now % period)
          local state = load(key, read_fixed_window)
          local count = 0
          if state.window == window then
            count = state.count
          end
          local ends = window + period - now
          local d = {
            limit = limit,
            available = limit - count,
            reset_now = count > 0 and ends or 0,
            retry = 0,
            window = window,
            window_end = ends,
          }
          d.remaining_now = d.available
          if count + cost <= limit then
            d.allowed = true
            d.remaining_after = limit - count - cost
            d.reset_after = (count + cost > 0) and ends or 0
            if cost > 0 then
              d.charged, d.write = { window = window, count = count + cost, ttl = ends }, write_fixed_window
            end
          else
            d.allowed = false
            d.retry = ends
          end
          return d
        end

        local algorithms = {
          gcra = gcra,
          token_bucket = token_bucket,
          sliding_window = sliding_window,
          fixed_window = fixed_window,
        }

        -- Returned lease units, per algorithm: credited back, never beyond the capacity; a window's units only
        -- while that window (epoch, its start in microseconds) is still the one stored.
        local function credit_gcra(key, limit, period, burst, units)
          local state = load(key, read_gcra)
          local interval = period / limit
          local credited = math.min(units, math.floor(state.backlog / interval + 1e-9))
          charged(key, write_gcra, { backlog = math.max(0, state.backlog - units * interval) })
          return credited
        end

        local function credit_token_bucket(key, limit, period, burst, units)
          local state = load(key, read_token_bucket)
          if not state.tokens then
            return 0
          end
          local interval = period / limit
          local tokens = math.min(burst, state.tokens + math.max(0, now - state.ts) / interval + units)
          charged(key, write_token_bucket, { tokens = tokens, ts = now, ttl = (burst - tokens) * interval })
          return units
        end

        local function credit_sliding_window(key, limit, period, burst, units, epoch)
          local state = load(key, read_sliding_window)
          if state.window ~= epoch then
            return 0
          end
          local credited = math.min(units, state.current)
          charged(key, write_sliding_window, {
            window = state.window, current = state.current - credited, previous = state.previous,
            ttl = state.window + 2 * period - now,
          })
          return credited
        end

        local function credit_fixed_window(key, limit, period, burst, units, epoch)
          local state = load(key, read_fixed_window)
          if state.window ~= epoch then
            return 0
          end
          local credited = math.min(units, state.count)
          charged(key, write_fixed_window, { window = state.window, count = state.count - credited, ttl = state.window + period - now })
          return credited
        end

        local credits = {
          gcra = credit_gcra,
          token_bucket = credit_token_bucket,
          sliding_window = credit_sliding_window,
          fixed_window = credit_fixed_window,
        }

        local reply = {}
        local key_index = 0
        local arg = 2
        for _ = 1, request_count do
          local mode = ARGV[arg]
          local item_count = tonumber(ARGV[arg + 1])
          local fleet, lease_period = 1, 0
          if mode == 'acquire' then
            fleet, lease_period = tonumber(ARGV[arg + 2]), tonumber(ARGV[arg + 3])
            arg = arg + 4
          else
            arg = arg + 2
          end
          local per_item = (mode == 'acquire' or mode == 'release') and 6 or 5

          if mode == 'release' then
            for i = 1, item_count do
              local credit = credits[ARGV[arg]]
              if not credit then
                return redis.error_reply('ERR rate-limit script: unknown algorithm ' .. tostring(ARGV[arg]))
              end
              local units = tonumber(ARGV[arg + 4])
              local credited = 0
              if units > 0 then
                credited = credit(KEYS[key_index + i], tonumber(ARGV[arg + 1]), tonumber(ARGV[arg + 2]),
                  tonumber(ARGV[arg + 3]), units, tonumber(ARGV[arg + 5]))
              end
              reply[#reply + 1] = credited
              arg = arg + per_item
            end
          else
            local decisions = {}
            local all_allowed = true
            for i = 1, item_count do
              local decide = algorithms[ARGV[arg]]
              if not decide then
                return redis.error_reply('ERR rate-limit script: unknown algorithm ' .. tostring(ARGV[arg]))
              end
              local d = decide(KEYS[key_index + i], tonumber(ARGV[arg + 1]), tonumber(ARGV[arg + 2]),
                tonumber(ARGV[arg + 3]), tonumber(ARGV[arg + 4]))
              if mode == 'acquire' then
                d.arg = arg
              end
              decisions[i] = d
              all_allowed = all_allowed and d.allowed
              arg = arg + per_item
            end
            if all_allowed and mode == 'acquire' then
              -- Each item grants its cost and up to the extra units asked for, but at most a 2 × fleet-th of what
              -- would be left, so the last units of a budget go out one request at a time.
              for i = 1, item_count do
                local d, at = decisions[i], decisions[i].arg
                local cost = tonumber(ARGV[at + 4])
                local extra = math.min(tonumber(ARGV[at + 5]), math.floor((d.available - cost) / (2 * fleet)))
                local bound = d.window_end
                if extra > 0 then
                  local larger = algorithms[ARGV[at]](KEYS[key_index + i], tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]),
                    tonumber(ARGV[at + 3]), cost + extra)
                  if larger.allowed then
                    larger.arg = at
                    d = larger
                    decisions[i] = d
                  else
                    extra = 0
                  end
                else
                  extra = 0
                end
                -- A lease lasts the lease period, never past the end of its window, nor (rate algorithms)
                -- past the moment the budget is full again.
                d.granted = cost + extra
                d.lease = math.max(0, math.min(lease_period, bound or d.reset_after))
              end
            end
            if all_allowed and mode ~= 'peek' then
              for i = 1, item_count do
                local d = decisions[i]
                if d.charged then
                  charged(KEYS[key_index + i], d.write, d.charged)
                end
              end
            end

            for i = 1, item_count do
              local d = decisions[i]
              local remaining, reset = d.remaining_now, d.reset_now
              if all_allowed then
                remaining, reset = d.remaining_after, d.reset_after
              end
              reply[#reply + 1] = d.allowed and 1 or 0
              reply[#reply + 1] = d.limit
              reply[#reply + 1] = math.max(0, remaining)
              reply[#reply + 1] = to_ms(reset)
              reply[#reply + 1] = to_ms(d.retry)
              if mode == 'acquire' then
                reply[#reply + 1] = d.granted or 0
                reply[#reply + 1] = math.floor((d.lease or 0) / 1000)
                reply[#reply + 1] = d.window or 0
              end
            end
          end
          key_index = key_index + item_count
        end
        for _, key in ipairs(charged_keys) do
          writers[key](key, view[key])
        end
        return reply
        """
}
