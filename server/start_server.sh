#!/bin/sh
# drum-bridge's drop-in environment: start the prediction server, as the start_server.sh of
# DataRobot's drop-in environments starts `drum server`, from the same environment:
#   CODE_DIR   the model's code dir (default /opt/code)
#   ADDRESS    host:port to listen on (default 0.0.0.0:8080)
#   TARGET_TYPE, POSITIVE_CLASS_LABEL, NEGATIVE_CLASS_LABEL, CLASS_LABELS, MAX_WORKERS,
#   WITH_ERROR_SERVER, RUNTIME_PARAMS_FILE, MLOPS_RUNTIME_PARAM_*, DRUM_BRIDGE_*, ...
#     as `drum server` reads them (see the README's settings table).
#   ENABLE_CUSTOM_MODEL_RUNTIME_ENV_DUMP=1 prints the environment first (secrets included).
# Arguments are passed on to `drum server`.
#
# `exec`: the server replaces this shell, so in a container it is PID 1 and SIGTERM reaches
# it directly (it drains requests in flight and exits 0).
set -eu

export CODE_DIR="${CODE_DIR:-/opt/code}"
export ADDRESS="${ADDRESS:-0.0.0.0:8080}"

echo "Starting Custom Model environment with drum-bridge prediction server"
if [ "${ENABLE_CUSTOM_MODEL_RUNTIME_ENV_DUMP:-0}" = 1 ]; then
    echo "Environment variables:"
    env
fi
echo "Executing command: drum server $*"
exec drum server "$@"
