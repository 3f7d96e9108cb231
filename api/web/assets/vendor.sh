#!/usr/bin/env bash
# vendor.sh installs the pages' front-end packages at the exact versions pinned in
# package-lock.json (npm ci) and copies what the binary serves into ../static/vendor/:
# each package's minified dist file and its licence and notice files. The copies are
# committed, so building or running aidmall needs no npm; run this only to change a
# version (edit package.json, `npm install --package-lock-only`, then this script) and
# commit the result. vendor_test.go checks the copies against the pins.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --ignore-scripts --no-audit --no-fund
out=../static/vendor
rm -rf "$out/echarts"
mkdir -p "$out/echarts"
# ECharts (Apache-2.0). The "common" build has the line, bar and pie charts the dashboard
# draws; it bundles zrender (BSD-3-Clause) and tslib (0BSD), whose licences go beside it.
cp node_modules/echarts/dist/echarts.common.min.js "$out/echarts/"
cp node_modules/echarts/LICENSE node_modules/echarts/NOTICE "$out/echarts/"
cp node_modules/echarts/licenses/LICENSE-d3 "$out/echarts/LICENSE-d3"
cp node_modules/zrender/LICENSE "$out/echarts/LICENSE-zrender"
cp node_modules/tslib/LICENSE.txt "$out/echarts/LICENSE-tslib.txt"
version=$(node -p 'require("./node_modules/echarts/package.json").version')
sum=$(sha256sum "$out/echarts/echarts.common.min.js" | cut -d' ' -f1)
printf 'echarts %s echarts.common.min.js sha256:%s\n' "$version" "$sum" > "$out/VERSIONS"
rm -rf node_modules
echo "vendored echarts $version into $out"
