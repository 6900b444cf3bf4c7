#!/usr/bin/env bash
# Drain: SIGTERM `seqroute serve` while route requests are in flight and check
# that every request the server accepted got a complete response.  Two kinds of
# request are in flight at the signal: slow clients that have sent their
# headers and half of their body (the server has started them and must wait
# for the rest), and a burst of parallel routes.  Every burst request must end
# with a complete 200 response or with no response byte at all (refused before
# the server read it).  The process must exit 0 and log serve_stop with no
# request abandoned.  Last, a restart on the same ledger checks that the
# number of routes the ledger admitted equals the number of 200 responses the
# clients received, so no admitted route lost its response.
set -euo pipefail
: "${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

PYTHONPATH=$here python3 - "$work" <<'PY'
import http.client, json, re, signal, socket, sys, threading, time
import serve_harness as h

work = sys.argv[1]
policy = h.train_policy(work)
ledger = "sqlite:" + work + "/ledger.db"

# Slow clients hold a request open across the signal; burst threads keep
# sending routes until the server stops responding.
SLOW_CLIENTS = 4
BURST_THREADS = 16
# Seconds the slow clients wait after the signal before sending the rest of
# their body: long enough that the server is draining, far below --drain.
SLOW_DELAY = 1.0

server = h.Server(work, policy, ledger, extra=("--drain", "30"))
status, _ = server.request("POST", "/v1/sessions", {"id": "d", "budget": 1e6})
h.check(status == 201, "session not created")

def read_all(sock):
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)

def parse_response(raw):
    """Returns (status, JSON body) of one complete HTTP/1.1 response, or fails."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    h.check(sep == b"\r\n\r\n", "response without the end of its headers: %r" % raw[:200])
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = [int(l.split(":", 1)[1]) for l in lines[1:] if l.lower().startswith("content-length:")]
    h.check(length and len(body) == length[0], "truncated body: %d of %s bytes" % (len(body), length))
    return status, json.loads(body)

# Slow clients: headers and half of the body now, the rest after the signal.
slow = []
for i in range(SLOW_CLIENTS):
    body = json.dumps({"session_id": "d", "text": "slow turn %d" % i}).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    sock.sendall(b"POST /v1/route HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:len(body) // 2])
    slow.append((sock, body[len(body) // 2:]))

# The burst: each thread routes on new connections until one is not accepted.
stop_burst = threading.Event()
results = []
lock = threading.Lock()
def burst(k):
    n = 0
    while not stop_burst.is_set():
        n += 1
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            conn.request("POST", "/v1/route", body=json.dumps({"session_id": "d", "text": "burst %d %d" % (k, n)}),
                         headers={"Content-Type": "application/json"})
        except OSError:
            with lock:
                results.append(("not_accepted", None))
            return
        try:
            response = conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            with lock:  # closed before any response byte: the server never started it
                results.append(("not_accepted", None))
            return
        payload = response.read()  # raises IncompleteRead on a cut body
        with lock:
            results.append((response.status, json.loads(payload)))
        conn.close()
threads = [threading.Thread(target=burst, args=(k,)) for k in range(BURST_THREADS)]
for t in threads:
    t.start()
while True:
    with lock:
        if len(results) >= 50:
            break
    time.sleep(0.01)

server.proc.send_signal(signal.SIGTERM)
time.sleep(SLOW_DELAY)
slow_results = []
for sock, rest in slow:
    sock.sendall(rest)
    slow_results.append(parse_response(read_all(sock)))
    sock.close()
code = server.proc.wait(timeout=60)
stop_burst.set()
for t in threads:
    t.join(timeout=60)
server.log.close()
log = server.text()

# Every slow client was started before the signal and must have its response.
for status, body in slow_results:
    h.check(status == 200 and "reservation_id" in body, "slow request answered %s %s" % (status, body))
stopping = re.search(r"serve_stopping in_flight=(\d+)", log)
h.check(stopping and int(stopping.group(1)) >= SLOW_CLIENTS,
        "the slow requests were not in flight at the signal: %s" % (stopping and stopping.group(0)))

bad = [r for r in results if r[0] not in (200, "not_accepted")]
h.check(not bad, "burst requests with an error: %s" % bad[:3])
answered = [r for r in results if r[0] == 200]
h.check(all("reservation_id" in body for _, body in answered), "a 200 without a reservation")
h.check(code == 0, "serve exited %d after SIGTERM:\n%s" % (code, log))
h.check(re.search(r"serve_stop requests=\d+ abandoned=0", log), "no clean serve_stop line:\n" + log[-2000:])

server = h.Server(work, policy, ledger, name="after")
try:
    status, s = server.request("GET", "/v1/sessions/d")
    delivered = len(answered) + len(slow_results)
    h.check(s["reservations_admitted"] == delivered,
            "the ledger admitted %d routes, the clients received %d answers" % (s["reservations_admitted"], delivered))
finally:
    h.check(server.stop() == 0, "serve did not stop cleanly")
print("ok: %d burst and %d slow routes answered in full across SIGTERM; exit 0; serve_stop logged"
      % (len(answered), len(slow_results)))
PY
