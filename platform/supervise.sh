#!/bin/sh
# Keep one process running: start the command, and start it again whenever it exits.
#
#   platform/supervise.sh celery -A config worker -Q inference,default
#
# Why: a Celery worker that exits (an unrecoverable broker error, an out-of-memory kill, a
# crash in a native library) serves nothing until someone restarts it.  systemd
# (Restart=always), Kubernetes or a Procfile runner that restarts processes do this for you;
# where none does, this loop is the second line of defence (`make worker-supervised`).
#
# Restarts back off 1, 2, 4 ... SUPERVISE_MAX_BACKOFF seconds (default 30) while the command
# keeps dying young, and start again at 1 s once a run lasted SUPERVISE_HEALTHY_SECONDS
# (default 60).  SIGTERM or SIGINT is passed on to the command (a Celery warm shutdown), and
# then the loop ends instead of restarting: stopping the supervisor stops the worker.
set -u

max_backoff=${SUPERVISE_MAX_BACKOFF:-30}
healthy=${SUPERVISE_HEALTHY_SECONDS:-60}
backoff=1
child=
stopping=

stop() {
    stopping=1
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null
    fi
}
trap stop TERM INT

while :; do
    started=$(date +%s)
    "$@" &
    child=$!
    # `wait` returns early when a trapped signal arrives: wait again for the child to finish.
    wait "$child"
    status=$?
    while kill -0 "$child" 2>/dev/null; do
        wait "$child"
        status=$?
    done
    child=
    [ -n "$stopping" ] && exit "$status"
    ran=$(($(date +%s) - started))
    if [ "$ran" -ge "$healthy" ]; then
        backoff=1
    fi
    echo "supervise: '$1' exited with status $status after ${ran} s; restarting in ${backoff} s" >&2
    sleep "$backoff" &
    wait $!
    [ -n "$stopping" ] && exit "$status"
    backoff=$((backoff * 2))
    if [ "$backoff" -gt "$max_backoff" ]; then
        backoff=$max_backoff
    fi
done
