#!/usr/bin/env bash
# Benchmark 1 (pipeline throughput vs the bare model, and freshness) on CUDA with fp16.
# For a GPU machine lent through the device tool: one short call that starts Kafka and
# Redis from the carried .infra folder, runs the benchmark and copies the result to $OUT.
#   carry: [".infra"]   command: bash benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
python3 -m pip install -q -e . 2>/dev/null || true
command -v redis-server >/dev/null || { apt-get install -y -q redis-server >/dev/null; }
python3 -m devtools.infra up
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 benchmarks/pipeline.py --device cuda --count "${COUNT:-4096}" --batch "${BATCH:-256}"
mkdir -p "${OUT:-benchmarks/results}"
cp benchmarks/results/pipeline.json "${OUT:-benchmarks/results}/pipeline-cuda.json" || true
python3 -m devtools.infra down
