#!/usr/bin/env bash
# The WebGPU bench (webgpu.bench.ts) on a machine with an NVIDIA GPU, from a copy of the repository:
#   bash packages/webgpu/bench/gpu-machine.sh
# Needs Node.js 20 or newer (pnpm is installed from npm when absent), the registry for
# `pnpm install`, and the NVIDIA driver with its Vulkan ICD (the Vulkan loader, libvulkan1, is
# installed with apt-get when missing and we are root). It installs and builds what the bench
# needs, checks that Dawn finds a real GPU adapter (not SwiftShader or another CPU driver; it fails
# at once when there is none), then runs the bench at GPU sizes against onnxruntime on the CPU.
# The output goes to stdout and, when $OUT is set, to $OUT/webgpu-bench.txt.
#
# Environment (optional): BENCH_PRESETS (inference, default gemma2-25m), BENCH_TRAIN_PRESETS
# (training, default gemma2-7m), GPU_PEAK_TFLOPS (default 67: the H200 SXM's float32 non-tensor
# peak), BENCH_MATMUL_SIZES, BENCH_MODEL_DIR, BENCH_ORT_THREADS (see webgpu.bench.ts), and
# GPU_BENCH_DEADLINE_S: the whole script's time limit in seconds (default 420).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$root"
deadline=${GPU_BENCH_DEADLINE_S:-420}
log() { echo "gpu-machine: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}
# Sets $budget to the seconds left before the deadline, for the next step's timeout.
budget_for() {
  budget=$((deadline - SECONDS))
  [ "$budget" -gt 10 ] || die "out of time (${deadline} s, GPU_BENCH_DEADLINE_S) before $1"
}

report=/dev/null
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  report=$OUT/webgpu-bench.txt
  : >"$report"
fi

# 1. Node.js and pnpm.
command -v node >/dev/null || die "no node on PATH: install Node.js 20 or newer first"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old: 20 or newer is needed"
pnpm_version=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if ! command -v pnpm >/dev/null; then
  log "installing pnpm@$pnpm_version from npm"
  budget_for "installing pnpm"
  timeout "$budget" npm install --global --no-fund --no-audit "pnpm@$pnpm_version" >/dev/null ||
    die "could not install pnpm@$pnpm_version with npm"
fi

# 2. The GPU, and Vulkan: Dawn runs on the NVIDIA driver's Vulkan ICD through the Vulkan loader.
if command -v nvidia-smi >/dev/null; then
  nvidia-smi -L | tee -a "$report" || die "nvidia-smi sees no GPU"
elif ! ls /dev/nvidia[0-9]* >/dev/null 2>&1; then
  die "no NVIDIA GPU here (no nvidia-smi, no /dev/nvidia*): this script measures WebGPU on a GPU"
fi
for var in VK_ICD_FILENAMES VK_DRIVER_FILES; do
  case "${!var:-}" in
  *swiftshader* | *lvp_icd* | *lavapipe*)
    log "unsetting $var=${!var}: that is a CPU driver; this script measures the GPU"
    unset "$var"
    ;;
  esac
done
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing the Vulkan loader (libvulkan1)"
    (apt-get update -qq && apt-get install -y -qq libvulkan1) >/dev/null || die "apt-get could not install libvulkan1"
  else
    die "no Vulkan loader (libvulkan.so.1): install libvulkan1"
  fi
fi
# NVIDIA's container runtime puts the ICD under /usr/local/nvidia, where the loader does not look by
# default; adding that folder to XDG_DATA_DIRS lets it find the ICD without pinning a driver.
if [ -d /usr/local/nvidia/share/vulkan/icd.d ]; then
  export XDG_DATA_DIRS="${XDG_DATA_DIRS:-/usr/local/share:/usr/share}:/usr/local/nvidia/share"
fi
egl_vendor=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$egl_vendor" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-$egl_vendor}

# 3. The workspace: the webgpu package, what it depends on, and the root's tools (turbo, tsup).
log "pnpm install"
budget_for "pnpm install"
timeout "$budget" pnpm install --frozen-lockfile --filter "@gemma-ts/webgpu..." --filter gemma-ts ||
  die "pnpm install --frozen-lockfile failed (is the registry reachable?)"

# 4. A real GPU adapter, or stop here (before the build: Dawn comes with the install).
adapter_check='
import { create } from "webgpu";
const gpu = create([]);
const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
if (!adapter) {
  console.error("Dawn found no WebGPU adapter: no Vulkan driver for the GPU (is the NVIDIA Vulkan ICD installed?)");
  process.exit(2);
}
const { vendor, architecture, device, description, isFallbackAdapter } = adapter.info;
const name = `${vendor} ${architecture} ${device} ${description}`;
console.log(`adapter: vendor "${vendor}", architecture "${architecture}", device "${device}", description "${description}"`);
if (isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|softpipe/i.test(name)) {
  console.error(`Dawn found only a CPU adapter (${name.trim()}), not a GPU`);
  process.exit(3);
}
process.exit(0);
'
budget_for "the adapter check"
(cd packages/webgpu && timeout "$budget" node --input-type=module -e "$adapter_check") 2>&1 | tee -a "$report" ||
  die "no GPU adapter for WebGPU (above: what Dawn found); nothing was benchmarked"

# 5. The build.
log "building @gemma-ts/webgpu and its dependencies"
budget_for "the build"
TURBO_TELEMETRY_DISABLED=1 timeout "$budget" pnpm build --filter "@gemma-ts/webgpu..." --output-logs=errors-only ||
  die "the build failed"

# 6. The bench, at GPU sizes.
cd packages/webgpu
log "running the bench"
budget_for "the bench"
BENCH_PRESETS=${BENCH_PRESETS:-gemma2-25m} \
  BENCH_TRAIN_PRESETS=${BENCH_TRAIN_PRESETS:-gemma2-7m} \
  GPU_PEAK_TFLOPS=${GPU_PEAK_TFLOPS:-67} \
  BENCH_REQUIRE_GPU=1 \
  timeout "$budget" pnpm --silent bench 2>&1 | tee -a "$report" ||
  die "the bench failed or ran past the deadline (exit status ${PIPESTATUS[0]})"
log "done in ${SECONDS} s${OUT:+; output in $report}"
