#!/usr/bin/env bash
# The monitoring story on the demo: a price change on 2025-01-01 raises the basic plan's
# churn; the model is trained just before it, time passes month by month, monitor alerts,
# retrain replaces the model once it is fairly better, and its scores come true again.
# Usage: scripts/story.sh [PROJECT] [CUSTOMERS]   (make story runs it)
set -euo pipefail
project=${1:-story-shop}
customers=${2:-5000}
shift_day=2025-01-01
demo=(--demo --customers "$customers" --shift "$shift_day")

today() {  # the data as it stood on that day
  propensity init "$project" "${demo[@]}" --until "$1" --data-only >/dev/null
  echo "== $1"
}

# a fresh project each time: an old one keeps its models, runs and aliases
rm -rf -- "$project"
propensity init "$project" "${demo[@]}" --until "$shift_day"
propensity train --project "$project"
for m in 01 02 03 04 05 06 07; do
  today "2025-$m-01"
  propensity score --project "$project" --out "$project/scores-2025-$m-01.csv" --reasons none
done
for m in 08 09 10; do
  today "2025-$m-01"
  propensity monitor --project "$project" --fail-on never
  propensity retrain --project "$project"
  propensity score --project "$project" --out "$project/scores-2025-$m-01.csv" --reasons none
done
today 2026-01-01
propensity monitor --project "$project" --fail-on never
