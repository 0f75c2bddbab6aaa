#!/usr/bin/env bash
# GPU timings for BENCHMARKS.md, run on a lent GPU machine: bash benchmarks/gpu_bench.sh OUTDIR
set -u
OUT=${1:-/tmp/gpu-out}; mkdir -p "$OUT"
export PYTHONPATH=src PYTHONUNBUFFERED=1
python3 benchmarks/bench_trainer.py --gpu | tee "$OUT/gpu_trainer.md"
python3 -c "import sys; sys.path.insert(0, 'benchmarks'); import bench_images; bench_images.gpu_section()" | tee "$OUT/gpu_seed000.md"
