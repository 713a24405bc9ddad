#!/usr/bin/env bash
# hitratio.sh DIR rebuilds the hit-ratio table in plugins/README.md (between
# its hitratio markers) with cmd/replay: every policy built into plugins/
# and the references (exact LRU, hashicorp's ARC, otter as the mean of 5
# runs, Belady's OPT) on
#   - the ARC paper's OLTP trace, DIR/oltp.gz,
#   - the LIRS paper's loop trace, DIR/loop.gz,
#   - the LIRS glimpse trace that ships in github.com/dgraph-io/ristretto's
#     module (sim/gli.lirs.gz), fetched through the Go module proxy,
#   - Zipf and loop synthetics.
# Run it through go tool task hitratio TRACES=DIR, which builds the plugins
# first. It takes about 15 minutes on 2 cores.
set -euo pipefail
dir=${1:?usage: hitratio.sh DIR, where DIR holds oltp.gz and loop.gz}
for f in oltp.gz loop.gz; do
  [ -f "$dir/$f" ] || { echo "hitratio: $dir/$f is missing" >&2; exit 2; }
done
mod=$(go mod download -json github.com/dgraph-io/ristretto@v0.2.0 | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
gli=$mod/sim/gli.lirs.gz
[ -f "$gli" ] || { echo "hitratio: $gli is missing" >&2; exit 2; }

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/replay" ./cmd/replay
policies=()
for p in plugins/*.wasm; do
  case $p in plugins/sqlkv.wasm) ;; *) policies+=("$p") ;; esac
done
run() { "$bin/replay" -quiet -o markdown "$@" "${policies[@]}"; }

table=$bin/table.md
{
  echo "<!-- hitratio:begin (go tool task hitratio TRACES=DIR writes this part) -->"
  echo
  echo "Made by \`go tool task hitratio\` on $(go env GOOS)/$(go env GOARCH) with $(nproc) cores; policies: ${policies[*]#plugins/}."
  echo
  echo "**ARC family** (Megiddo and Modha, FAST 2003): OLTP."
  echo
  run -trace "$dir/oltp.gz" -capacity 250,500,1000,2000,4000,8000
  echo
  echo "**LIRS family** (Jiang and Zhang, SIGMETRICS 2002): loop and glimpse."
  echo
  run -trace "$dir/loop.gz" -capacity 250,500,1000
  echo
  run -trace "$gli" -capacity 250,500,1000,1500,2000
  echo
  echo "**Synthetic**: Zipf over 100,000 keys (exponents 0.99, 0.8 and 1.2) and a loop over 1,000 keys."
  echo
  run -zipf 1000000 -s 0.99 -seed 1 -capacity 1000,10000,50000
  echo
  run -zipf 500000 -s 0.8 -seed 2 -capacity 500,5000,20000
  echo
  run -zipf 500000 -s 1.2 -seed 3 -capacity 100,1000,10000
  echo
  run -loop 300000,1000 -capacity 250,500,900,990
  echo
  echo "<!-- hitratio:end -->"
} | sed -e "s|$dir/||g" -e "s|$mod/|github.com/dgraph-io/ristretto@v0.2.0 module: |g" > "$table"

readme=plugins/README.md
grep -q '^<!-- hitratio:begin' "$readme" || { echo "hitratio: $readme has no hitratio markers" >&2; exit 2; }
awk -v table="$table" '
  /^<!-- hitratio:begin/ { while ((getline line < table) > 0) print line; skip = 1; next }
  /^<!-- hitratio:end -->/ { skip = 0; next }
  !skip { print }
' "$readme" > "$bin/readme" && cp "$bin/readme" "$readme"
echo "hitratio: wrote the table into $readme"
