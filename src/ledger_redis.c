/*
 * ledger_redis.c - the budget ledger in Redis, shared by several processes.
 *
 * Every call is one Lua script run by the server (EVALSHA, falling back to
 * EVAL when the server has lost its script cache), so each
 * check-and-update is atomic with respect to every other client.  The
 * client passes its clock reading to the script, so expiry follows the
 * injected clock in tests.  Processes sharing a server should keep their
 * clocks in sync (NTP), because the first client whose clock passes an
 * expiry time sweeps that reservation.
 *
 * Keys, under a prefix P (default "seqroute:"):
 *   P s:SESSION   hash: budget, spent, reserved, overdraft, created_ms,
 *                 admitted (reservations admitted so far)
 *   P so:SESSION  sorted set: the session's held reservations by expiry
 *   P r:RES       hash: session, amount, expires, state, actual,
 *                 overdraft, late, created_ms, closed_ms, model
 *   P open        sorted set: every held reservation by expiry (metrics)
 * Each script first sweeps the session: members of P so:SESSION whose
 * expiry is <= now leave the set and their amounts leave `reserved`.  A
 * reservation whose state is "open" but that is no longer in the set is
 * reported as expired.  Scripts build key names from the prefix inside
 * the server, so this layout needs a single Redis instance, not Cluster.
 * Hashes written before `admitted` and `model` existed read as 0 and "";
 * HINCRBY starts such a count at 0, so it counts from the upgrade on.
 *
 * Numbers: Lua 5.1 numbers are doubles, exact below 2^53, which the limits
 * in ledger.h respect.  Scripts never pass a computed Lua number to
 * redis.call, because Redis formats it with 14 significant digits; they
 * format integers with "%.0f" or pass the caller's decimal strings.
 *
 * Connection: connect and command timeouts from the options.  When a
 * command fails on the connection (reset, EOF, timeout) the backend
 * reconnects once and repeats it.  Repeating is safe because every script
 * is idempotent on its ids: a reserve or settle that did run the first
 * time returns its stored result the second time.
 */
#include "ledger_backend.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* Maximum key prefix length, which keeps keys short. */
#define LEDGER_REDIS_PREFIX_MAX 64

/* Maximum host name length in a URL. */
#define LEDGER_REDIS_HOST_MAX 255

/* Largest database index accepted in a URL (Redis defaults to 16). */
#define LEDGER_REDIS_DB_MAX 1023

#define LEDGER_REDIS_DEFAULT_PORT 6379
#define LEDGER_REDIS_DEFAULT_PREFIX "seqroute:"

/* Helpers shared by every script.  ARGV[1] is the prefix, ARGV[2] now. */
static const char lua_prelude[] =
    "local P = ARGV[1]\n"
    "local now = tonumber(ARGV[2])\n"
    "local MAX_TOTAL = 9007199254740991\n"
    "local gkey = P .. 'open'\n"
    "local function skey(sid) return P .. 's:' .. sid end\n"
    "local function okey(sid) return P .. 'so:' .. sid end\n"
    "local function rkey(rid) return P .. 'r:' .. rid end\n"
    "local function int(x) return string.format('%.0f', x) end\n"
    /* Drop the session's expired reservations from the reserved total. */
    "local function sweep(sid)\n"
    "  local gone = redis.call('ZRANGEBYSCORE', okey(sid), '-inf', ARGV[2])\n"
    "  if #gone == 0 then return end\n"
    "  local total = 0\n"
    "  for _, rid in ipairs(gone) do\n"
    "    total = total + tonumber(redis.call('HGET', rkey(rid), 'amount'))\n"
    "    redis.call('ZREM', gkey, rid)\n"
    "  end\n"
    "  redis.call('ZREMRANGEBYSCORE', okey(sid), '-inf', ARGV[2])\n"
    "  if total > 0 then redis.call('HINCRBY', skey(sid), 'reserved', int(-total)) end\n"
    "end\n"
    /* Reply: code, six session numbers, then eight reservation fields.  A
     * nil would end the Lua array early, so missing fields become 0 or ''. */
    "local function reply(code, sid, rid)\n"
    "  local out = {code}\n"
    "  local v = redis.call('HMGET', skey(sid), 'budget', 'spent', 'reserved', 'overdraft',\n"
    "                       'admitted')\n"
    "  for i = 1, 4 do out[#out + 1] = tonumber(v[i]) end\n"
    "  out[#out + 1] = redis.call('ZCARD', okey(sid))\n"
    "  out[#out + 1] = tonumber(v[5]) or 0\n"
    "  if rid then\n"
    "    local r = redis.call('HMGET', rkey(rid), 'session', 'amount', 'expires', 'state',\n"
    "                         'actual', 'overdraft', 'late', 'model')\n"
    "    local state = r[4]\n"
    "    if state == 'open' and not redis.call('ZSCORE', okey(r[1]), rid) then\n"
    "      state = 'expired'\n"
    "    end\n"
    "    out[#out + 1] = r[1]\n"
    "    out[#out + 1] = state\n"
    "    for i = 2, 3 do out[#out + 1] = tonumber(r[i]) end\n"
    "    for i = 5, 7 do out[#out + 1] = tonumber(r[i]) end\n"
    "    out[#out + 1] = r[8] or ''\n"
    "  end\n"
    "  return out\n"
    "end\n";

