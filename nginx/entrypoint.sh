#!/bin/sh
# Container entrypoint (also usable locally): render the configuration, then run nginx and
# stay its parent, so that a stop is graceful whatever signal asks for it. If render fails,
# set -e ends here with its exit code and nothing listens.
#
# Why not `exec nginx`: ECS stops a container with SIGTERM and ignores the image's
# STOPSIGNAL, and nginx takes SIGTERM as "fast shutdown", cutting every upload in flight.
# SIGQUIT is nginx's graceful stop: it closes its listening sockets at once (new
# connections are refused), lets requests in flight finish, closes what is left after
# worker_shutdown_timeout (SHUTDOWN_TIMEOUT_SECONDS), and exits 0. So TERM and QUIT both
# become QUIT here; INT (Ctrl-C) and HUP (reload) are passed on as they are.
set -eu
: "${OUT_DIR:?OUT_DIR must name the directory nginx/render writes into}"

nginx=""
stop=""
forward() {
  stop=$1
  if [ -n "$nginx" ]; then kill "-$1" "$nginx" 2>/dev/null || :; fi
}
trap 'forward QUIT' TERM QUIT
trap 'forward INT' INT
trap 'if [ -n "$nginx" ]; then kill -HUP "$nginx" 2>/dev/null || :; fi' HUP

"$(dirname "$0")/render"
if [ -n "$stop" ]; then
  echo "nginx/entrypoint: asked to stop (SIG$stop) while starting; nginx not started" >&2
  exit 0
fi

"${NGINX_BIN:-nginx}" -p "$OUT_DIR" -c "$OUT_DIR/nginx.conf" -e stderr -g 'daemon off;' &
nginx=$!
# A signal that came between starting nginx and knowing its pid.
if [ -n "$stop" ]; then kill "-$stop" "$nginx" 2>/dev/null || :; fi

# wait returns early (status above 128) each time a trapped signal arrives: wait again
# while nginx still runs, then leave with nginx's own exit status.
while :; do
  if wait "$nginx"; then status=0; else status=$?; fi
  if [ "$status" -gt 128 ] && kill -0 "$nginx" 2>/dev/null; then continue; fi
  break
done
exit "$status"
