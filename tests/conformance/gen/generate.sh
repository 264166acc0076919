#!/usr/bin/env bash
# Regenerates every in-repo conformance case (tests/conformance/cases/) from the
# upstream code at the pinned commits, and re-checks the MIM cases with the
# independent float64 reimplementation (mim_cases.py --check).
#
#   npm run conformance:gen                        # rewrite tests/conformance/cases/
#   npm run conformance:gen -- --check-identical   # regenerate into a temp folder and
#                                                  # compare bytes with the committed files
#
# Each generator is a script `tests/conformance/gen/<name>.py OUT_DIR` (files
# starting with `_` are helpers, not generators); every one is run, in its own
# process (they import different timm versions). The upstream checkouts come
# from $MIMKIT_UPSTREAM (default .upstream/, fetched by upstream.sh on first
# use; MIMKIT_UPSTREAM_MIRROR reads local bare mirrors instead of GitHub).
# Python: $PYTHON, default /usr/bin/python3 (Debian's python3-torch, 1.13).
#
# A case file that no generator writes is reported; with --check-identical it
# is a failure, as is any byte that differs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
gen=tests/conformance/gen
cases=tests/conformance/cases
py="${PYTHON:-/usr/bin/python3}"
export MIMKIT_UPSTREAM="${MIMKIT_UPSTREAM:-$PWD/.upstream}"
# torch 1.13 warns about its own meshgrid call inside upstream code; nothing to act on.
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::UserWarning}"

check=0
case "${1:-}" in
  '') ;;
  --check-identical) check=1 ;;
  *) echo "usage: npm run conformance:gen [-- --check-identical]" >&2; exit 2 ;;
esac

# Fetch what is missing (each generator names the checkouts it needs).
need_fetch=0
while read -r folder _; do
  [ -z "$folder" ] && continue
  [ -d "$MIMKIT_UPSTREAM/$folder" ] || need_fetch=1
done < <(sed -n '/^PINS="/,/^"/p' "$gen/upstream.sh" | sed '1d;$d')
[ "$need_fetch" = 1 ] && bash "$gen/upstream.sh"

out="$(mktemp -d -t mimkit-cases-XXXXXX)"
trap 'rm -rf "$out"' EXIT
for script in "$gen"/[!_]*.py; do
  echo "== $script"
  "$py" "$script" "$out"
done
echo "== $gen/mim_cases.py --check (the float64 reimplementation against the upstream cases)"
"$py" "$gen/mim_cases.py" --check "$out"

status=0
for f in "$cases"/*.safetensors; do
  [ -e "$f" ] || continue
  [ -e "$out/$(basename "$f")" ] || { echo "stale: $f (no generator writes it)"; status=1; }
done
if [ "$check" = 1 ]; then
  for f in "$out"/*.safetensors; do
    name="$(basename "$f")"
    if [ ! -e "$cases/$name" ]; then
      echo "missing: $cases/$name (generated, not committed)"; status=1
    elif ! cmp -s "$f" "$cases/$name"; then
      echo "differs: $cases/$name"; status=1
    fi
  done
  n="$(ls "$out"/*.safetensors | wc -l)"
  if [ "$status" = 0 ]; then echo "all $n cases byte-identical to $cases/"; else echo "regenerated cases differ from $cases/" >&2; fi
  exit "$status"
fi
mkdir -p "$cases"
cp "$out"/*.safetensors "$cases"/
echo "wrote $(ls "$out"/*.safetensors | wc -l) cases to $cases/ ($(du -ch "$out"/*.safetensors | tail -1 | cut -f1) in all)"
[ "$status" = 0 ] || echo "stale files above were left in place: delete them or give them a generator" >&2
exit "$status"
