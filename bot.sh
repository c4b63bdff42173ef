#!/usr/bin/env bash
# alpaca-fleece: run the bot in the background, detached from the terminal.
#
#   ./bot.sh start     start the bot in a new session (setsid); refuses a second instance
#   ./bot.sh stop      SIGTERM, wait for the graceful shutdown, SIGKILL only after a timeout
#   ./bot.sh status    exit 0 and print the PID when running, exit 3 when not (LSB), then
#                      the `fleece status` report (add --brief for the first line only)
#   ./bot.sh restart   stop, then start
#
# The bot is `.venv/bin/python orchestrator.py` in the bot directory, with its output appended
# to logs/orchestrator.out and its PID in data/alpaca_bot.pid. While it runs it holds an
# exclusive lock (flock) on the PID file, the same lock `python daemon.py` uses, so the two
# launchers cannot start a second bot on the same data.
#
# Environment (all optional):
#   BOT_ROOT          the bot directory [the directory of this script]
#   BOT_PYTHON        the interpreter [$BOT_ROOT/.venv/bin/python]
#   BOT_PID_FILE      [$BOT_ROOT/data/alpaca_bot.pid]
#   BOT_LOG_FILE      where stdout/stderr are appended [$BOT_ROOT/logs/orchestrator.out]
#   BOT_STOP_TIMEOUT  whole seconds to wait for the graceful shutdown before SIGKILL [90]
#   BOT_START_WAIT    whole seconds to watch a fresh start for an early failure [20]
# The bot's own settings (.env, LOG_DIR, DATABASE_PATH ...) are read by the bot as usual;
# keep LOG_DIR=logs so that its rotating log and this script's output are the same file.
set -uo pipefail
set +m # no job control: a background job then shares our process group (see start)

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${BOT_ROOT:-$SCRIPT_DIR}" && pwd -P)" || { echo "bot.sh: no such BOT_ROOT" >&2; exit 5; }
PYTHON="${BOT_PYTHON:-$ROOT/.venv/bin/python}"
ENTRY="$ROOT/orchestrator.py"
PID_FILE="${BOT_PID_FILE:-$ROOT/data/alpaca_bot.pid}"
LOG_FILE="${BOT_LOG_FILE:-$ROOT/logs/orchestrator.out}"
STOP_TIMEOUT="${BOT_STOP_TIMEOUT:-90}"
START_WAIT="${BOT_START_WAIT:-20}"
for setting in "BOT_STOP_TIMEOUT=$STOP_TIMEOUT" "BOT_START_WAIT=$START_WAIT"; do
  [[ "${setting#*=}" =~ ^[0-9]+$ ]] || { echo "bot.sh: $setting: expected whole seconds" >&2; exit 2; }
done

# LSB exit codes.
EXIT_OK=0
EXIT_FAILED=1
EXIT_BAD_ARGS=2
EXIT_NO_PRIVILEGE=4
EXIT_NOT_INSTALLED=5
STATUS_NOT_RUNNING=3

say() { printf '%s\n' "$*"; }
warn() { printf 'bot.sh: %s\n' "$*" >&2; }

# The arguments of process PID, one per line; nothing when there is no such process (or a zombie).
args_of() {
  local pid="$1"
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null
  else
    ps -p "$pid" -o args= 2>/dev/null | tr ' ' '\n'
  fi
}

# True when PID is alive and is a Python running this bot directory's orchestrator.py. A PID
# reused by another program (after a crash and a reboot, say) fails the test.
is_bot() {
  # Not `kill -0`: it fails for another user's process, which would look like a stale file.
  local pid="$1" first="" arg
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  while IFS= read -r arg; do
    if [[ -z "$first" ]]; then
      first="${arg##*/}"
      [[ "$first" == python* ]] || return 1
    elif [[ "$arg" == "$ENTRY" ]]; then
      return 0
    fi
  done < <(args_of "$pid")
  return 1
}

