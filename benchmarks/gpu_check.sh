#!/usr/bin/env bash
# GPU readiness check of linksim, for a CUDA machine that has PyTorch but neither Sionna nor
# Keras, and no internet. Run from anywhere; it works in the repository root.
#
#   benchmarks/gpu_check.sh                      # the check (CUDA), report in $OUT/gpu_report.md
#   benchmarks/gpu_check.sh --device cpu         # dry run of the whole flow on CPU, tiny settings
#   benchmarks/gpu_check.sh --download-wheels    # prepare the wheels (a machine with pip index access)
#
# Steps (each under its own `timeout`; a failing step is recorded and the next one runs;
# sized to finish in under 8 minutes on an H200):
#   1. install  linksim's missing dependencies from the wheels in WHEELS (default .whl/ in
#               the repository root): pip install --no-index --no-deps --target SITE, then
#               PYTHONPATH=SITE:<repo>. torch is never installed (torch/nvidia/triton wheels
#               in the folder are left out). Without wheels, the step passes only if the
#               dependencies are importable already.
#   2. env      versions; torch, Sionna blocks and a Keras layer must produce tensors on the
#               device; one in-process `linksim` run (ldpc_awgn --quick) must record the
#               device in results.json and (CUDA) allocate CUDA memory.
#               On cuda, LINKSIM_CACHE is a fresh WORK/cache (unless LINKSIM_CACHE is set or
#               GPU_CHECK_FRESH_CACHE=0), so every model missing from linksim/weights/ is
#               trained on the GPU by this run, also on a rerun.
#   3. smoke    `linksim run SCENARIO --quick --device D` of one shipped scenario per family,
#               plus any needed so that every system of `linksim list systems` runs (quick
#               mode trains tiny models where weights are missing, so linksim/weights/ may be
#               absent); each run's results.json must record the device.
#   4. ldpc     python benchmarks/ldpc_throughput.py --device D --batch-size 10000 --batches 5
#               --repeats 2 --json $OUT/ldpc.json (its `ratio linksim/sim_ber:` line is reported)
#   5. headline-train  linksim train scenarios/memdeepsc_rician.yaml --device D --jobs 4 --threads 3
#               (loads the shipped weights if present, else trains on the device), timed
#   6. headline-run    linksim run scenarios/memdeepsc_rician.yaml --device D --out WORK/headline
#               (timed apart from training; accuracy table in the report)
#   7. report   $OUT/gpu_report.md: GPU (nvidia-smi), versions, result and wall time of
#               every step, device checks, smoke runs, the LDPC ratio, the headline table.
# Exit status 0 only if no step failed (a SKIP is not a failure).
#
# $OUT receives six files: gpu_report.md, steps.tsv, env.json, smoke.json, ldpc.json and
# gpu_check_logs.tar.gz (every log, and the runs' results.json/csv). Everything else (run
# folders, figures, the weight cache) goes to WORK, so that a device runner that returns
# only a few files from $OUT gets all of them.
#
# Options (environment variables in brackets):
#   --device cuda|cpu    [LINKSIM_GPU_CHECK_DEVICE] default cuda. cpu = dry run: the same
#                        steps with tiny settings (ldpc: --batch-size 50 --batches 1
#                        --repeats 1; headline: --quick, unless GPU_CHECK_HEADLINE_QUICK=0,
#                        which runs the full headline and skips its training when shipped
#                        weights exist)
#   --wheels DIR         [GPU_CHECK_WHEELS] default <repo>/.whl
#   --site DIR           [GPU_CHECK_SITE] pip --target folder, default /tmp/site
#   --out DIR            [OUT] default ./gpu_check_out (relative to the repository root)
#   --work DIR           [GPU_CHECK_WORK] run folders, logs, cache; default /tmp/gpu_check_work
#                        (emptied at the start)
#   --report FILE        [GPU_CHECK_REPORT] default $OUT/gpu_report.md
#   --python PY          [PYTHON] default python3
#   --download-wheels    only download the wheels into WHEELS (needs pip index access), exit
#   --wheel-set lean|full  [GPU_CHECK_WHEEL_SET] which wheels --download-wheels fetches (lean)
#   --jobs N             [GPU_CHECK_JOBS] smoke runs at a time (default 5 on cuda, 1 on cpu)
#   Step time limits in seconds: GPU_CHECK_T_INSTALL (40), GPU_CHECK_T_ENV (45),
#   GPU_CHECK_T_SMOKE (120 in all; GPU_CHECK_T_SMOKE_RUN 90 per run), GPU_CHECK_T_LDPC (70),
#   GPU_CHECK_T_TRAIN (120), GPU_CHECK_T_RUN (80): 475 s if every step ran into its limit.
#   On cpu the limits are 10x (a loaded CPU is slow; the dry run is not sized for 8 minutes).
#
# Preparing the wheels (on a machine with pip index access; any OS: the flags select
# CPython 3.12 x86-64 Linux wheels, and pure-Python wheels match any platform):
#
#   benchmarks/gpu_check.sh --download-wheels                   # = the command below, into .whl/
#   benchmarks/gpu_check.sh --download-wheels --wheel-set full  # a machine with torch only
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 -d .whl \
#     sionna-no-rt==2.2.0 importlib-resources==7.1.0 keras==3.15.1 namex==0.1.0 \
#     optree==0.20.0 pydantic==2.13.4 pydantic-core==2.46.4 annotated-types==0.7.0 \
#     typing-inspection==0.4.2 typing-extensions==4.15.0 pillow-heif==1.8.1
#
# That is the lean set (12 MB): what the H200 machines' image lacks (it has torch, numpy,
# scipy, matplotlib, h5py, pyyaml, pillow, rich, absl-py, ml-dtypes, tqdm, scikit-image...).
# The full set (107 MB, over the device's 64 MiB working-tree limit) adds what a machine
# with nothing but torch lacks: h5py numpy scipy absl-py ml-dtypes packaging rich
# markdown-it-py mdurl pygments matplotlib contourpy cycler fonttools kiwisolver pillow
# pyparsing python-dateutil six pyyaml tqdm scikit-image imageio lazy-loader tifffile.
# Both lists are in benchmarks/gpu_check.py (LEAN_PACKAGES, WHEEL_PACKAGES: sionna-no-rt and
# keras with their requirements, linksim's install_requires with theirs, minus torch and
# its own dependencies); the versions come from constraints.txt. GPU_CHECK_PYVER (default
# 3.12) changes --python-version. Keep one version of each package in the folder. The
# install step lists every package, its version and where it is imported from, and fails
# naming any that is missing.

