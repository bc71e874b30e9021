import GatehouseRedis

/// The Lua script that decides a list of ``RateLimitItem``s atomically, all or nothing, and its argument and
/// reply layout.
///
/// Layout, for items `1...n`:
/// - `KEYS[i]`: item `i`'s state key (exactly one key per item).
/// - `ARGV[1]`: the mode, `check` (charge when every item allows) or `peek` (decide, never write).
/// - `ARGV[2 + 5 × (i − 1)] ... ARGV[6 + 5 × (i − 1)]`: item `i`'s algorithm (``RateLimitAlgorithm`` raw
///   value), limit, period in microseconds, burst and cost, as decimal integers.
/// - Reply: a flat array of `5 × n` integers, per item: allowed (0 or 1), limit, remaining (≥ 0), milliseconds
///   until reset, milliseconds until retry (0 when the item allows).
///
/// The script first decides every item without writing; only when all allow and the mode is `check` does it
/// write every item's new state, each with a `PEXPIRE` at the moment the state becomes equivalent to a fresh
/// one. When an item denies, nothing is charged and every item reports its state as it is. The clock is
/// Redis' own `TIME`, in microseconds; the caller's clock is never used.
///
/// State per algorithm:
/// - `gcra`: a string, the theoretical arrival time in microseconds as `"<whole>.<9 fraction digits>"`, so the
///   fractional emission intervals of limits like 3 per second add up exactly.
/// - `token_bucket`: a hash `tokens` (a float) and `ts` (microseconds of the last refill).
/// - `sliding_window`: a hash `window` (start of the current window, microseconds), `current`, `previous`.
/// - `fixed_window`: a hash `window` (start of the counted window, microseconds) and `count`.
enum RateLimitScript {
    /// Whether the script charges.
    enum Mode: String {
        /// Decide and, when every item allows, charge every item.
        case check
        /// Decide only; nothing is written.
        case peek
    }

    /// The number of `ARGV` entries per item.
    static let argumentsPerItem = 5
    /// The number of reply integers per item.
    static let replyIntegersPerItem = 5

    /// The script, loaded by SHA1 and reloaded transparently by ``RedisClient/evalScript(_:keys:arguments:)``.
    static let script = RedisScript(source: Self.source)

    /// The `KEYS` for `items`.
    static func keys(for items: [RateLimitItem]) -> [String] {
        items.map(\.key)
    }

    /// The `ARGV` for `items` in `mode`.
    static func arguments(for items: [RateLimitItem], mode: Mode) -> [String] {
        var arguments = [mode.rawValue]
        arguments.reserveCapacity(1 + Self.argumentsPerItem * items.count)
        for item in items {
            arguments.append(item.algorithm.rawValue)
            arguments.append(String(item.limit))
            arguments.append(String(item.periodMicroseconds))
            arguments.append(String(item.burst))
            arguments.append(String(item.cost))
        }
        return arguments
    }

    /// Parses the script's reply for `itemCount` items.
    ///
    /// - Throws: ``RateLimitReplyError`` when the reply does not have the documented layout.
    static func decision(from reply: RESPValue, itemCount: Int) throws(RateLimitReplyError) -> RateLimitDecision {
        guard let values = reply.array, values.count == Self.replyIntegersPerItem * itemCount else {
            throw RateLimitReplyError(
                reason: "expected an array of \(Self.replyIntegersPerItem * itemCount) integers, got \(reply)"
            )
        }
        var integers: [Int] = []
        integers.reserveCapacity(values.count)
        for value in values {
            guard case .integer = value, let integer = value.int, integer >= 0 else {
                throw RateLimitReplyError(reason: "expected non-negative integers, got \(value) in \(reply)")
            }
            integers.append(integer)
        }
        var items: [RateLimitItemDecision] = []
        items.reserveCapacity(itemCount)
        for start in stride(from: 0, to: integers.count, by: Self.replyIntegersPerItem) {
            items.append(
                RateLimitItemDecision(
                    allowed: integers[start] == 1,
                    limit: integers[start + 1],
                    remaining: integers[start + 2],
                    resetAfter: .milliseconds(integers[start + 3]),
                    retryAfter: .milliseconds(integers[start + 4])
                )
            )
        }
        return RateLimitDecision(items: items)
    }

    /// The Lua source; see the type's documentation for the layout.
    static let source = """
        local mode = ARGV[1]
        if (mode ~= 'check' and mode ~= 'peek') or #ARGV ~= 1 + 5 * #KEYS or #KEYS == 0 then
          return redis.error_reply('ERR rate-limit script: bad arguments (mode, then 5 per key)')
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

        -- Each algorithm decides without writing. It returns: allowed, limit, remaining_now and reset_now
        -- (state as it is), remaining_after and reset_after (after charging, when allowed), retry (µs, when
        -- denied), and write (a function that stores the charged state; nil when nothing changes).

        local function gcra(key, limit, period, burst, cost)
          local interval = period / limit
          local capacity = burst * interval
          local slack = 1e-3 + capacity * 1e-12
          local stored = redis.call('GET', key)
          local backlog = 0
          if stored then
            backlog = math.max(0, since_now(stored))
          end
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
              d.write = function()
                redis.call('SET', key, timestamp_text(after), 'PX', to_ms(after))
              end
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
          local state = redis.call('HMGET', key, 'tokens', 'ts')
          local tokens = burst
          if state[1] and state[2] then
            local elapsed = math.max(0, now - tonumber(state[2]))
            tokens = math.min(burst, tonumber(state[1]) + elapsed / interval)
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
              d.write = function()
                redis.call('HSET', key, 'tokens', string.format('%.17g', left), 'ts', string.format('%.0f', now))
                redis.call('PEXPIRE', key, to_ms(d.reset_after))
              end
            end
          else
            d.allowed = false
            d.retry = (cost - tokens) * interval
          end
          return d
        end

        local function sliding_window(key, limit, period, burst, cost)
          local window = now - (now % period)
          local state = redis.call('HMGET', key, 'window', 'current', 'previous')
          local stored = tonumber(state[1])
          local current, previous = 0, 0
          if stored == window then
            current = tonumber(state[2]) or 0
            previous = tonumber(state[3]) or 0
          elseif stored == window - period then
            previous = tonumber(state[2]) or 0
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
              d.write = function()
                redis.call('HSET', key, 'window', string.format('%.0f', window),
                  'current', current + cost, 'previous', previous)
                redis.call('PEXPIRE', key, to_ms(window + 2 * period - now))
              end
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
          local state = redis.call('HMGET', key, 'window', 'count')
          local count = 0
          if tonumber(state[1]) == window then
            count = tonumber(state[2]) or 0
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
              d.write = function()
                redis.call('HSET', key, 'window', string.format('%.0f', window), 'count', count + cost)
                redis.call('PEXPIRE', key, to_ms(ends))
              end
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

        local decisions = {}
        local all_allowed = true
        for i = 1, #KEYS do
          local base = 2 + 5 * (i - 1)
          local decide = algorithms[ARGV[base]]
          if not decide then
            return redis.error_reply('ERR rate-limit script: unknown algorithm ' .. tostring(ARGV[base]))
          end
          local d = decide(KEYS[i], tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]),
            tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4]))
          decisions[i] = d
          all_allowed = all_allowed and d.allowed
        end

        if all_allowed and mode == 'check' then
          for i = 1, #decisions do
            if decisions[i].write then
              decisions[i].write()
            end
          end
        end

        local reply = {}
        for i = 1, #decisions do
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
        return reply
        """
}