read_pid() {
  local pid=""
  [[ -f "$PID_FILE" ]] && read -r pid <"$PID_FILE" 2>/dev/null
  printf '%s' "$pid"
}

# The PID of a bot from this directory found without the PID file (someone deleted it).
scan_for_bot() {
  local dir pid
  for dir in /proc/[0-9]*; do
    pid="${dir#/proc/}"
    if [[ "$pid" != "$$" && "$pid" != "$BASHPID" ]] && is_bot "$pid"; then
      printf '%s' "$pid"
      return 0
    fi
  done
  return 1
}

# Print the running bot's PID, or fail. A PID file naming no bot is stale: say so and remove it.
running_pid() {
  local pid
  pid="$(read_pid)"
  if [[ -n "$pid" ]] && is_bot "$pid"; then
    printf '%s' "$pid"
    return 0
  fi
  if [[ -f "$PID_FILE" ]]; then
    if [[ -z "$pid" ]]; then
      warn "removing empty PID file $PID_FILE"
    elif [[ -n "$(args_of "$pid")" ]]; then
      warn "removing stale PID file $PID_FILE: PID $pid is another program ($(args_of "$pid" | head -n 2 | tr '\n' ' ' | cut -c1-60))"
    else
      warn "removing stale PID file $PID_FILE: PID $pid is not running"
    fi
    rm -f "$PID_FILE"
  fi
  if pid="$(scan_for_bot)"; then
    warn "found the bot running without its PID file (PID $pid): rewriting $PID_FILE"
    printf '%s\n' "$pid" >"$PID_FILE"
    printf '%s' "$pid"
    return 0
  fi
  return 1
}

# True while our own child PID lives: a zombie (exited, not yet waited for) does not count. Not
# judged by the command line, which reads empty for an instant while the child executes the bot.
child_alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  if [[ -r "/proc/$1/stat" ]]; then
    stat="$(<"/proc/$1/stat")" || return 1
    stat="${stat##*) }"
    [[ "${stat%% *}" != Z ]]
  else
    [[ "$(ps -p "$1" -o stat= 2>/dev/null)" != Z* ]]
  fi
}

log_line() {
  # Same layout as the bot's own lines (local time, like Python's asctime).
  printf '%s %s bot.sh %s\n' "$(date '+%Y-%m-%d %H:%M:%S,000')" "$1" "$2" >>"$LOG_FILE" 2>/dev/null
}

log_size() { stat -c %s "$LOG_FILE" 2>/dev/null || stat -f %z "$LOG_FILE" 2>/dev/null || echo 0; }

# Lines appended to the log since byte OFFSET (all of it if the log rotated meanwhile).
log_since() {
  local offset="$1"
  if (($(log_size) < offset)); then offset=0; fi
  tail -c +"$((offset + 1))" "$LOG_FILE" 2>/dev/null
}

