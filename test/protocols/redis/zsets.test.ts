/**
 * The sorted-set commands over a real socket: each row's requests, pipelined
 * on one connection to a fresh server, get exactly the bytes Redis 7.0.15
 * replies with (every expected reply below was recorded from that server,
 * request by request) — options and their errors, scores written as
 * `%.17g`, every range form, pops, the algebra, the deterministic cases of
 * ZRANDMEMBER (the rest is in `zsetClients.test.ts`). Past 300 lines: it is
 * a table of recorded replies.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { cmd } from "./support.ts"
import { exchange, provided, redisServer } from "./tcp.ts"

/** 130 members, scored 0 to 129: past what Redis keeps as a listpack. */
const big = Array.from({ length: 130 }, (_, i) => [String(i), `m${i}`]).flat()

const table: ReadonlyArray<readonly [string, ReadonlyArray<readonly [ReadonlyArray<string>, string]>]> = [
  [
    "ZADD: options, their conflicts, all scores read before any is added",
    [
      [["zadd", "z", "1", "a", "2", "b"], ":2\r\n"],
      [["zadd", "z", "nx", "5", "a", "3", "c"], ":1\r\n"],
      [["zadd", "z", "xx", "5", "a", "4", "d"], ":0\r\n"],
      [["zadd", "z", "ch", "6", "a", "2", "b", "7", "e"], ":2\r\n"],
      [["zadd", "z", "gt", "ch", "1", "a", "9", "b"], ":1\r\n"],
      [["zadd", "z", "lt", "ch", "1", "a", "10", "b"], ":1\r\n"],
      [["zadd", "z", "xx", "nx", "1", "a"], "-ERR XX and NX options at the same time are not compatible\r\n"],
      [["zadd", "z", "gt", "lt", "1", "a"], "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"],
      [["zadd", "z", "gt", "nx", "1", "a"], "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"],
      [["zadd", "z", "incr", "1", "a", "2", "b"], "-ERR INCR option supports a single increment-element pair\r\n"],
      [["zadd", "z", "1", "a", "2"], "-ERR syntax error\r\n"],
      [["zadd", "z", "nx"], "-ERR wrong number of arguments for 'zadd' command\r\n"],
      [["zadd", "z", "1", "x", "nan", "y"], "-ERR value is not a valid float\r\n"],
      [["zadd", "z", "", "x"], "-ERR value is not a valid float\r\n"],
      [["zadd", "z", "1e400", "x"], "-ERR value is not a valid float\r\n"],
      [["zadd", "z", " 1", "x"], "-ERR value is not a valid float\r\n"],
      [["zcard", "z"], ":4\r\n"],
      [["zadd", "nokey", "xx", "1", "a"], ":0\r\n"],
      [["exists", "nokey"], ":0\r\n"],
      [["zadd", "nokey", "xx", "incr", "1", "a"], "$-1\r\n"],
      [["zrange", "z", "0", "-1", "withscores"], "*8\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\ne\r\n$1\r\n7\r\n$1\r\nb\r\n$1\r\n9\r\n"]
    ]
  ],
  [
    "ZINCRBY and ZADD INCR: the new score, nil when not updated, NaN refused",
    [
      [["zincrby", "z", "1.5", "a"], "$3\r\n1.5\r\n"],
      [["zincrby", "z", "0.1", "a"], "$18\r\n1.6000000000000001\r\n"],
      [["zadd", "z", "incr", "-1", "a"], "$19\r\n0.60000000000000009\r\n"],
      [["zadd", "z", "nx", "incr", "1", "a"], "$-1\r\n"],
      [["zadd", "z", "lt", "incr", "1", "a"], "$-1\r\n"],
      [["zadd", "z", "gt", "incr", "1", "a"], "$18\r\n1.6000000000000001\r\n"],
      [["zincrby", "z", "+inf", "i"], "$3\r\ninf\r\n"],
      [["zincrby", "z", "-inf", "i"], "-ERR resulting score is not a number (NaN)\r\n"],
      [["zscore", "z", "i"], "$3\r\ninf\r\n"],
      [["zincrby", "z", "x", "a"], "-ERR value is not a valid float\r\n"],
      [["zincrby", "z", "nx", "a"], "-ERR syntax error\r\n"],
      [["zincrby", "z", "1", "a", "2"], "-ERR wrong number of arguments for 'zincrby' command\r\n"]
    ]
  ],
  [
    "scores are written as %.17g, -0 as 0 in a small set",
    [
      [
        [
          "zadd", "f", "0.1", "a", "1.5", "b", "-2.25", "c", "1e17", "d", "123456789012345680", "e", "3.0000000000000004",
          "f", "1e-5", "g", "0.0001", "h", "5e-324", "i", "1.7976931348623157e308", "j", "1000000000000000.25",
          "k", "-inf", "l", "+inf", "m", "-0", "n", "1E3", "o", "-.5", "p", "2.5e-8", "q"
        ],
        ":17\r\n"
      ],
      [
        ["zrange", "f", "0", "-1", "withscores"],
        "*34\r\n$1\r\nl\r\n$4\r\n-inf\r\n$1\r\nc\r\n$5\r\n-2.25\r\n$1\r\np\r\n$4\r\n-0.5\r\n$1\r\nn\r\n" +
          "$1\r\n0\r\n$1\r\ni\r\n$23\r\n4.9406564584124654e-324\r\n$1\r\nq\r\n$22\r\n" +
          "2.4999999999999999e-08\r\n$1\r\ng\r\n$22\r\n1.0000000000000001e-05\r\n$1\r\nh\r\n$6\r\n0.0001\r\n" +
          "$1\r\na\r\n$19\r\n0.10000000000000001\r\n$1\r\nb\r\n$3\r\n1.5\r\n$1\r\nf\r\n$18\r\n" +
          "3.0000000000000004\r\n$1\r\no\r\n$4\r\n1000\r\n$1\r\nk\r\n$18\r\n1000000000000000.2\r\n$1\r\nd\r\n" +
          "$5\r\n1e+17\r\n$1\r\ne\r\n$22\r\n1.2345678901234568e+17\r\n$1\r\nj\r\n$23\r\n" +
          "1.7976931348623157e+308\r\n$1\r\nm\r\n$3\r\ninf\r\n"
      ],
      [["zscore", "f", "n"], "$1\r\n0\r\n"],
      [["zmscore", "f", "a", "nope", "m", "l"], "*4\r\n$19\r\n0.10000000000000001\r\n$-1\r\n$3\r\ninf\r\n$4\r\n-inf\r\n"]
    ]
  ],
  [
    "-0 stays -0 once the set is past a listpack; a stored result small enough becomes one",
    [
      [["zadd", "big", ...big], ":130\r\n"],
      [["zadd", "big", "-0", "m5", "-0", "new"], ":1\r\n"],
      [["zscore", "big", "m5"], "$2\r\n-0\r\n"],
      [["zscore", "big", "new"], "$2\r\n-0\r\n"],
      [["zadd", "long", "-0", "x".repeat(65)], ":1\r\n"],
      [["zscore", "long", "x".repeat(65)], "$2\r\n-0\r\n"],
      [["zunionstore", "u", "1", "long"], ":1\r\n"],
      [["zscore", "u", "x".repeat(65)], "$2\r\n-0\r\n"],
      [["zinterstore", "v", "1", "big", "weights", "1"], ":131\r\n"],
      [["zscore", "v", "new"], "$2\r\n-0\r\n"],
      [["zunion", "1", "long", "withscores"], "*2\r\n$65\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n$2\r\n-0\r\n"]
    ]
  ],
  [
    "ZRANGE by rank, BYSCORE, BYLEX, REV, LIMIT, WITHSCORES, and its errors",
    [
      [["zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d"], ":4\r\n"],
      [["zrange", "z", "0", "-1"], "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"],
      [["zrange", "z", "-2", "-1", "withscores"], "*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n"],
      [["zrange", "z", "-100", "100"], "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"],
      [["zrange", "z", "3", "1"], "*0\r\n"],
      [["zrange", "z", "0", "-1", "rev"], "*4\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n"],
      [["zrange", "z", "(1", "+inf", "byscore", "withscores"], "*6\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n"],
      [["zrange", "z", "+inf", "(1", "byscore", "rev", "limit", "1", "2"], "*2\r\n$1\r\nc\r\n$1\r\nb\r\n"],
      [["zrange", "z", "-", "+", "bylex", "limit", "1", "2"], "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"],
      [["zrange", "z", "0", "-1", "limit", "0", "1"], "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n"],
      [["zrange", "z", "0", "-1", "limit", "0", "-1"], "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"],
      [["zrange", "z", "-", "+", "bylex", "withscores"], "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n"],
      [["zrange", "z", "0", "-1", "rev", "rev"], "-ERR syntax error\r\n"],
      [["zrange", "z", "0", "-1", "byscore", "bylex"], "-ERR syntax error\r\n"],
      [["zrange", "z", "a", "1"], "-ERR value is not an integer or out of range\r\n"],
      [["zrange", "z", "x", "1", "byscore"], "-ERR min or max is not a float\r\n"],
      [["zrange", "z", "a", "b", "bylex"], "-ERR min or max not valid string range item\r\n"],
      [["zrange", "z", "0", "1", "limit", "x", "1"], "-ERR value is not an integer or out of range\r\n"],
      [["zrange", "nokey", "0", "-1"], "*0\r\n"]
    ]
  ],
  [
    "the older range commands accept only what is left to choose",
    [
      [["zadd", "z", "1", "a", "2", "b", "3", "c"], ":3\r\n"],
      [["zrevrange", "z", "0", "1", "withscores"], "*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n"],
      [["zrevrange", "z", "0", "1", "byscore"], "-ERR syntax error\r\n"],
      [["zrangebyscore", "z", "-inf", "+inf", "withscores", "limit", "1", "5"], "*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"],
      [["zrangebyscore", "z", "0", "10", "rev"], "-ERR syntax error\r\n"],
      [["zrangebyscore", "z", "-inf", "+inf", "limit", "-1", "2"], "*0\r\n"],
      [["zrangebyscore", "z", "-inf", "+inf", "limit", "1", "-5"], "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"],
      [["zrangebyscore", "z", "(", "2"], "*2\r\n$1\r\na\r\n$1\r\nb\r\n"],
      [["zrangebyscore", "z", " 1", "1e400"], "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"],
      [["zrangebyscore", "z", "1 ", "2"], "-ERR min or max is not a float\r\n"],
      [["zrangebyscore", "z", "1", "nan"], "-ERR min or max is not a float\r\n"],
      [["zrevrangebyscore", "z", "+inf", "(1"], "*2\r\n$1\r\nc\r\n$1\r\nb\r\n"],
      [["zrangebylex", "z", "-", "+"], "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"],
      [["zrangebylex", "z", "+", "-"], "*0\r\n"],
      [["zrangebylex", "z", "[a", "(c"], "*2\r\n$1\r\na\r\n$1\r\nb\r\n"],
      [["zrangebylex", "z", "-x", "+"], "-ERR min or max not valid string range item\r\n"],
      [["zrangebylex", "z", "a", "[b"], "-ERR min or max not valid string range item\r\n"],
      [["zrevrangebylex", "z", "+", "-", "limit", "0", "2"], "*2\r\n$1\r\nc\r\n$1\r\nb\r\n"],
      [["zrangebylex", "z", "-", "+", "withscores"], "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n"]
    ]
  ],
  [
    "ranges of bytes over unequal scores in a small set: Redis's walk from the ends",
    [
      [["zadd", "m", "1", "c", "2", "a", "3", "d", "4", "b"], ":4\r\n"],
      [["zrangebylex", "m", "[b", "+"], "*4\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\nb\r\n"],
      [["zrevrangebylex", "m", "[c", "-"], "*4\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nc\r\n"],
      [["zlexcount", "m", "[b", "+"], ":4\r\n"],
      [["zlexcount", "m", "-", "[c"], ":2\r\n"],
      [["zremrangebylex", "m", "[b", "[c"], ":2\r\n"],
      [["zrange", "m", "0", "-1"], "*2\r\n$1\r\nd\r\n$1\r\nb\r\n"]
    ]
  ],
  [
    "ZCOUNT, ZLEXCOUNT, ZRANK, ZREVRANK, ZREM, ZREMRANGEBY*",
    [
      [["zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"], ":5\r\n"],
      [["zcount", "z", "(1", "3"], ":2\r\n"],
      [["zcount", "z", "-inf", "+inf"], ":5\r\n"],
      [["zcount", "z", "3", "1"], ":0\r\n"],
      [["zcount", "z", "x", "1"], "-ERR min or max is not a float\r\n"],
      [["zcount", "nokey", "0", "1"], ":0\r\n"],
      [["zlexcount", "z", "-", "+"], ":5\r\n"],
      [["zlexcount", "z", "[b", "(d"], ":2\r\n"],
      [["zlexcount", "z", "b", "d"], "-ERR min or max not valid string range item\r\n"],
      [["zrank", "z", "c"], ":2\r\n"],
      [["zrevrank", "z", "c"], ":2\r\n"],
      [["zrank", "z", "nope"], "$-1\r\n"],
      [["zrank", "nokey", "a"], "$-1\r\n"],
      [["zrem", "z", "a", "nope", "a"], ":1\r\n"],
      [["zremrangebyrank", "z", "0", "0"], ":1\r\n"],
      [["zremrangebyrank", "z", "10", "20"], ":0\r\n"],
      [["zremrangebyrank", "z", "x", "1"], "-ERR value is not an integer or out of range\r\n"],
      [["zremrangebyscore", "z", "(3", "+inf"], ":2\r\n"],
      [["zremrangebyscore", "z", "x", "1"], "-ERR min or max is not a float\r\n"],
      [["zremrangebylex", "z", "-", "(c"], ":0\r\n"],
      [["zremrangebylex", "z", "x", "y"], "-ERR min or max not valid string range item\r\n"],
      [["zrange", "z", "0", "-1", "withscores"], "*2\r\n$1\r\nc\r\n$1\r\n3\r\n"],
      [["zremrangebyrank", "z", "0", "-1"], ":1\r\n"],
      [["exists", "z"], ":0\r\n"]
    ]
  ],
  [
    "ZPOPMIN, ZPOPMAX and ZMPOP, with counts and their errors",
    [
      [["zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d"], ":4\r\n"],
      [["zpopmin", "z"], "*2\r\n$1\r\na\r\n$1\r\n1\r\n"],
      [["zpopmax", "z", "2"], "*4\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nc\r\n$1\r\n3\r\n"],
      [["zpopmin", "z", "0"], "*0\r\n"],
      [["zpopmin", "z", "-1"], "-ERR value is out of range, must be positive\r\n"],
      [["zpopmin", "z", "1", "2"], "-ERR syntax error\r\n"],
      [["zpopmin", "nokey"], "*0\r\n"],
      [["zpopmax", "nokey", "2"], "*0\r\n"],
      [["zmpop", "1", "z", "min"], "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"],
      [["exists", "z"], ":0\r\n"],
      [["zadd", "y", "1", "a", "2", "b"], ":2\r\n"],
      [["zmpop", "2", "nokey", "y", "max", "count", "10"], "*2\r\n$1\r\ny\r\n*2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"],
      [["zmpop", "1", "y", "min"], "*-1\r\n"],
      [["zmpop", "0", "y", "min"], "-ERR numkeys should be greater than 0\r\n"],
      [["zmpop", "a", "y", "min"], "-ERR numkeys should be greater than 0\r\n"],
      [["zmpop", "1", "y"], "-ERR wrong number of arguments for 'zmpop' command\r\n"],
      [["zmpop", "2", "y", "min"], "-ERR syntax error\r\n"],
      [["zmpop", "1", "y", "bad"], "-ERR syntax error\r\n"],
      [["zmpop", "1", "y", "min", "count"], "-ERR syntax error\r\n"],
      [["zmpop", "1", "y", "min", "count", "0"], "-ERR count should be greater than 0\r\n"],
      [["zmpop", "1", "y", "min", "count", "1", "count", "2"], "-ERR syntax error\r\n"],
      [["zmpop", "1", "y", "max", "min"], "-ERR syntax error\r\n"]
    ]
  ],
  [
    "ZUNION, ZINTER, ZDIFF, ZINTERCARD and the STORE forms, over sets too",
    [
      [["zadd", "a", "1", "a", "2", "b", "3", "c"], ":3\r\n"],
      [["zadd", "b", "1", "b", "2", "c", "3", "d"], ":3\r\n"],
      [["sadd", "s", "a", "b", "c"], ":3\r\n"],
      [["zunion", "2", "a", "b", "withscores"], "*8\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n3\r\n$1\r\nc\r\n$1\r\n5\r\n"],
      [["zinter", "2", "a", "b", "weights", "2", "3", "withscores"], "*4\r\n$1\r\nb\r\n$1\r\n7\r\n$1\r\nc\r\n$2\r\n12\r\n"],
      [
        ["zunion", "3", "a", "b", "s", "aggregate", "max", "withscores"],
        "*8\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n3\r\n"
      ],
      [["zinter", "2", "a", "s", "aggregate", "min", "withscores"], "*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\nc\r\n$1\r\n1\r\n"],
      [["zdiff", "2", "a", "b", "withscores"], "*2\r\n$1\r\na\r\n$1\r\n1\r\n"],
      [["zdiff", "2", "a", "a"], "*0\r\n"],
      [["zintercard", "2", "a", "b"], ":2\r\n"],
      [["zintercard", "2", "a", "b", "limit", "1"], ":1\r\n"],
      [["zintercard", "2", "a", "b", "limit", "-1"], "-ERR LIMIT can't be negative\r\n"],
      [["zintercard", "1", "a", "a"], "-ERR syntax error\r\n"],
      [["zunionstore", "d", "2", "a", "b", "weights", "1", "-1"], ":4\r\n"],
      [["zrange", "d", "0", "-1", "withscores"], "*8\r\n$1\r\nd\r\n$2\r\n-3\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\nc\r\n$1\r\n1\r\n"],
      [["zinterstore", "d", "2", "a", "nokey"], ":0\r\n"],
      [["exists", "d"], ":0\r\n"],
      [["zdiffstore", "d", "1", "a"], ":3\r\n"],
      [["zunionstore", "d", "2", "a", "b", "withscores"], "-ERR syntax error\r\n"],
      [["zunion", "0", "a"], "-ERR at least 1 input key is needed for 'zunion' command\r\n"],
      [["zinterstore", "d", "0", "a"], "-ERR at least 1 input key is needed for 'zinterstore' command\r\n"],
      [["zunion", "3", "a", "b"], "-ERR syntax error\r\n"],
      [["zunion", "2", "a", "b", "weights", "1", "x"], "-ERR weight value is not a float\r\n"],
      [["zunion", "2", "a", "b", "aggregate", "avg"], "-ERR syntax error\r\n"],
      [["zdiff", "2", "a", "b", "weights", "1", "1"], "-ERR syntax error\r\n"],
      [["zunion", "x", "a"], "-ERR value is not an integer or out of range\r\n"]
    ]
  ],
  [
    "ZUNIONSTORE and ZINTERSTORE: inf + -inf and inf × 0 count as 0",
    [
      [["zadd", "p", "+inf", "k"], ":1\r\n"],
      [["zadd", "n", "-inf", "k"], ":1\r\n"],
      [["zunionstore", "o", "2", "p", "n"], ":1\r\n"],
      [["zscore", "o", "k"], "$1\r\n0\r\n"],
      [["zinterstore", "o", "2", "p", "n", "weights", "0", "1"], ":1\r\n"],
      [["zscore", "o", "k"], "$4\r\n-inf\r\n"],
      [["zunionstore", "o", "2", "p", "p"], ":1\r\n"],
      [["zscore", "o", "k"], "$3\r\ninf\r\n"],
      [["zunionstore", "o", "1", "n", "weights", "0"], ":1\r\n"],
      [["zrange", "o", "0", "-1", "withscores"], "*2\r\n$1\r\nk\r\n$1\r\n0\r\n"]
    ]
  ],
  [
    "sums are taken from the smallest input to the largest, so they round as in Redis",
    [
      [["zadd", "a", "1e16", "x", "0", "p", "0", "q"], ":3\r\n"],
      [["zadd", "b", "1", "x"], ":1\r\n"],
      [["zadd", "c", "1", "x", "0", "r"], ":2\r\n"],
      [
        ["zunion", "3", "a", "b", "c", "withscores"],
        "*8\r\n$1\r\np\r\n$1\r\n0\r\n$1\r\nq\r\n$1\r\n0\r\n$1\r\nr\r\n$1\r\n0\r\n$1\r\nx\r\n$17\r\n" +
          "10000000000000002\r\n"
      ],
      [["zinter", "3", "a", "b", "c", "withscores"], "*2\r\n$1\r\nx\r\n$17\r\n10000000000000002\r\n"]
    ]
  ],
  [
    "ZRANGESTORE",
    [
      [["zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d"], ":4\r\n"],
      [["zrangestore", "d", "z", "1", "2"], ":2\r\n"],
      [["zrange", "d", "0", "-1", "withscores"], "*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"],
      [["zrangestore", "d", "z", "5", "0", "byscore", "rev", "limit", "0", "2"], ":2\r\n"],
      [["zrange", "d", "0", "-1", "withscores"], "*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n"],
      [["zrangestore", "d", "z", "[b", "[c", "bylex"], ":2\r\n"],
      [["zrangestore", "d", "z", "0", "-1", "withscores"], "-ERR syntax error\r\n"],
      [
        ["zrangestore", "d", "z", "0", "-1", "limit", "1", "2"],
        "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n"
      ],
      [["zrangestore", "d", "nokey", "0", "-1"], ":0\r\n"],
      [["exists", "d"], ":0\r\n"]
    ]
  ],
  [
    "ZRANDMEMBER: counts, WITHSCORES, the whole set when the count covers it",
    [
      [["zrandmember", "nokey"], "$-1\r\n"],
      [["zrandmember", "nokey", "5"], "*0\r\n"],
      [["zadd", "z", "1", "a", "2", "b", "3", "c"], ":3\r\n"],
      [["zrandmember", "z", "0"], "*0\r\n"],
      [["zrandmember", "z", "10", "withscores"], "*6\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\n1\r\n"],
      [["zrandmember", "z", "3"], "*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n"],
      [["zrandmember", "z", "x"], "-ERR value is not an integer or out of range\r\n"],
      [["zrandmember", "z", "1", "bad"], "-ERR syntax error\r\n"],
      [["zrandmember", "z", "1", "withscores", "x"], "-ERR syntax error\r\n"],
      [
        ["zrandmember", "z", "-9223372036854775808"],
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
      ],
      [["zrandmember", "z", "-9223372036854770000", "withscores"], "-ERR value is out of range\r\n"],
      [["zadd", "one", "5", "only"], ":1\r\n"],
      [["zrandmember", "one"], "$4\r\nonly\r\n"],
      [["zrandmember", "one", "-3", "withscores"], "*6\r\n$4\r\nonly\r\n$1\r\n5\r\n$4\r\nonly\r\n$1\r\n5\r\n$4\r\nonly\r\n$1\r\n5\r\n"]
    ]
  ],
  [
    "ZSCAN of a small set: whole, in order, in one call",
    [
      [["zadd", "z", "3", "c", "1", "a", "2", "b"], ":3\r\n"],
      [["zscan", "z", "0"], "*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"],
      [["zscan", "z", "0", "count", "1", "match", "[ab]"], "*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"],
      [["zscan", "z", "0", "count", "0"], "-ERR syntax error\r\n"],
      [["zscan", "z", "x"], "-ERR invalid cursor\r\n"],
      [["zscan", "nokey", "0", "bogus"], "*2\r\n$1\r\n0\r\n*0\r\n"]
    ]
  ],
  [
    "every command refuses a key of another type",
    [
      [["set", "str", "x"], "+OK\r\n"],
      [["zadd", "str", "1", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zincrby", "str", "1", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zrem", "str", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zcard", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zscore", "str", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zmscore", "str", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zrank", "str", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zrange", "str", "0", "1"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zcount", "str", "0", "1"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zlexcount", "str", "-", "+"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zremrangebyrank", "str", "0", "1"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zpopmin", "str", "0"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zmpop", "2", "nokey", "str", "min"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zunion", "2", "nokey", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zrangestore", "d", "str", "0", "1"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zrandmember", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["zscan", "str", "0"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["bzpopmin", "str", "0"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      [["bzmpop", "0", "1", "str", "max"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"]
    ]
  ],
  [
    "blocking pops that find a set, their errors, and inside MULTI",
    [
      [["zadd", "z", "1", "a", "2", "b", "3", "c"], ":3\r\n"],
      [["bzpopmin", "nokey", "z", "0"], "*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n"],
      [["bzpopmax", "z", "0.5"], "*3\r\n$1\r\nz\r\n$1\r\nc\r\n$1\r\n3\r\n"],
      [["bzmpop", "0", "2", "nokey", "z", "min", "count", "5"], "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"],
      [["exists", "z"], ":0\r\n"],
      [["bzpopmin", "z", "x"], "-ERR timeout is not a float or out of range\r\n"],
      [["bzpopmin", "z", "-1"], "-ERR timeout is negative\r\n"],
      [["bzmpop", "x", "1", "z", "min"], "-ERR timeout is not a float or out of range\r\n"],
      [["bzmpop", "0", "0", "z", "min"], "-ERR numkeys should be greater than 0\r\n"],
      [["bzmpop", "0", "1", "z", "bad"], "-ERR syntax error\r\n"],
      [["bzmpop", "0", "1", "z", "min", "count", "0"], "-ERR count should be greater than 0\r\n"],
      [["multi"], "+OK\r\n"],
      [["bzpopmin", "z", "0"], "+QUEUED\r\n"],
      [["bzmpop", "0", "1", "z", "max"], "+QUEUED\r\n"],
      [["exec"], "*2\r\n*-1\r\n*-1\r\n"]
    ]
  ]
]

describe("sorted-set commands over TCP, byte for byte as Redis 7.0.15", () => {
  it.live.each(table)("%s", ([, rows]) =>
    provided(Effect.gen(function*() {
      const { port } = yield* redisServer()
      const expected = rows.map(([, reply]) => reply).join("")
      const input = rows.map(([request]) => cmd(...request)).join("")
      assert.strictEqual(yield* exchange(port, input, expected.length), expected)
    })))
})
