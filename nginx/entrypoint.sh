#!/bin/sh
# Container entrypoint (also usable locally): render the configuration, then
# become nginx so that stop signals reach it directly. If render fails, set -e
# ends here with its exit code and nothing listens.
set -eu
: "${OUT_DIR:?OUT_DIR must name the directory nginx/render writes into}"
"$(dirname "$0")/render"
exec "${NGINX_BIN:-nginx}" -p "$OUT_DIR" -c "$OUT_DIR/nginx.conf" -e stderr -g 'daemon off;'
