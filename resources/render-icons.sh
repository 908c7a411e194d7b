#!/usr/bin/env bash
# Renders the PNG sizes of the console icon from its SVG master. The PNGs are
# committed, so the build never runs this; it needs rsvg-convert (Debian's
# librsvg2-bin) only when the SVG changes.
set -euo pipefail
cd "$(dirname "$0")"
for size in 16 24 32 48 64 128 256; do
    rsvg-convert -w "$size" -h "$size" switchboard-console.svg -o "icons/switchboard-console-$size.png"
done