set -u

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit 2

DEVICE="${LINKSIM_GPU_CHECK_DEVICE:-cuda}"
WHEELS="${GPU_CHECK_WHEELS:-$REPO/.whl}"
SITE="${GPU_CHECK_SITE:-/tmp/site}"
OUT_DIR="${OUT:-$REPO/gpu_check_out}"
WORK="${GPU_CHECK_WORK:-/tmp/gpu_check_work}"
REPORT="${GPU_CHECK_REPORT:-}"
PY="${PYTHON:-python3}"
JOBS="${GPU_CHECK_JOBS:-}"
DOWNLOAD=0
WHEEL_SET="${GPU_CHECK_WHEEL_SET:-lean}"

usage() { sed -n '2,/^set -u/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --device) DEVICE="${2:?--device needs cuda or cpu}"; shift 2 ;;
        --wheels) WHEELS="${2:?--wheels needs a folder}"; shift 2 ;;
        --site) SITE="${2:?--site needs a folder}"; shift 2 ;;
        --out) OUT_DIR="${2:?--out needs a folder}"; shift 2 ;;
        --work) WORK="${2:?--work needs a folder}"; shift 2 ;;
        --report) REPORT="${2:?--report needs a file}"; shift 2 ;;
        --python) PY="${2:?--python needs an interpreter}"; shift 2 ;;
        --jobs) JOBS="${2:?--jobs needs a number}"; shift 2 ;;
        --download-wheels) DOWNLOAD=1; shift ;;
        --wheel-set) WHEEL_SET="${2:?--wheel-set needs lean or full}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$DEVICE" in cuda|cpu) ;; *) echo "gpu_check.sh: --device must be cuda or cpu" >&2; exit 2 ;; esac
