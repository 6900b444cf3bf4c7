#!/usr/bin/env bash
# seqroute report through the command line, on a small real run: generated
# sessions, a short CQL training with --curves, seqroute eval --sweep, then
# the report.  Parses every SVG with python3's xml.etree (root <svg> of the
# expected size, paths present), checks PNG sizes, that index.html refers to
# every plot and only by relative names, that two runs give identical
# bytes, and the exit codes of bad command lines (2) and bad input (1).
set -euo pipefail
bin=${SEQROUTE_BIN:?SEQROUTE_BIN must point at the seqroute binary}
if ! command -v python3 >/dev/null; then
  echo "skipped: python3 is needed to parse the SVG files" >&2
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" synth --sessions 300 --seed 4 --out "$work/s.jsonl" 2>/dev/null
"$bin" split --data "$work/s.jsonl" --fractions 0.7,0.15,0.15 --seed 4 \
  --train "$work/train.jsonl" --val "$work/val.jsonl" --test "$work/test.jsonl" 2>/dev/null
"$bin" train --data "$work/train.jsonl" --val "$work/val.jsonl" --out "$work/cql.policy" \
  --algo cql --steps 400 --batch 64 --hidden 32,32 --eval-every 100 --log-every 100 \
  --progress lines --seed 4 --curves "$work/cql.curves.csv" 2>/dev/null
"$bin" eval --data "$work/test.jsonl" --reference "$work/train.jsonl" \
  --policy "all,cql:$work/cql.policy" --sweep --budget-frac 0.3,0.6 --seed 4 \
  --json "$work/eval.json" > /dev/null 2>&1

"$bin" report --eval "$work/eval.json" --curves "$work/cql.curves.csv" --out "$work/r1" \
  2>/dev/null
"$bin" report --eval "$work/eval.json" --curves "$work/cql.curves.csv" --out "$work/r2" \
  2>/dev/null
diff -r "$work/r1" "$work/r2" >/dev/null \
  || { echo "FAIL: two reports of the same input differ" >&2; exit 1; }

python3 - "$work/r1" <<'PY'
import os, re, struct, sys
import xml.etree.ElementTree as ET
out = sys.argv[1]
ns = "{http://www.w3.org/2000/svg}"
names = sorted(f[:-4] for f in os.listdir(out) if f.endswith(".png"))
expected = {"frontier_budget1", "frontier_budget2", "bankruptcy", "training_curves"}
missing = expected - set(names)
assert not missing, f"missing plots: {missing}"
assert any(n.startswith("p_expensive") for n in names), "no P(expensive) plot"
for n in names:
    with open(os.path.join(out, n + ".png"), "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", n
    w, h = struct.unpack(">II", head[16:24])
    assert w == 960 and h in (600, 760), (n, w, h)
    root = ET.parse(os.path.join(out, n + ".svg")).getroot()
    assert root.tag == ns + "svg", (n, root.tag)
    assert root.get("width") == f"{w}px" and root.get("height") == f"{h}px", n
    paths = root.findall(".//" + ns + "path")
    assert len(paths) > 20, (n, len(paths))
    assert os.path.getsize(os.path.join(out, n + ".csv")) > 0, n
html = open(os.path.join(out, "index.html"), encoding="utf-8").read()
for n in names:
    assert f'<img src="{n}.png"' in html, f"index.html lacks {n}.png"
    assert f'href="{n}.svg"' in html and f'href="{n}.csv"' in html, n
refs = re.findall(r'(?:src|href)="([^"]*)"', html)
assert all("/" not in r and ":" not in r for r in refs), refs
print(f"report ok: {len(names)} plots")
PY

# Usage errors exit 2; bad input exits 1 and names the file.
set +e
"$bin" report --out "$work/r3" 2>/dev/null; [ $? -eq 2 ] || { echo "FAIL: no --eval" >&2; exit 1; }
"$bin" report --eval "$work/eval.json" --out "$work/r3" --bogus 2>/dev/null
[ $? -eq 2 ] || { echo "FAIL: unknown option" >&2; exit 1; }
echo '{"rows": 3}' > "$work/bad.json"
"$bin" report --eval "$work/bad.json" --out "$work/r3" 2>"$work/err.txt"
[ $? -eq 1 ] || { echo "FAIL: bad JSON must exit 1" >&2; exit 1; }
set -e
grep -q "bad.json" "$work/err.txt" || { echo "FAIL: message lacks the file" >&2; exit 1; }
[ ! -e "$work/r3" ] || { echo "FAIL: bad input still wrote files" >&2; exit 1; }
echo "ok"
