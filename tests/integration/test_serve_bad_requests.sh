#!/usr/bin/env bash
# Bad requests against `seqroute serve`: malformed JSON, wrong types, a huge
# body (declared and chunked), unknown session and reservation, negative and
# NaN costs, invalid UTF-8, wrong methods and paths.  Each must get a 4xx
# JSON error {"error": {"code", "message"}} with the expected code, and the
# server must keep serving: a good route follows every bad request.
set -euo pipefail
: "${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

PYTHONPATH=$here python3 - "$work" <<'PY'
import http.client, json, sys
import serve_harness as h

work = sys.argv[1]
policy = h.train_policy(work)
server = h.Server(work, policy, "sqlite:" + work + "/ledger.db")
try:
    status, _ = server.request("POST", "/v1/sessions", {"id": "s", "budget": 1000})
    h.check(status == 201, "session not created")
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
        try:
            status, body = server.request(method, path, raw=raw)
        except (ConnectionError, OSError) as e:
            h.fail("%s: connection failed: %s" % (name, e))
        h.check(status == want_status, "%s: status %s, expected %s: %s" % (name, status, want_status, body))
        h.check(isinstance(body, dict) and set(body) == {"error"}, "%s: not an error body: %s" % (name, body))
        h.check(body["error"].get("code") == want_code, "%s: code %s, expected %s" % (name, body["error"].get("code"), want_code))
        h.check(isinstance(body["error"].get("message"), str) and body["error"]["message"], "%s: no message" % name)
        status, _ = server.request("POST", "/v1/route", good)
        h.check(status == 200, "%s: the next good route got %s" % (name, status))
        print("ok: %-28s -> %d %s" % (name, want_status, want_code))

    # An empty session id on create is named by its own field, "id".
    status, body = server.request("POST", "/v1/sessions", raw=b'{"id": "", "budget": 1}')
    h.check(status == 400 and body["error"]["code"] == "invalid_field", "empty id: %s %s" % (status, body))
    h.check("field id " in body["error"]["message"], "empty id: message names another field: %s" % body)
    print("ok: %-28s -> 400 invalid_field" % "empty session id on create")

    status, body = chunked("/v1/route", 2 << 20)
    h.check(status == 413 and body["error"]["code"] == "body_too_large", "chunked huge body: %s %s" % (status, body))
    h.check(server.request("POST", "/v1/route", good)[0] == 200, "no good route after the chunked body")
    print("ok: %-28s -> 413 body_too_large" % "huge chunked body")

    h.check(server.request("GET", "/healthz")[0] == 200, "healthz failed at the end")
    log = server.text()
    h.check("request_error" in log and "code=malformed_json" in log, "errors were not logged")
finally:
    code = server.stop()
h.check(code == 0, "serve exited %s after SIGTERM" % code)
PY
