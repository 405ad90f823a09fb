#!/usr/bin/env bash
# Instructions per pump-year of the pump benchmark's workload, counted by valgrind's callgrind: unlike CPU
# time, the count does not move with other work on the machine. It runs the workload once and three times
# and prints half the difference, so start-up and imports cancel out.
# Run: bash benchmarks/pump_instructions.sh [python]   (needs valgrind; about a minute)
set -euo pipefail
python=${1:-python3}
# valgrind must see the interpreter itself, not a shim that execs it
python=$("$python" -c 'import sys; print(sys.executable)')
here=$(cd "$(dirname "$0")" && pwd)
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$python" -c "
import sys
sys.path.insert(0, '$here')
from bench_pump import pump_years
for _ in range($1):
    pump_years(1)" 2>&1 | awk '/Collected/ {print $4}'
}
once=$(count 1)
thrice=$(count 3)
echo "instructions per pump-year: $(( (thrice - once) / 2 ))"
