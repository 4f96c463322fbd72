#!/usr/bin/env bash
# lumbar-cnn against TensorFlow/Keras in interleaved rounds (not run by CI): for each round and
# each configuration, `lumbar bench` and then the reference script on the same image size and
# batch, one process each, so both meet the same disturbances from other tenants of a shared
# machine. Prints the CPU, then one line per run, then the per-round ratios.
#
#   pip install tensorflow-cpu
#   bash benches/keras_rounds.sh                  # 3 rounds of 256x256 b16 and 64x64 b32
#   ROUNDS=5 THREADS=2 bash benches/keras_rounds.sh
set -euo pipefail
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-$(nproc)}
CONFIGS=${CONFIGS:-"256:16 64:32"}
cargo build --release --quiet
lumbar=target/release/lumbar
lscpu | grep -E '^(Model name|CPU family|Model):' || true
grep -o -w -E 'avx2|fma|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
export TF_CPP_MIN_LOG_LEVEL=2
log=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
    for config in $CONFIGS; do
        size=${config%:*}; batch=${config#*:}
        ours=$("$lumbar" bench --image-size "$size" --batch "$batch" --threads "$THREADS" | tail -1)
        echo "round $round ${size}x${size} b$batch lumbar-cnn $ours" | tee -a "$log"
        theirs=$(python3 benches/reference_keras_torch.py --framework keras --threads "$THREADS" \
            --image-size "$size" --batch "$batch" 2>/dev/null | tail -1)
        echo "round $round ${size}x${size} b$batch keras $theirs" | tee -a "$log"
    done
done
python3 - "$log" <<'PY'
import re, sys, statistics
runs = {}
for line in open(sys.argv[1]):
    words = line.split()
    key = (words[1], words[2], words[3])
    runs.setdefault(key, {})[words[4]] = dict(re.findall(r"(\w+)=([\d.]+)", line))
ratios = {}
for (round_, size, batch), pair in sorted(runs.items()):
    ours, keras = pair["lumbar-cnn"], pair["keras"]
    for what in ("train_img_per_s", "infer_img_per_s", "peak_rss_mb"):
        ratio = float(ours[what]) / float(keras[what])
        ratios.setdefault((size, batch, what), []).append(ratio)
        print(f"round {round_} {size} {batch} {what}: ours {ours[what]} keras {keras[what]} ratio {ratio:.2f}")
for (size, batch, what), values in ratios.items():
    print(f"{size} {batch} {what}: median ratio {statistics.median(values):.2f} "
          f"(range {min(values):.2f}-{max(values):.2f}, {len(values)} rounds)")
PY
rm -f "$log"
