#!/usr/bin/env bash
# Bad requests against `seqroute serve`: malformed JSON, wrong types, a huge
# body (declared and chunked), unknown session and reservation, negative and
# NaN costs, invalid UTF-8, wrong methods and paths.  Each must get a 4xx
# JSON error {"error": {"code", "message"}} with the expected code, and the
# server must keep serving: a good route follows every bad request.
# Runs on a SQLite ledger file, then on a Redis ledger ($SEQROUTE_REDIS_URL,
# or a private redis-server on loopback; skipped with a message when
# neither) with a key prefix of its own.
set -euo pipefail
: "${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

PYTHONPATH=$here python3 - "$work" <<'PY'
import http.client, json, os, sys
import serve_harness as h

work = sys.argv[1]
policy = h.train_policy(work)

def run(ledger, label):
    """The whole check on `ledger`; `label` names the backend in messages and the log file."""
    server = h.Server(work, policy, ledger, name=label)
    try:
        status, _ = server.request("POST", "/v1/sessions", {"id": "s", "budget": 1000})
        h.check(status == 201, "%s: session not created" % label)
        good = {"session_id": "s", "text": "hello"}

        def chunked(path, size):
            """A body of `size` bytes sent with chunked encoding: no Content-Length to refuse early."""
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.putrequest("POST", path)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            piece = b"x" * 8192
            sent = 0
            while sent < size:
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
            conn.send(b"0\r\n\r\n")
            r = conn.getresponse()
            body = json.loads(r.read())
            conn.close()
            return r.status, body

        cases = [
            ("malformed JSON", "POST", "/v1/route", b'{"session_id": "s", "text": ', 400, "malformed_json"),
            ("not an object", "POST", "/v1/route", b'["s"]', 400, "invalid_field"),
            ("empty body", "POST", "/v1/route", b'', 400, "malformed_json"),
            ("duplicate key", "POST", "/v1/route", b'{"session_id": "s", "session_id": "t", "text": "x"}', 400, "malformed_json"),
            ("session id a number", "POST", "/v1/route", b'{"session_id": 7, "text": "x"}', 400, "invalid_field"),
            ("text a number", "POST", "/v1/route", b'{"session_id": "s", "text": 7}', 400, "invalid_field"),
            ("lambda a string", "POST", "/v1/route", b'{"session_id": "s", "text": "x", "lambda": "1"}', 400, "invalid_field"),
            ("turn negative", "POST", "/v1/route", b'{"session_id": "s", "text": "x", "turn": -1}', 400, "invalid_field"),
            ("turn fractional", "POST", "/v1/route", b'{"session_id": "s", "text": "x", "turn": 1.5}', 400, "invalid_field"),
            ("no text", "POST", "/v1/route", b'{"session_id": "s"}', 400, "invalid_field"),
            ("missing session id", "POST", "/v1/route", b'{"text": "x"}', 400, "missing_field"),
            ("session id with a space", "POST", "/v1/route", b'{"session_id": "a b", "text": "x"}', 400, "invalid_field"),
            ("unknown session", "POST", "/v1/route", b'{"session_id": "nobody", "text": "x"}', 404, "unknown_session"),
            ("unknown session get", "GET", "/v1/sessions/nobody", None, 404, "unknown_session"),
            ("invalid UTF-8", "POST", "/v1/route", b'{"session_id": "s", "text": "caf\xe9"}', 400, "invalid_utf8"),
            ("overlong UTF-8", "POST", "/v1/route", b'{"session_id": "s", "text": "\xc0\xaf"}', 400, "invalid_utf8"),
            ("budget negative", "POST", "/v1/sessions", b'{"id": "n", "budget": -1}', 400, "invalid_field"),
            ("budget a string", "POST", "/v1/sessions", b'{"id": "n", "budget": "10"}', 400, "invalid_field"),
            ("budget overflow", "POST", "/v1/sessions", b'{"id": "n", "budget": 1e400}', 400, "malformed_json"),
            ("session budget conflict", "POST", "/v1/sessions", b'{"id": "s", "budget": 5}', 409, "conflict"),
            ("cost negative", "POST", "/v1/settle", b'{"reservation_id": "r.0", "cost": -0.5}', 400, "invalid_field"),
            ("cost NaN", "POST", "/v1/settle", b'{"reservation_id": "r.0", "cost": NaN}', 400, "malformed_json"),
            ("cost NaN string", "POST", "/v1/settle", b'{"reservation_id": "r.0", "cost": "NaN"}', 400, "invalid_field"),
            ("cost Infinity", "POST", "/v1/settle", b'{"reservation_id": "r.0", "cost": Infinity}', 400, "malformed_json"),
            ("cost and usage", "POST", "/v1/settle", b'{"reservation_id": "r.0", "cost": 1, "usage": {}}', 400, "invalid_field"),
            ("usage tokens negative", "POST", "/v1/settle", b'{"reservation_id": "r.0", "usage": {"output_tokens": -3}}', 400, "invalid_field"),
            ("usage tokens fractional", "POST", "/v1/settle", b'{"reservation_id": "r.0", "usage": {"input_tokens": 2.5}}', 400, "invalid_field"),
            ("unknown reservation", "POST", "/v1/settle", b'{"reservation_id": "nothing.0", "cost": 0.1}', 404, "unknown_reservation"),
            ("unknown reservation release", "POST", "/v1/release", b'{"reservation_id": "nothing.0"}', 404, "unknown_reservation"),
            ("huge body", "POST", "/v1/route", b'{"text": "' + b"a" * (2 << 20) + b'"}', 413, "body_too_large"),
            ("wrong method", "GET", "/v1/route", None, 405, "method_not_allowed"),
            ("unknown path", "POST", "/v2/anything", b'{}', 404, "not_found"),
        ]
        for name, method, path, raw, want_status, want_code in cases:
            case_label = label + ": " + name
            try:
                status, body = server.request(method, path, raw=raw)
            except (ConnectionError, OSError) as e:
                h.fail("%s: connection failed: %s" % (case_label, e))
            h.check(status == want_status, "%s: status %s, expected %s: %s" % (case_label, status, want_status, body))
            h.check(isinstance(body, dict) and set(body) == {"error"}, "%s: not an error body: %s" % (case_label, body))
            h.check(body["error"].get("code") == want_code, "%s: code %s, expected %s" % (case_label, body["error"].get("code"), want_code))
            h.check(isinstance(body["error"].get("message"), str) and body["error"]["message"], "%s: no message" % case_label)
            status, _ = server.request("POST", "/v1/route", good)
            h.check(status == 200, "%s: the next good route got %s" % (case_label, status))
            print("ok: %s: %-28s -> %d %s" % (label, name, want_status, want_code))

        # An empty session id on create is named by its own field, "id".
        status, body = server.request("POST", "/v1/sessions", raw=b'{"id": "", "budget": 1}')
        h.check(status == 400 and body["error"]["code"] == "invalid_field", "%s: empty id: %s %s" % (label, status, body))
        h.check("field id " in body["error"]["message"], "%s: empty id: message names another field: %s" % (label, body))
        print("ok: %s: %-28s -> 400 invalid_field" % (label, "empty session id on create"))

        status, body = chunked("/v1/route", 2 << 20)
        h.check(status == 413 and body["error"]["code"] == "body_too_large", "%s: chunked huge body: %s %s" % (label, status, body))
        h.check(server.request("POST", "/v1/route", good)[0] == 200, "%s: no good route after the chunked body" % label)
        print("ok: %s: %-28s -> 413 body_too_large" % (label, "huge chunked body"))

        h.check(server.request("GET", "/healthz")[0] == 200, "%s: healthz failed at the end" % label)
        log = server.text()
        h.check("request_error" in log and "code=malformed_json" in log, "%s: errors were not logged" % label)
    finally:
        code = server.stop()
    h.check(code == 0, "%s: serve exited %s after SIGTERM" % (label, code))

run("sqlite:" + work + "/ledger.db", "sqlite")

redis = h.Redis(work)
if not redis.url:
    print("SKIP: Redis part: no $SEQROUTE_REDIS_URL and no redis-server to start")
    sys.exit(0)
try:
    run(redis.ledger("seqroute-bad-%d" % os.getpid()), "redis")
finally:
    redis.close()
PY
