#!/usr/bin/env bash
# Sets up a fresh machine (Node 20, nothing else needed): pnpm 10.34.9 and the workspace's
# dependencies from the lockfile. With --test-tools, also the Debian packages the tests compare
# against (sentencepiece's spm_train and its Python module), Chromium, in which a test renders
# the recipe's report.html, and the Vulkan loader, through which the WebGPU tests reach
# Chromium's SwiftShader driver.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.9
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  # Where corepack already owns /usr/bin/pnpm, npm cannot replace it; corepack's signature
  # check fails offline from its key server, hence the integrity override.
  npm install --global --silent "pnpm@$PNPM_VERSION" ||
    COREPACK_INTEGRITY_KEYS=0 corepack prepare "pnpm@$PNPM_VERSION" --activate
fi

if [ "${1:-}" = "--test-tools" ]; then
  missing=()
  command -v spm_train >/dev/null || missing+=(sentencepiece)
  /usr/bin/python3 -c 'import sentencepiece' 2>/dev/null || missing+=(python3-sentencepiece)
  command -v chromium >/dev/null || missing+=(chromium)
  # The WebGPU tests run Dawn on SwiftShader's Vulkan driver (shipped with chromium) through the loader.
  [ -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libvulkan.so.1 ] || missing+=(libvulkan1)
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

export TURBO_TELEMETRY_DISABLED=1
pnpm install --frozen-lockfile --reporter=silent
