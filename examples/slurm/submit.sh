#!/bin/bash
# Submit the shard array, then one job that merges and scores the shards once all succeeded.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p logs
array=$(sbatch --parsable sample-shards.sbatch)
EDM="npx --prefix ${EDM_TS_DIR:-$HOME/edm-ts} edm"
sbatch --dependency="afterok:${array}" --job-name=edm-merge --cpus-per-task=2 --mem=4G \
  --output=logs/edm-merge-%j.log \
  --wrap="$EDM merge shards/shard-*.sdf --out all.sdf --json all.metrics.json --html all.html"
echo "submitted array ${array} and its merge"
