#!/usr/bin/env bash
# Checks the operators' alerting: `promtool check rules` on ops/prometheus/rules, the rule
# unit tests ops/prometheus/tests/*.test.yml (`promtool test rules`), and the metric names
# the rules, the Grafana dashboard and the runbook links use (scripts/check-alerting-refs.mjs).
# promtool comes from Debian's `prometheus` package; it is installed (apt-get, as root or
# with sudo) when missing. Ends with one line: "alert rules: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not found: installing Debian's prometheus package"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus; } >/dev/null; then
    echo "could not install promtool (apt-get install prometheus failed)" >&2
    echo "alert rules: 0 passed, 1 failed"
    exit 1
  fi
fi
promtool --version 2>&1 | head -1

passed=0
failed=0
step() {
  local name="$1"
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $name" >&2
  fi
}

step "promtool check rules" promtool check rules ops/prometheus/rules/*.yml
shopt -s nullglob
tests=(ops/prometheus/tests/*.test.yml)
[ ${#tests[@]} -gt 0 ] || step "rule tests present" false
for t in "${tests[@]}"; do
  step "promtool test rules $t" promtool test rules "$t"
done
step "metric names, dashboard and runbooks" node scripts/check-alerting-refs.mjs

echo "alert rules: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
