#!/usr/bin/env bash
# The shipped Prometheus alerting rules (tools/prometheus/odo-rules.yml) are
# valid (promtool check rules) and fire as documented (promtool test rules
# odo-rules.test.yml: which alert, when, with which labels and text).
set -euo pipefail
: "${ODO_SOURCE_DIR:?}"
command -v promtool >/dev/null || { echo "promtool is not installed (Debian prometheus): run tools/bootstrap" >&2; exit 1; }
cd "$ODO_SOURCE_DIR/tools/prometheus"
promtool check rules odo-rules.yml
promtool test rules odo-rules.test.yml odo-rules.days.test.yml
