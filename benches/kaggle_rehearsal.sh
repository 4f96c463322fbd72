#!/usr/bin/env bash
# A Kaggle-size rehearsal, run once by hand (not in CI): generate a synthetic RSNA-layout
# dataset the size of the real download, then run the article's configuration on it
# (`--preset paper`: 256×256, batch 32) for a fixed number of training steps, and report
# wall time, peak resident memory and disk use of each stage.
#
#   bash benches/kaggle_rehearsal.sh            # 2,000 studies, 200 steps
#   STUDIES=500 STEPS=200 bash benches/kaggle_rehearsal.sh
#
# Needs about 12 GB of disk per 2,000 studies and takes about an hour on 2 cores. Everything is
# written under data/ and runs/, which are not committed.
set -euo pipefail
STUDIES=${STUDIES:-2000}
STEPS=${STEPS:-200}
DATA=data/rehearsal-${STUDIES}
NAME=rehearsal-${STUDIES}-${STEPS}steps
cargo build --release --quiet
lumbar=target/release/lumbar
lscpu | grep -E '^(Model name|CPU family|Model):' || true
measure() { /usr/bin/time -f "$1: %e s wall, %M KB peak RSS" "${@:2}"; }
if [ ! -f "$DATA/train.csv" ]; then
    measure synth "$lumbar" synth --studies "$STUDIES" --out "$DATA" --quiet
fi
du -sh "$DATA"
rm -rf "runs/$NAME"
measure run "$lumbar" run --data "$DATA" --preset paper --max-steps "$STEPS" --name "$NAME"
du -sh data/prepared/rehearsal-"${STUDIES}"-honest-256px-seed42
python3 - "runs/$NAME" data/prepared/rehearsal-"${STUDIES}"-honest-256px-seed42 "$STEPS" <<'PY'
import json, sys
run, prepared = sys.argv[1], sys.argv[2]
summary = json.load(open(f"{prepared}/summary.json"))
metrics = json.load(open(f"{run}/metrics.json"))
print("prepare:", f"{summary['seconds']:.0f} s,", summary["slices_kept"], "slices kept,", summary["slices_between_discs"], "between discs dropped")
history = json.load(open(f"{run}/history.json"))["epochs"][-1]
steps = int(sys.argv[3])
step = history["train_seconds"] / steps
print(f"training: {steps} steps, {step:.2f} s per step, {history['images_per_second']:.1f} img/s, "
      f"data wait {100 * history['data_wait_seconds'] / history['train_seconds']:.2f} %")
print("whole run:", f"{metrics['total_seconds']:.0f} s")
PY