/* ARGV[3] session id, ARGV[4] budget.  Set-if-absent, never additive. */
static const char lua_session_create[] =
    "local sid, budget = ARGV[3], tonumber(ARGV[4])\n"
    "if redis.call('EXISTS', skey(sid)) == 1 then\n"
    "  sweep(sid)\n"
    "  if tonumber(redis.call('HGET', skey(sid), 'budget')) ~= budget then\n"
    "    return reply('CONFLICT', sid)\n"
    "  end\n"
    "  return reply('REPLAY', sid)\n"
    "end\n"
    "redis.call('HSET', skey(sid), 'budget', ARGV[4], 'spent', '0', 'reserved', '0',\n"
    "           'overdraft', '0', 'created_ms', ARGV[2], 'admitted', '0')\n"
    "return reply('OK', sid)\n";

/* ARGV[3] session id. */
static const char lua_session_get[] =
    "local sid = ARGV[3]\n"
    "if redis.call('EXISTS', skey(sid)) == 0 then return {'NO_SESSION'} end\n"
    "sweep(sid)\n"
    "return reply('OK', sid)\n";

/* ARGV[3] session id, ARGV[4] reservation id, ARGV[5] amount, ARGV[6] expiry,
 * ARGV[7] model ("" for none). */
static const char lua_reserve[] =
    "local sid, rid, amount = ARGV[3], ARGV[4], tonumber(ARGV[5])\n"
    "if redis.call('EXISTS', rkey(rid)) == 1 then\n"
    "  local r = redis.call('HMGET', rkey(rid), 'session', 'amount', 'model')\n"
    "  sweep(r[1])\n"
    "  if r[1] ~= sid or tonumber(r[2]) ~= amount or (r[3] or '') ~= ARGV[7] then\n"
    "    return reply('CONFLICT', r[1], rid)\n"
    "  end\n"
    "  return reply('REPLAY', sid, rid)\n"
    "end\n"
    "if redis.call('EXISTS', skey(sid)) == 0 then return {'NO_SESSION'} end\n"
    "sweep(sid)\n"
    "local v = redis.call('HMGET', skey(sid), 'budget', 'spent', 'reserved')\n"
    "if tonumber(v[2]) + tonumber(v[3]) + amount > tonumber(v[1]) then\n"
    "  return reply('REJECTED', sid)\n"
    "end\n"
    "redis.call('HSET', rkey(rid), 'session', sid, 'amount', ARGV[5], 'expires', ARGV[6],\n"
    "           'state', 'open', 'actual', '0', 'overdraft', '0', 'late', '0',\n"
    "           'created_ms', ARGV[2], 'model', ARGV[7])\n"
    "redis.call('ZADD', okey(sid), ARGV[6], rid)\n"
    "redis.call('ZADD', gkey, ARGV[6], rid)\n"
    "redis.call('HINCRBY', skey(sid), 'reserved', ARGV[5])\n"
    "redis.call('HINCRBY', skey(sid), 'admitted', '1')\n"
    "return reply('OK', sid, rid)\n";

/* ARGV[3] reservation id, ARGV[4] actual cost.  Same rule as
 * sr_ledger_rule_settle in ledger.c. */
