#!/usr/bin/env bash
# Remakes tests/data/allure-sample/: three real passing tests and one failing synthetic check.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
out=tests/data/allure-sample
find "$out" -maxdepth 1 -type f -delete
python3 -m pytest -p no:cacheprovider -q --alluredir="$out" \
    tests/test_probes.py -k "lsscsi and (seed or sim_node_d or transports)" || true
python3 -m pytest -p no:cacheprovider -q --alluredir="$out" \
    "$out/origin/synthetic_check.py" || true
# tracebacks name files by absolute path: keep the checkout's location out of the data
sed -i "s#$PWD/##g" "$out"/*-result.json