start() {
  local pid
  if pid="$(running_pid)"; then
    warn "already running (PID $pid): refusing to start a second instance"
    return "$EXIT_FAILED"
  fi
  if [[ ! -x "$PYTHON" ]]; then
    warn "no Python at $PYTHON: run 'make sync' (or 'uv sync --frozen') first"
    return "$EXIT_NOT_INSTALLED"
  fi
  [[ -f "$ENTRY" ]] || { warn "no $ENTRY"; return "$EXIT_NOT_INSTALLED"; }
  mkdir -p "$(dirname "$PID_FILE")" "$(dirname "$LOG_FILE")" || return "$EXIT_FAILED"
  local offset
  offset="$(log_size)"
  log_line INFO "starting $ENTRY (root $ROOT)"

  # The subshell takes the lock on the PID file (fd 9), writes its own PID, then becomes the
  # bot: `exec setsid` keeps the PID (a background job of a script is no process-group leader,
  # so setsid does not fork) and the bot inherits fd 9, holding the lock for as long as it lives.
  (
    cd "$ROOT" || exit "$EXIT_FAILED"
    exec 9>>"$PID_FILE"
    if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
      warn "another bot holds the lock on $PID_FILE: refusing to start a second instance"
      exit "$EXIT_FAILED"
    fi
    printf '%s\n' "$BASHPID" >"$PID_FILE"
    # Close what we inherited (an ssh session's pipes, say), so the bot holds nothing open
    # for the terminal it left; 0-2 are redirected below and 9 is the lock.
    local fd_path fd
    for fd_path in /proc/"$BASHPID"/fd/*; do
      fd="${fd_path##*/}"
      if [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2 && fd != 9)); then exec {fd}>&-; fi
    done 2>/dev/null
    exec setsid "$PYTHON" "$ENTRY" >>"$LOG_FILE" 2>&1 </dev/null
  ) &
  pid=$!

  # Watch the start: a config error or a missing dependency ends the process within seconds.
  local ticks=0 max_ticks=$((START_WAIT * 4))
  while :; do
    if ! child_alive "$pid"; then
      wait "$pid" 2>/dev/null
      local code=$?
      # The PID file is only ours to remove if it still names the process that failed.
      [[ "$(read_pid)" == "$pid" ]] && rm -f "$PID_FILE"
      warn "the bot exited during start-up (exit code $code); last log lines:"
      log_since "$offset" | tail -n 15 >&2
      return "$EXIT_FAILED"
    fi
    if log_since "$offset" | grep -q " bot running "; then
      say "alpaca-bot started (PID $pid); log: $LOG_FILE"
      return "$EXIT_OK"
    fi
    if ((ticks >= max_ticks)); then
      say "alpaca-bot started (PID $pid), still starting up; log: $LOG_FILE"
      return "$EXIT_OK"
    fi
    sleep 0.25
    ticks=$((ticks + 1))
  done
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    say "alpaca-bot is not running"
    return "$EXIT_OK"
  fi
  say "stopping alpaca-bot (PID $pid): SIGTERM, graceful shutdown (up to ${STOP_TIMEOUT}s)"
  log_line INFO "sending SIGTERM to PID $pid"
  if ! kill -TERM "$pid"; then
    warn "cannot signal PID $pid: run as the user the bot runs as"
    return "$EXIT_NO_PRIVILEGE"
  fi
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while is_bot "$pid"; do
    if ((SECONDS >= deadline)); then
      warn "no exit ${STOP_TIMEOUT}s after SIGTERM: sending SIGKILL to process group $pid"
      warn "the graceful shutdown did not finish: check open orders and positions"
      log_line ERROR "no exit ${STOP_TIMEOUT}s after SIGTERM: SIGKILL sent to PID $pid; the graceful shutdown did not finish"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
      local tries=0
      while is_bot "$pid" && ((tries++ < 25)); do sleep 0.2; done
      break
    fi
    sleep 0.2
  done
  if is_bot "$pid"; then
    warn "PID $pid is still alive"
    return "$EXIT_FAILED"
  fi
  [[ "$(read_pid)" == "$pid" ]] && rm -f "$PID_FILE"
  say "alpaca-bot stopped"
  return "$EXIT_OK"
}

status() {
  local brief="${1:-}" pid code
  if pid="$(running_pid)"; then
    say "alpaca-bot is running (PID $pid)"
    code=$EXIT_OK
  else
    say "alpaca-bot is not running"
    code=$STATUS_NOT_RUNNING
  fi
  # The store's view (trading state, heartbeat, positions ...); it never changes the exit code.
  if [[ "$brief" != "--brief" && -x "$PYTHON" ]]; then
    (cd "$ROOT" && BOT_PID_FILE="$PID_FILE" "$PYTHON" -m fleece status) ||
      warn "fleece status could not read the store (see above)"
  fi
  return "$code"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status "${2:-}" ;;
  restart)
    stop || exit "$EXIT_FAILED"
    start
    ;;
  *)
    echo "usage: $0 {start|stop|status [--brief]|restart}" >&2
    exit "$EXIT_BAD_ARGS"
    ;;
esac