static const char lua_settle[] =
    "local rid, actual = ARGV[3], tonumber(ARGV[4])\n"
    "if redis.call('EXISTS', rkey(rid)) == 0 then return {'NO_RESERVATION'} end\n"
    "local r = redis.call('HMGET', rkey(rid), 'session', 'amount', 'state', 'actual')\n"
    "local sid, amount = r[1], tonumber(r[2])\n"
    "sweep(sid)\n"
    "if r[3] == 'settled' then\n"
    "  if tonumber(r[4]) ~= actual then return reply('CONFLICT', sid, rid) end\n"
    "  return reply('REPLAY', sid, rid)\n"
    "end\n"
    "local held = r[3] == 'open' and redis.call('ZSCORE', okey(sid), rid) ~= false\n"
    "local v = redis.call('HMGET', skey(sid), 'budget', 'spent', 'reserved', 'overdraft')\n"
    "local excess = 0\n"
    "if held then\n"
    "  if actual > amount then excess = actual - amount end\n"
    "else\n"
    "  local free = tonumber(v[1]) - tonumber(v[2]) - tonumber(v[3])\n"
    "  if free < 0 then free = 0 end\n"
    "  if actual > free then excess = actual - free end\n"
    "end\n"
    "if tonumber(v[2]) + actual > MAX_TOTAL or tonumber(v[4]) + excess > MAX_TOTAL then\n"
    "  return reply('OVERFLOW', sid, rid)\n"
    "end\n"
    "if held then\n"
    "  redis.call('ZREM', okey(sid), rid)\n"
    "  redis.call('ZREM', gkey, rid)\n"
    "  if amount > 0 then redis.call('HINCRBY', skey(sid), 'reserved', int(-amount)) end\n"
    "end\n"
    "local late = '1'\n"
    "if held then late = '0' end\n"
    "redis.call('HSET', rkey(rid), 'state', 'settled', 'actual', ARGV[4],\n"
    "           'overdraft', int(excess), 'late', late, 'closed_ms', ARGV[2])\n"
    "redis.call('HINCRBY', skey(sid), 'spent', ARGV[4])\n"
    "redis.call('HINCRBY', skey(sid), 'overdraft', int(excess))\n"
    "return reply('OK', sid, rid)\n";

/* ARGV[3] reservation id. */
static const char lua_release[] =
    "local rid = ARGV[3]\n"
    "if redis.call('EXISTS', rkey(rid)) == 0 then return {'NO_RESERVATION'} end\n"
    "local r = redis.call('HMGET', rkey(rid), 'session', 'amount', 'state')\n"
    "local sid, amount = r[1], tonumber(r[2])\n"
    "sweep(sid)\n"
    "if r[3] ~= 'open' then return reply('REPLAY', sid, rid) end\n"
    "if redis.call('ZSCORE', okey(sid), rid) then\n"
    "  redis.call('ZREM', okey(sid), rid)\n"
    "  redis.call('ZREM', gkey, rid)\n"
    "  if amount > 0 then redis.call('HINCRBY', skey(sid), 'reserved', int(-amount)) end\n"
    "end\n"
    "redis.call('HSET', rkey(rid), 'state', 'released', 'closed_ms', ARGV[2])\n"
    "return reply('OK', sid, rid)\n";

/* ARGV[3] reservation id. */
static const char lua_reservation_get[] =
    "local rid = ARGV[3]\n"
    "if redis.call('EXISTS', rkey(rid)) == 0 then return {'NO_RESERVATION'} end\n"
    "local sid = redis.call('HGET', rkey(rid), 'session')\n"
    "sweep(sid)\n"
    "return reply('OK', sid, rid)\n";

/* No extra arguments. */
static const char lua_count_open[] =
    "redis.call('ZREMRANGEBYSCORE', gkey, '-inf', ARGV[2])\n"
    "return {'OK', redis.call('ZCARD', gkey)}\n";

enum {
    S_SESSION_CREATE,
    S_SESSION_GET,
    S_RESERVE,
    S_SETTLE,
    S_RELEASE,
    S_RESERVATION_GET,
    S_COUNT_OPEN,
    S_COUNT
};

static const char *const script_body[S_COUNT] = {
    [S_SESSION_CREATE] = lua_session_create,
    [S_SESSION_GET] = lua_session_get,
    [S_RESERVE] = lua_reserve,
    [S_SETTLE] = lua_settle,
    [S_RELEASE] = lua_release,
    [S_RESERVATION_GET] = lua_reservation_get,
    [S_COUNT_OPEN] = lua_count_open,
};

typedef struct redis_ledger {
    redisContext *context;
    char host[LEDGER_REDIS_HOST_MAX + 1];
    int port;
    int db;
    char prefix[LEDGER_REDIS_PREFIX_MAX + 1];
    struct timeval connect_timeout;
    struct timeval command_timeout;
    char *script[S_COUNT]; /* prelude + body */
    char sha[S_COUNT][41];
} redis_ledger;

/* ---- connection -------------------------------------------------------- */

