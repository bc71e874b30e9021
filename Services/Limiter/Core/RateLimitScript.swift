import GatehouseLimiterPolicies
import GatehouseRedis

/// The Lua script that decides a batch of requests, each a list of ``RateLimitItem``s decided atomically and
/// all or nothing, and its argument and reply layout.
///
/// Layout, for requests `1...r` whose items, in order, are `1...n`:
/// - `KEYS[i]`: item `i`'s state key (exactly one key per item), the keys of request 1 first.
/// - `ARGV[1]`: the number of requests `r`.
/// - Then per request: its mode, `check` (charge when every item allows) or `peek` (decide, never write);
///   its item count; and per item its algorithm (``RateLimitAlgorithm`` raw value), limit, period in
///   microseconds, burst and cost, as decimal integers.
/// - Reply: a flat array of `5 × n` integers, per item in order: allowed (0 or 1), limit, remaining (≥ 0),
///   milliseconds until reset, milliseconds until retry (0 when the item allows).
///
/// Requests are decided one after the other, each seeing the charges of the ones before it, exactly as if
/// each had been its own script call. Within a request, the script first decides every item without
/// charging; only when all allow and the mode is `check` does it charge every item. When an item denies,
/// nothing of that request is charged and every item reports its state as it is. The clock is Redis' own
/// `TIME`, in microseconds, read once per batch; the caller's clock is never used, and every request of a
/// batch is decided at that one instant.
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
    /// Whether a request is charged.
    enum Mode: String, Sendable {
        /// Decide and, when every item allows, charge every item.
        case check
        /// Decide only; nothing is written.
        case peek
    }

    /// One request of a batch.
    struct Request: Sendable {
        let items: [RateLimitItem]
        let mode: Mode
    }

    /// The number of `ARGV` entries per item.
    static let argumentsPerItem = 5
    /// The number of reply integers per item.
    static let replyIntegersPerItem = 5

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
        arguments.reserveCapacity(1 + requests.reduce(0) { $0 + 2 + Self.argumentsPerItem * $1.items.count })
        for request in requests {
            arguments.append(request.mode.rawValue)
            arguments.append(String(request.items.count))
            for item in request.items {
                arguments.append(item.algorithm.rawValue)
                arguments.append(String(item.limit))
                arguments.append(String(item.periodMicroseconds))
                arguments.append(String(item.burst))
                arguments.append(String(item.cost))
            }
        }
        return arguments
    }

    /// Parses the script's reply into one decision per request.
    ///
    /// - Throws: ``RateLimitReplyError`` when the reply does not have the documented layout.
    static func decisions(from reply: RESPValue, for requests: [Request]) throws(RateLimitReplyError) -> [RateLimitDecision] {
        let itemCount = requests.reduce(0) { $0 + $1.items.count }
        guard let values = reply.array, values.count == Self.replyIntegersPerItem * itemCount else {
            throw RateLimitReplyError(
                reason: "expected an array of \(Self.replyIntegersPerItem * itemCount) integers, got \(reply)"
            )
        }
        var decisions: [RateLimitDecision] = []
        decisions.reserveCapacity(requests.count)
        var position = 0
        for request in requests {
            var items: [RateLimitItemDecision] = []
            items.reserveCapacity(request.items.count)
            for _ in request.items {
                var integers = (0, 0, 0, 0, 0)
                for offset in 0..<Self.replyIntegersPerItem {
                    let value = values[position + offset]
                    guard case .integer = value, let integer = value.int, integer >= 0 else {
                        throw RateLimitReplyError(reason: "expected non-negative integers, got \(value) in \(reply)")
                    }
                    switch offset {
                    case 0: integers.0 = integer
                    case 1: integers.1 = integer
                    case 2: integers.2 = integer
                    case 3: integers.3 = integer
                    default: integers.4 = integer
                    }
                }
                position += Self.replyIntegersPerItem
                items.append(
                    RateLimitItemDecision(
                        allowed: integers.0 == 1,
                        limit: integers.1,
                        remaining: integers.2,
                        resetAfter: .milliseconds(integers.3),
                        retryAfter: .milliseconds(integers.4)
                    )
                )
            }
            decisions.append(RateLimitDecision(items: items))
        }
        return decisions
    }

    /// The Lua source; see the type's documentation for the layout.
    static let source = """
        -- The whole layout is checked before anything is decided, so a malformed batch writes nothing.
        local bad_arguments = 'ERR rate-limit script: bad arguments (request count, then per request mode, item count, 5 per item)'
        local request_count = tonumber(ARGV[1])
        if not request_count or request_count < 1 or #KEYS == 0 then
          return redis.error_reply(bad_arguments)
        end
        do
          local keys_seen, position = 0, 2
          for _ = 1, request_count do
            local mode, count = ARGV[position], tonumber(ARGV[position + 1])
            if (mode ~= 'check' and mode ~= 'peek') or not count or count < 1 then
              return redis.error_reply(bad_arguments)
            end
            keys_seen = keys_seen + count
            position = position + 2 + 5 * count
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
          redis.call('SET', key, timestamp_text(state.backlog), 'PX', to_ms(state.backlog))
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
            remaining_now = math.floor((capacity - backlog + slack) / interval),
            reset_now = backlog,
            retry = 0,
          }
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
            remaining_now = math.floor(tokens + slack),
            reset_now = (burst - tokens) * interval,
            retry = 0,
          }
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
            remaining_now = math.floor(limit - estimate + slack),
            reset_now = until_reset(current),
            retry = 0,
          }
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
            remaining_now = limit - count,
            reset_now = count > 0 and ends or 0,
            retry = 0,
          }
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

        local reply = {}
        local key_index = 0
        local arg = 2
        for _ = 1, request_count do
          local mode = ARGV[arg]
          local item_count = tonumber(ARGV[arg + 1])
          arg = arg + 2

          local decisions = {}
          local all_allowed = true
          for i = 1, item_count do
            local decide = algorithms[ARGV[arg]]
            if not decide then
              return redis.error_reply('ERR rate-limit script: unknown algorithm ' .. tostring(ARGV[arg]))
            end
            local d = decide(KEYS[key_index + i], tonumber(ARGV[arg + 1]), tonumber(ARGV[arg + 2]),
              tonumber(ARGV[arg + 3]), tonumber(ARGV[arg + 4]))
            decisions[i] = d
            all_allowed = all_allowed and d.allowed
            arg = arg + 5
          end
          if all_allowed and mode == 'check' then
            for i = 1, item_count do
              local d = decisions[i]
              if d.charged then
                charged(KEYS[key_index + i], d.write, d.charged)
              end
            end
          end
          key_index = key_index + item_count

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
          end
        end
        for _, key in ipairs(charged_keys) do
          writers[key](key, view[key])
        end
        return reply
        """
}
