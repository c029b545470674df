#!/usr/bin/env bash
# All comparative benchmarks, each printing its ratios.
set -euo pipefail
cd "$(dirname "$0")"
bash dmesg.sh
bash logparse.sh
bash analyze.sh
[[ -f fleet.sh ]] && bash fleet.sh || true
bash archive.sh