static struct timeval timeval_from_ms(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

static void disconnect(redis_ledger *ledger)
{
    if (ledger->context != NULL)
        redisFree(ledger->context);
    ledger->context = NULL;
}

static sr_status unavailable(redis_ledger *ledger, const char *what, const char *detail,
                             sr_error *err)
{
    return sr_error_set(err, SR_ERR_UNAVAILABLE, NULL, 0, "ledger",
                        "Redis ledger at %s:%d: %s failed: %s; check that redis-server is "
                        "running and reachable",
                        ledger->host, ledger->port, what, detail);
}

/* Runs one command that must not fail during connection set-up. */
static sr_status setup_command(redis_ledger *ledger, int argc, const char **argv,
                               redisReply **out_reply, sr_error *err)
{
    redisReply *reply = redisCommandArgv(ledger->context, argc, argv, NULL);
    if (reply == NULL)
        return unavailable(ledger, argv[0], ledger->context->errstr, err);
    if (reply->type == REDIS_REPLY_ERROR) {
        sr_status status = sr_error_set(err, SR_ERR_IO, NULL, 0, "ledger",
                                        "Redis ledger at %s:%d: %s returned an error: %s",
                                        ledger->host, ledger->port, argv[0], reply->str);
        freeReplyObject(reply);
        return status;
    }
    if (out_reply != NULL)
        *out_reply = reply;
    else
        freeReplyObject(reply);
    return SR_OK;
}

/* Connects, selects the database and loads the scripts. */
static sr_status connect_server(redis_ledger *ledger, sr_error *err)
{
    disconnect(ledger);
    ledger->context = redisConnectWithTimeout(ledger->host, ledger->port, ledger->connect_timeout);
    if (ledger->context == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory connecting to Redis");
    if (ledger->context->err != 0) {
        sr_status status = unavailable(ledger, "connect", ledger->context->errstr, err);
        disconnect(ledger);
        return status;
    }
    if (redisSetTimeout(ledger->context, ledger->command_timeout) != REDIS_OK) {
        sr_status status = unavailable(ledger, "setting the timeout", ledger->context->errstr, err);
        disconnect(ledger);
        return status;
    }

    sr_status status = SR_OK;
    if (ledger->db != 0) {
        char db_text[16];
        snprintf(db_text, sizeof(db_text), "%d", ledger->db);
        const char *argv[] = {"SELECT", db_text};
        status = setup_command(ledger, 2, argv, NULL, err);
    }

    for (int i = 0; i < S_COUNT && status == SR_OK; i++) {
        const char *argv[] = {"SCRIPT", "LOAD", ledger->script[i]};
        redisReply *reply = NULL;
        status = setup_command(ledger, 3, argv, &reply, err);
        if (status != SR_OK)
            break;
        if (reply->type != REDIS_REPLY_STRING || reply->len != 40)
            status = sr_error_set(err, SR_ERR_IO, NULL, 0, "ledger",
                                  "Redis ledger: SCRIPT LOAD returned no SHA1 digest");
        else
            memcpy(ledger->sha[i], reply->str, 41);
        freeReplyObject(reply);
    }

    if (status != SR_OK)
        disconnect(ledger);
    return status;
}

/* True when a NULL reply came from the connection (worth a reconnect). */
static bool connection_failed(const redis_ledger *ledger)
{
    return ledger->context == NULL || ledger->context->err == REDIS_ERR_IO ||
           ledger->context->err == REDIS_ERR_EOF;
}

/*
 * Runs script `which` with `argc` arguments after the prefix and the
 * time.  Reconnects once after a connection failure; re-sends the source
 * with EVAL when the server answers NOSCRIPT.  Returns an array reply the
 * caller frees.
 */
static sr_status run_script(redis_ledger *ledger, int which, int64_t now, int argc,
                            const char **args, redisReply **out_reply, sr_error *err)
{
    enum { FIXED_ARGS = 5, MAX_ARGS = 5 };
    const char *argv[FIXED_ARGS + MAX_ARGS];
    char now_text[24];
    snprintf(now_text, sizeof(now_text), "%" PRId64, now);

    argv[1] = NULL;
    argv[2] = "0";
    argv[3] = ledger->prefix;
    argv[4] = now_text;
    for (int i = 0; i < argc; i++)
        argv[FIXED_ARGS + i] = args[i];

    redisReply *reply = NULL;
    for (int attempt = 0; attempt < 2 && reply == NULL; attempt++) {
        if (ledger->context == NULL) {
            sr_status status = connect_server(ledger, err);
            if (status != SR_OK)
                return status;
        }

        argv[0] = "EVALSHA";
        argv[1] = ledger->sha[which];
        reply = redisCommandArgv(ledger->context, FIXED_ARGS + argc, argv, NULL);
        if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
            strncmp(reply->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(reply);
            argv[0] = "EVAL";
            argv[1] = ledger->script[which];
            reply = redisCommandArgv(ledger->context, FIXED_ARGS + argc, argv, NULL);
        }

        if (reply == NULL) {
            if (!connection_failed(ledger) || attempt == 1) {
                sr_status status = unavailable(ledger, "a command", ledger->context->errstr, err);
                disconnect(ledger);
                return status;
            }
            sr_log(SR_LOG_WARN, "ledger_redis_reconnect host=%s port=%d error=\"%s\"", ledger->host,
                   ledger->port, ledger->context->errstr);
            disconnect(ledger);
        }
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        sr_status status = sr_error_set(err, SR_ERR_IO, NULL, 0, "ledger",
                                        "Redis ledger script failed: %s", reply->str);
        freeReplyObject(reply);
        return status;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(reply);
        return sr_error_set(err, SR_ERR_INTERNAL, NULL, 0, "ledger",
                            "Redis ledger script returned an unexpected reply");
    }
    *out_reply = reply;
    return SR_OK;
}

/* ---- reply parsing ----------------------------------------------------- */

/* Reply layout from the Lua `reply` helper. */
enum {
    R_CODE = 0,
    R_BUDGET,
    R_SPENT,
    R_RESERVED,
    R_OVERDRAFT,
    R_OPEN,
    R_ADMITTED,
    R_SESSION_FIELDS,
    R_RES_SESSION = R_SESSION_FIELDS,
    R_RES_STATE,
    R_RES_AMOUNT,
    R_RES_EXPIRES,
    R_RES_ACTUAL,
    R_RES_OVERDRAFT,
    R_RES_LATE,
    R_RES_MODEL,
    R_RES_FIELDS
};

static bool code_is(const redisReply *reply, const char *code)
{
    return strcmp(reply->element[R_CODE]->str, code) == 0;
}

static int64_t integer_at(const redisReply *reply, size_t index)
{
    const redisReply *item = reply->element[index];
    return item->type == REDIS_REPLY_INTEGER ? (int64_t)item->integer : 0;
}

static sr_status malformed(sr_error *err)
{
    return sr_error_set(err, SR_ERR_INTERNAL, NULL, 0, "ledger",
                        "Redis ledger script returned a reply with missing fields");
}

static sr_status parse_session(const redisReply *reply, const char *session_id,
                               sr_ledger_session *out, sr_error *err)
{
    if (reply->elements < R_SESSION_FIELDS)
        return malformed(err);
    for (size_t i = R_BUDGET; i < R_SESSION_FIELDS; i++)
        if (reply->element[i]->type != REDIS_REPLY_INTEGER)
            return malformed(err);

    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", session_id);
    out->budget = integer_at(reply, R_BUDGET);
    out->spent = integer_at(reply, R_SPENT);
    out->reserved = integer_at(reply, R_RESERVED);
    out->overdraft = integer_at(reply, R_OVERDRAFT);
    out->open_reservations = integer_at(reply, R_OPEN);
    out->reservations_admitted = integer_at(reply, R_ADMITTED);
    out->remaining = out->budget - out->spent - out->reserved;
    return SR_OK;
}

static sr_status parse_reservation(const redisReply *reply, const char *reservation_id,
                                   sr_ledger_reservation *out, sr_error *err)
{
    if (reply->elements < R_RES_FIELDS ||
        reply->element[R_RES_SESSION]->type != REDIS_REPLY_STRING ||
        reply->element[R_RES_STATE]->type != REDIS_REPLY_STRING ||
        reply->element[R_RES_MODEL]->type != REDIS_REPLY_STRING)
        return malformed(err);

    memset(out, 0, sizeof(*out));
    const char *session_id = reply->element[R_RES_SESSION]->str;
    sr_status status = parse_session(reply, session_id, &out->session, err);
    if (status != SR_OK)
        return status;

    snprintf(out->id, sizeof(out->id), "%s", reservation_id);
    snprintf(out->session_id, sizeof(out->session_id), "%s", session_id);
    const char *state = reply->element[R_RES_STATE]->str;
    if (strcmp(state, "open") == 0)
        out->state = SR_LEDGER_OPEN;
    else if (strcmp(state, "settled") == 0)
        out->state = SR_LEDGER_SETTLED;
    else if (strcmp(state, "released") == 0)
        out->state = SR_LEDGER_RELEASED;
    else if (strcmp(state, "expired") == 0)
        out->state = SR_LEDGER_EXPIRED;
    else
        return malformed(err);
    out->amount = integer_at(reply, R_RES_AMOUNT);
    out->expires_at_ms = integer_at(reply, R_RES_EXPIRES);
    out->actual = integer_at(reply, R_RES_ACTUAL);
    out->overdraft = integer_at(reply, R_RES_OVERDRAFT);
    out->late = integer_at(reply, R_RES_LATE) != 0;
    snprintf(out->model, sizeof(out->model), "%s", reply->element[R_RES_MODEL]->str);
    out->replayed = code_is(reply, "REPLAY");
    return SR_OK;
}

static sr_status no_session(const char *session_id, sr_error *err)
{
    return sr_error_set(err, SR_ERR_NOT_FOUND, NULL, 0, "session_id",
                        "session '%s' not found; create it first", session_id);
}

static sr_status no_reservation(const char *reservation_id, sr_error *err)
{
    return sr_error_set(err, SR_ERR_NOT_FOUND, NULL, 0, "reservation_id",
                        "reservation '%s' not found", reservation_id);
}

/* ---- backend functions ------------------------------------------------ */

static sr_status redis_ping(void *impl, sr_error *err)
{
    redis_ledger *ledger = impl;
    redisReply *reply = NULL;
    sr_status status = run_script(ledger, S_COUNT_OPEN, 0, 0, NULL, &reply, err);
    if (status == SR_OK)
        freeReplyObject(reply);
    return status;
}

static sr_status redis_session_create(void *impl, const char *session_id, int64_t budget,
                                      int64_t now, sr_ledger_session *out, bool *created,
                                      sr_error *err)
{
    redis_ledger *ledger = impl;
    char budget_text[24];
    snprintf(budget_text, sizeof(budget_text), "%" PRId64, budget);
    const char *args[] = {session_id, budget_text};
    redisReply *reply = NULL;
    *created = false;

    sr_status status = run_script(ledger, S_SESSION_CREATE, now, 2, args, &reply, err);
    if (status != SR_OK)
        return status;
    status = parse_session(reply, session_id, out, err);
    if (status == SR_OK && code_is(reply, "CONFLICT"))
        status = sr_error_set(err, SR_ERR_CONFLICT, NULL, 0, "budget",
                              "session '%s' exists with budget %" PRId64
                              " micro-units, not %" PRId64 "; use a new session id",
                              session_id, out->budget, budget);
    if (status == SR_OK)
        *created = code_is(reply, "OK");
    freeReplyObject(reply);
    return status;
}

static sr_status redis_session_get(void *impl, const char *session_id, int64_t now,
                                   sr_ledger_session *out, sr_error *err)
{
    redis_ledger *ledger = impl;
    const char *args[] = {session_id};
    redisReply *reply = NULL;

    sr_status status = run_script(ledger, S_SESSION_GET, now, 1, args, &reply, err);
    if (status != SR_OK)
        return status;
    if (code_is(reply, "NO_SESSION"))
        status = no_session(session_id, err);
    else
        status = parse_session(reply, session_id, out, err);
    freeReplyObject(reply);
    return status;
}

static sr_status redis_reserve(void *impl, const char *session_id, const char *reservation_id,
                               int64_t amount, int64_t expires_at, int64_t now,
                               const char *model, sr_ledger_reservation *out, sr_error *err)
{
    redis_ledger *ledger = impl;
    char amount_text[24];
    char expires_text[24];
    snprintf(amount_text, sizeof(amount_text), "%" PRId64, amount);
    snprintf(expires_text, sizeof(expires_text), "%" PRId64, expires_at);
    const char *args[] = {session_id, reservation_id, amount_text, expires_text, model};
    redisReply *reply = NULL;

    sr_status status = run_script(ledger, S_RESERVE, now, 5, args, &reply, err);
    if (status != SR_OK)
        return status;

    if (code_is(reply, "NO_SESSION")) {
        status = no_session(session_id, err);
    } else if (code_is(reply, "REJECTED")) {
        memset(out, 0, sizeof(*out));
        status = parse_session(reply, session_id, &out->session, err);
        if (status == SR_OK)
            status = sr_error_set(err, SR_ERR_REJECTED, NULL, 0, "amount",
                                  "reserving %" PRId64 " micro-units on session '%s' would "
                                  "exceed its budget: %" PRId64 " remaining",
                                  amount, session_id, out->session.remaining);
    } else {
        status = parse_reservation(reply, reservation_id, out, err);
        if (status == SR_OK && code_is(reply, "CONFLICT"))
            status = sr_error_set(err, SR_ERR_CONFLICT, NULL, 0, "reservation_id",
                                  "reservation '%s' exists for session '%s' with %" PRId64
                                  " micro-units and model '%s'; use a new reservation id",
                                  reservation_id, out->session_id, out->amount, out->model);
    }
    freeReplyObject(reply);
    return status;
}

static sr_status redis_settle(void *impl, const char *reservation_id, int64_t actual,
                              int64_t now, sr_ledger_reservation *out, sr_error *err)
{
    redis_ledger *ledger = impl;
    char actual_text[24];
    snprintf(actual_text, sizeof(actual_text), "%" PRId64, actual);
    const char *args[] = {reservation_id, actual_text};
    redisReply *reply = NULL;

    sr_status status = run_script(ledger, S_SETTLE, now, 2, args, &reply, err);
    if (status != SR_OK)
        return status;

    if (code_is(reply, "NO_RESERVATION")) {
        status = no_reservation(reservation_id, err);
    } else {
        status = parse_reservation(reply, reservation_id, out, err);
        if (status == SR_OK && code_is(reply, "CONFLICT"))
            status = sr_error_set(err, SR_ERR_CONFLICT, NULL, 0, "actual",
                                  "reservation '%s' was settled with %" PRId64
                                  " micro-units, not %" PRId64,
                                  reservation_id, out->actual, actual);
        else if (status == SR_OK && code_is(reply, "OVERFLOW"))
            status = sr_error_set(err, SR_ERR_INVALID, NULL, 0, "actual",
                                  "settling %" PRId64 " micro-units would take the session's "
                                  "spent total past the ledger's maximum of %" PRId64
                                  "; open a new session",
                                  actual, SR_LEDGER_MAX_TOTAL);
    }
    freeReplyObject(reply);
    return status;
}

static sr_status redis_release(void *impl, const char *reservation_id, int64_t now,
                               sr_ledger_reservation *out, sr_error *err)
{
    redis_ledger *ledger = impl;
    const char *args[] = {reservation_id};
    redisReply *reply = NULL;

    sr_status status = run_script(ledger, S_RELEASE, now, 1, args, &reply, err);
    if (status != SR_OK)
        return status;
    if (code_is(reply, "NO_RESERVATION"))
        status = no_reservation(reservation_id, err);
    else
        status = parse_reservation(reply, reservation_id, out, err);
    freeReplyObject(reply);
    return status;
}

static sr_status redis_reservation_get(void *impl, const char *reservation_id, int64_t now,
                                       sr_ledger_reservation *out, sr_error *err)
{
    redis_ledger *ledger = impl;
    const char *args[] = {reservation_id};
    redisReply *reply = NULL;

    sr_status status = run_script(ledger, S_RESERVATION_GET, now, 1, args, &reply, err);
    if (status != SR_OK)
        return status;
    if (code_is(reply, "NO_RESERVATION"))
        status = no_reservation(reservation_id, err);
    else
        status = parse_reservation(reply, reservation_id, out, err);
    freeReplyObject(reply);
    return status;
}

static sr_status redis_count_open(void *impl, int64_t now, int64_t *out_count, sr_error *err)
{
    redis_ledger *ledger = impl;
    redisReply *reply = NULL;

    sr_status status = run_script(ledger, S_COUNT_OPEN, now, 0, NULL, &reply, err);
    if (status != SR_OK)
        return status;
    if (reply->elements < 2 || reply->element[1]->type != REDIS_REPLY_INTEGER)
        status = malformed(err);
    else
        *out_count = (int64_t)reply->element[1]->integer;
    freeReplyObject(reply);
    return status;
}

static void redis_close(void *impl)
{
    redis_ledger *ledger = impl;
    if (ledger == NULL)
        return;
    disconnect(ledger);
    for (int i = 0; i < S_COUNT; i++)
        free(ledger->script[i]);
    free(ledger);
}

static const sr_ledger_backend_ops redis_ops = {
    .name = "redis",
    .close = redis_close,
    .ping = redis_ping,
    .session_create = redis_session_create,
    .session_get = redis_session_get,
    .reserve = redis_reserve,
    .settle = redis_settle,
    .release = redis_release,
    .reservation_get = redis_reservation_get,
    .count_open = redis_count_open,
};

/* ---- URL parsing and opening ------------------------------------------- */

static sr_status bad_url(const char *url, const char *problem, sr_error *err)
{
    return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "ledger",
                        "ledger URL '%s': %s; use redis://HOST:PORT[/DB][?prefix=P]", url,
                        problem);
}

/* Parses a decimal integer in [low, high] from [begin, end). */
static bool parse_bounded(const char *begin, const char *end, long low, long high, int *out)
{
    if (begin == end || end - begin > 9)
        return false;
    long value = 0;
    for (const char *p = begin; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        value = value * 10 + (*p - '0');
    }
    if (value < low || value > high)
        return false;
    *out = (int)value;
    return true;
}

static sr_status parse_url(redis_ledger *ledger, const char *url, const char *prefix_option,
                           sr_error *err)
{
    const char *p = url + strlen("redis://");

    /* HOST */
    const char *host_end = p + strcspn(p, ":/?");
    size_t host_length = (size_t)(host_end - p);
    if (host_length == 0)
        return bad_url(url, "the host is missing", err);
    if (host_length > LEDGER_REDIS_HOST_MAX)
        return bad_url(url, "the host name is too long", err);
    for (const char *c = p; c < host_end; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_';
        if (!ok)
            return bad_url(url, "the host contains a character other than letters, digits, "
                                "'.', '-' and '_'",
                           err);
    }
    memcpy(ledger->host, p, host_length);
    ledger->host[host_length] = '\0';
    p = host_end;

    /* :PORT */
    ledger->port = LEDGER_REDIS_DEFAULT_PORT;
    if (*p == ':') {
        const char *port_end = p + 1 + strcspn(p + 1, "/?");
        if (!parse_bounded(p + 1, port_end, 1, 65535, &ledger->port))
            return bad_url(url, "the port is not a number from 1 to 65535", err);
        p = port_end;
    }

    /* /DB */
    ledger->db = 0;
    if (*p == '/') {
        const char *db_end = p + 1 + strcspn(p + 1, "?");
        if (db_end != p + 1 && !parse_bounded(p + 1, db_end, 0, LEDGER_REDIS_DB_MAX, &ledger->db))
            return bad_url(url, "the database is not a number from 0 to 1023", err);
        p = db_end;
    }

    /* ?prefix=P (the only query parameter) */
    const char *prefix = LEDGER_REDIS_DEFAULT_PREFIX;
    if (*p == '?') {
        static const char key[] = "prefix=";
        if (strncmp(p + 1, key, sizeof(key) - 1) != 0)
            return bad_url(url, "the only query parameter is prefix=", err);
        prefix = p + 1 + sizeof(key) - 1;
    } else if (*p != '\0') {
        return bad_url(url, "unexpected text after the host", err);
    }
    if (prefix_option != NULL)
        prefix = prefix_option;

    size_t prefix_length = strlen(prefix);
    if (prefix_length == 0 || prefix_length > LEDGER_REDIS_PREFIX_MAX)
        return bad_url(url, "the key prefix must be 1 to 64 characters", err);
    for (const unsigned char *c = (const unsigned char *)prefix; *c != '\0'; c++)
        if (*c < 0x21 || *c > 0x7e)
            return bad_url(url, "the key prefix must be printable ASCII without spaces", err);
    memcpy(ledger->prefix, prefix, prefix_length + 1);
    return SR_OK;
}

sr_status sr_ledger_redis_open(const char *url, const sr_ledger_options *options,
                               const sr_ledger_backend_ops **ops, void **impl, sr_error *err)
{
    redis_ledger *ledger = calloc(1, sizeof(*ledger));
    if (ledger == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory opening ledger");

    sr_status status = parse_url(ledger, url, options->redis_prefix, err);
    if (status != SR_OK)
        goto out;
    ledger->connect_timeout = timeval_from_ms(options->connect_timeout_ms);
    ledger->command_timeout = timeval_from_ms(options->command_timeout_ms);

    /* Each script is the shared prelude followed by its body. */
    for (int i = 0; i < S_COUNT; i++) {
        size_t length = strlen(lua_prelude) + strlen(script_body[i]) + 1;
        ledger->script[i] = malloc(length);
        if (ledger->script[i] == NULL) {
            status = sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory opening ledger");
            goto out;
        }
        snprintf(ledger->script[i], length, "%s%s", lua_prelude, script_body[i]);
    }

    status = connect_server(ledger, err);

out:
    if (status != SR_OK) {
        redis_close(ledger);
        return status;
    }
    *ops = &redis_ops;
    *impl = ledger;
    return SR_OK;
}
