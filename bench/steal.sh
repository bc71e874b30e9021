# Sourced by the bench scripts: the CPU time the hypervisor took from this machine's cores (`steal` in
# /proc/stat), so that a run slowed by a busy host shows as one. Zero on bare metal.

# The steal counter now, in clock ticks.
steal_ticks() { awk '/^cpu /{print $9}' /proc/stat; }

# The CPU time (user + system) process PID has used, in clock ticks.
# Usage: cpu_ticks PID
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Milliseconds of CPU time stolen since the tick count STEAL_START.
# Usage: steal_ms_since STEAL_START
steal_ms_since() { echo $(( ($(steal_ticks) - $1) * 1000 / $(getconf CLK_TCK) )); }
