#!/usr/bin/env bash
# Regenerate the lm-evaluation-harness logs in this folder (run from the repository root; needs
# pip install -e '.[hf,tools]'; CPU, offline). Each model writes samples_arith_lmeval_<date>.jsonl and
# results_<date>.json under data/tool-logs/lm-eval/data__models__<model>/.
set -euo pipefail
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
for m in arith-neox-113k arith-neox-163k arith-neox-423k; do
  python -m lm_eval --model hf --model_args "pretrained=data/models/$m,dtype=float32" \
    --tasks arith_lmeval --include_path data/tool-logs/lm-eval/tasks --log_samples \
    --output_path data/tool-logs/lm-eval --device cpu --batch_size 64 --seed 0
done