case "$WHEELS" in /*) ;; *) WHEELS="$REPO/$WHEELS" ;; esac
export PIP_DISABLE_PIP_VERSION_CHECK=1

# ------------------------------------------------------------------ --download-wheels
if [ "$DOWNLOAD" = 1 ]; then
    mapfile -t PKGS < <("$PY" benchmarks/gpu_check.py wheels --set "$WHEEL_SET")
    [ "${#PKGS[@]}" -gt 0 ] || { echo "gpu_check.sh: no package list" >&2; exit 1; }
    mkdir -p "$WHEELS"
    set -x
    "$PY" -m pip download --no-deps --only-binary=:all: --python-version "${GPU_CHECK_PYVER:-3.12}" \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$WHEELS" "${PKGS[@]}"
    { rc=$?; set +x; } 2>/dev/null
    echo "gpu_check.sh: $(ls "$WHEELS"/*.whl 2>/dev/null | wc -l) wheels in $WHEELS ($(du -sh "$WHEELS" | cut -f1)); pip exit $rc"
    exit $rc
fi

# ------------------------------------------------------------------ the check
case "$OUT_DIR" in /*) ;; *) OUT_DIR="$REPO/$OUT_DIR" ;; esac
case "$WORK" in /*) ;; *) WORK="$REPO/$WORK" ;; esac
OUT_DIR="${OUT_DIR%/}"; WORK="${WORK%/}"
# WORK is emptied: only a folder this script made (it holds .gpu_check_work), or a new one.
if [ -e "$WORK" ] && [ ! -e "$WORK/.gpu_check_work" ]; then
    echo "gpu_check.sh: $WORK exists and was not made by gpu_check.sh; choose another --work" >&2; exit 2
fi
case "$OUT_DIR/" in "$WORK"/*) echo "gpu_check.sh: --out must not be inside --work" >&2; exit 2 ;; esac
rm -rf "$WORK" && mkdir -p "$WORK" && touch "$WORK/.gpu_check_work" && mkdir -p "$OUT_DIR" || exit 2
REPORT="${REPORT:-$OUT_DIR/gpu_report.md}"
STEPS="$OUT_DIR/steps.tsv"
: > "$STEPS"
rm -f "$OUT_DIR/env.json" "$OUT_DIR/smoke.json" "$OUT_DIR/ldpc.json" "$OUT_DIR/gpu_check_logs.tar.gz"
export MPLBACKEND=Agg KERAS_BACKEND=torch PYTHONUNBUFFERED=1

if [ "$DEVICE" = cuda ]; then
    SCALE=1; JOBS="${JOBS:-5}"; THREADS=3
    LDPC_ARGS=(--batch-size 10000 --batches 5 --repeats 2)
    HEADLINE_QUICK="${GPU_CHECK_HEADLINE_QUICK:-0}"
    FRESH_CACHE="${GPU_CHECK_FRESH_CACHE:-1}"
else
    SCALE=10; JOBS="${JOBS:-1}"; THREADS=1
    LDPC_ARGS=(--batch-size 50 --batches 1 --repeats 1 --threads 1)
    HEADLINE_QUICK="${GPU_CHECK_HEADLINE_QUICK:-1}"
    FRESH_CACHE="${GPU_CHECK_FRESH_CACHE:-0}"
fi
if [ -z "${LINKSIM_CACHE:-}" ] && [ "$FRESH_CACHE" = 1 ]; then export LINKSIM_CACHE="$WORK/cache"; fi
limit() { echo $(( $1 * SCALE )); }
T_INSTALL=$(limit "${GPU_CHECK_T_INSTALL:-40}")
T_ENV=$(limit "${GPU_CHECK_T_ENV:-45}")
T_SMOKE=$(limit "${GPU_CHECK_T_SMOKE:-120}")
T_SMOKE_RUN=$(limit "${GPU_CHECK_T_SMOKE_RUN:-90}")
T_LDPC=$(limit "${GPU_CHECK_T_LDPC:-70}")
T_TRAIN=$(limit "${GPU_CHECK_T_TRAIN:-120}")
T_RUN=$(limit "${GPU_CHECK_T_RUN:-80}")

START_ALL=$SECONDS
FAILED=0

header() { printf '\n======== [%s] %s (limit %s s) ========\n' "$(date +%H:%M:%S)" "$1" "$2"; }

# record NAME STATUS SECONDS NOTE
record() {
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$STEPS"
    printf -- '-------- %s: %s in %s s%s\n' "$1" "$2" "$3" "${4:+ ($4)}"
    [ "$2" = FAIL ] && FAILED=1
    return 0
}

# step NAME LIMIT LOG CMD...: run CMD under `timeout` (which signals its whole process
# group), output to the console and to LOG; sets STEP_RC, STEP_DT and STEP_WHY. The caller
# records the step with `finish NAME [NOTE]`.
step() {
    local name="$1" lim="$2" log="$3"; shift 3
    header "$name" "$lim"
    echo "\$ $*" | tee "$log"
    local t0=$SECONDS
    timeout --kill-after=15 "$lim" "$@" 2>&1 | tee -a "$log"
    STEP_RC=${PIPESTATUS[0]}
    STEP_DT=$(( SECONDS - t0 ))
    STEP_WHY=""
    if [ "$STEP_RC" -eq 124 ] || [ "$STEP_RC" -eq 137 ]; then STEP_WHY="timed out after $lim s"
    elif [ "$STEP_RC" -ne 0 ]; then STEP_WHY="exit $STEP_RC"; fi
}

# finish NAME [NOTE]: record the last step: FAIL if it failed (or STEP_WHY was set), else PASS.
finish() {
    local note="${STEP_WHY}${STEP_WHY:+${2:+; }}${2:-}"
    if [ -n "$STEP_WHY" ]; then record "$1" FAIL "$STEP_DT" "$note"
    else record "$1" PASS "$STEP_DT" "$note"; fi
}

echo "linksim GPU readiness check: device $DEVICE, repo $REPO, out $OUT_DIR, work $WORK, weight cache ${LINKSIM_CACHE:-default}"
if command -v nvidia-smi >/dev/null 2>&1; then
    timeout 30 nvidia-smi --query-gpu=name,memory.total --format=csv > "$WORK/nvidia-smi.txt" 2>&1
    cat "$WORK/nvidia-smi.txt"
else
    echo "nvidia-smi: not found" | tee "$WORK/nvidia-smi.txt"
fi

# ------------------------------------------------------------------ 1. install
header install "$T_INSTALL"
t0=$SECONDS
WHLS=()
for w in "$WHEELS"/*.whl; do
    [ -e "$w" ] || continue
    case "$(basename "$w")" in
        torch-*|nvidia_*|nvidia-*|triton-*) echo "leaving out $(basename "$w") (torch is not reinstalled)" ;;
        *) WHLS+=("$w") ;;
    esac
done
if [ "${#WHLS[@]}" -gt 0 ]; then
    echo "\$ $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $SITE $WHEELS/*.whl  (${#WHLS[@]} wheels)"
    timeout --kill-after=15 "$T_INSTALL" "$PY" -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target "$SITE" "${WHLS[@]}" 2>&1 | tee "$WORK/install.log"
    rc=${PIPESTATUS[0]}
    export PYTHONPATH="$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}"
    why="${#WHLS[@]} wheels from $WHEELS into $SITE"
    [ "$rc" -eq 0 ] || why="pip exit $rc; $why"
else
    export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
    rc=0; why="no wheels in $WHEELS: using what is installed"
fi
echo "PYTHONPATH=$PYTHONPATH"
echo "\$ $PY benchmarks/gpu_check.py deps"
timeout 120 "$PY" benchmarks/gpu_check.py deps 2>&1 | tee -a "$WORK/install.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || { rc=1; why="$why; some dependencies not importable"; }
[ "$rc" -eq 0 ] && st=PASS || st=FAIL
record install "$st" $(( SECONDS - t0 )) "$why"

# ------------------------------------------------------------------ 2. env
step env "$T_ENV" "$WORK/env.log" \
    "$PY" benchmarks/gpu_check.py env --device "$DEVICE" --out "$WORK" --json "$OUT_DIR/env.json"
finish env "$(grep -c '^  \[ok\]' "$WORK/env.log") checks ok, $(grep -c '^  \[FAIL\]' "$WORK/env.log") failed"

# ------------------------------------------------------------------ 3. smoke
step smoke "$T_SMOKE" "$WORK/smoke.log" \
    "$PY" benchmarks/gpu_check.py smoke --device "$DEVICE" --out "$WORK/smoke" --json "$OUT_DIR/smoke.json" \
    --jobs "$JOBS" --timeout "$T_SMOKE_RUN" --threads "$THREADS" --python "$PY"
finish smoke "$(grep -c '^  \[ok\]' "$WORK/smoke.log") runs ok, $(grep -c '^  \[FAIL\]' "$WORK/smoke.log") failed, $JOBS at a time"

# ------------------------------------------------------------------ 4. ldpc
step ldpc "$T_LDPC" "$WORK/ldpc.log" \
    "$PY" benchmarks/ldpc_throughput.py --device "$DEVICE" "${LDPC_ARGS[@]}" --json "$OUT_DIR/ldpc.json"
RATIO=$(grep '^ratio linksim/sim_ber:' "$WORK/ldpc.log" | tail -n 1)
[ -n "$RATIO" ] || STEP_WHY="${STEP_WHY:-no 'ratio linksim/sim_ber:' line}"
finish ldpc "${LDPC_ARGS[*]}${RATIO:+; $RATIO}"

# ------------------------------------------------------------------ 5./6. headline
HEADLINE=scenarios/memdeepsc_rician.yaml
QUICK=(); [ "$HEADLINE_QUICK" = 1 ] && QUICK=(--quick)
if [ "$DEVICE" = cpu ] && [ "$HEADLINE_QUICK" != 1 ] && ls linksim/weights/memdeepsc/*.weights.h5 >/dev/null 2>&1; then
    header headline-train 0
    record headline-train SKIP 0 "CPU dry run: shipped weights in linksim/weights/memdeepsc/"
else
    if [ "$DEVICE" = cuda ]; then TRAIN_ARGS=(--jobs 4 --threads "$THREADS"); else TRAIN_ARGS=(--threads 1); fi
    step headline-train "$T_TRAIN" "$WORK/headline_train.log" \
        "$PY" -m linksim train "$HEADLINE" --device "$DEVICE" "${TRAIN_ARGS[@]}" ${QUICK[@]+"${QUICK[@]}"}
    # Its last lines name each system's weights file: shipped (linksim/weights/) or the cache;
    # every training stage logs a "[memdeepsc] stage ..." line.
    n_shipped=$(grep -cF "$REPO/linksim/weights/" "$WORK/headline_train.log")
    n_all=$(grep -c '\.weights\.h5$' "$WORK/headline_train.log")
    n_stages=$(grep -c '\] stage ' "$WORK/headline_train.log")
    finish headline-train "${QUICK[*]:+--quick, }${TRAIN_ARGS[*]}; weights: $n_shipped shipped, $(( n_all - n_shipped )) from the cache; $n_stages training stages run"
fi
step headline-run "$T_RUN" "$WORK/headline_run.log" \
    "$PY" -m linksim run "$HEADLINE" --device "$DEVICE" --out "$WORK/headline" --fresh --no-progress \
    --threads "$THREADS" ${QUICK[@]+"${QUICK[@]}"}
[ -f "$WORK/headline/results.csv" ] || STEP_WHY="${STEP_WHY:-no results.csv}"
finish headline-run "${QUICK[*]:+--quick}"
if [ -f "$WORK/headline/results.csv" ]; then
    "$PY" benchmarks/gpu_check.py table "$WORK/headline/results.csv" --metric accuracy
fi

# ------------------------------------------------------------------ 7. report
header report 60
TOTAL=$(( SECONDS - START_ALL ))
timeout 60 "$PY" benchmarks/gpu_check.py report --out "$OUT_DIR" --work "$WORK" --steps "$STEPS" \
    --report "$REPORT" --device "$DEVICE" --total "$TOTAL" || { echo "report: FAILED"; FAILED=1; }
(cd "$WORK" && find . -name '*.log' -o -name '*.txt' -o -name 'results.json' -o -name 'results.csv' \
    | grep -v '^./cache/' | tar -czf "$OUT_DIR/gpu_check_logs.tar.gz" -T -) \
    && echo "logs: $OUT_DIR/gpu_check_logs.tar.gz ($(du -h "$OUT_DIR/gpu_check_logs.tar.gz" | cut -f1))"
echo
printf '%-16s %-5s %6s  %s\n' STEP RESULT WALL_S NOTE
while IFS=$'\t' read -r n s w note; do printf '%-16s %-5s %6s  %s\n' "$n" "$s" "$w" "$note"; done < "$STEPS"
echo "total ${TOTAL} s; report: $REPORT"
if [ "$FAILED" = 0 ]; then echo "gpu_check: PASS"; exit 0; else echo "gpu_check: FAIL"; exit 1; fi
