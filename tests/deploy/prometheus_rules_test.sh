#!/usr/bin/env bash
# deploy/prometheus/ as Prometheus reads it: the scrape config and rule files are valid
# (promtool check config / check rules), and the rules compute what tern_rules.test.yml
# expects from its input series (promtool test rules: percentiles, rates, alerts firing
# after their `for`). Skipped (exit 77) where Debian's prometheus package is missing.
set -euo pipefail
cd "$(dirname "$0")/../../deploy/prometheus"
if ! command -v promtool >/dev/null; then
  echo "SKIP: promtool not found (apt-get install prometheus; scripts/install-deps.sh installs it)"
  exit 77
fi
promtool check config prometheus.yml
promtool check rules tern_rules.yml tern_alerts.yml
promtool test rules tern_rules.test.yml
