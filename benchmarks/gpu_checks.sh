#!/usr/bin/env bash
# CUDA checks and GPU timings, run on a lent GPU machine (not part of CI: CI has no GPU).
# Usage there: bash benchmarks/gpu_checks.sh OUTDIR
set -u
OUT=${1:-/tmp/gpu-out}; mkdir -p "$OUT"
export PYTHONPATH=src PYTHONUNBUFFERED=1
K="python3 -m kindling"
log() { echo; echo "### $*"; }
log versions; python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name())"
log "digits recipe on cuda (device auto)"; /usr/bin/time -f "wall %e s" $K train recipes/digits.yaml --run-dir /tmp/g/digits 2>&1 | tail -4
$K evaluate /tmp/g/digits | head -1
log "fp16 + grad scaler"; $K train --data digits --model lenet --precision fp16 --epochs 2 --run-dir /tmp/g/fp16 2>&1 | tail -2
log "bf16"; $K train --data digits --precision bf16 --epochs 2 --run-dir /tmp/g/bf16 2>&1 | tail -2
log "compile"; $K train --data digits --compile --epochs 2 --run-dir /tmp/g/compile 2>&1 | tail -2
log "verify-resume on cuda"; $K verify-resume --epochs 2
log "verify-resume on cuda, recipe"; $K verify-resume recipes/digits.yaml --epochs 2
log "pytest (device auto = cuda)"; python3 -m pytest -q -x -p no:cacheprovider tests/train/test_toolbox.py tests/train/test_resume.py tests/test_cli.py 2>&1 | tail -5
log "bench"; python3 benchmarks/bench_trainer.py --gpu | tee "$OUT/gpu_bench.md"
