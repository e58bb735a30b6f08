"""`samspec bench`: its command line (command); what it measures (workloads, timing, memory), the
facts of the machine (machine), targets and the W4 check (verdicts), the printed table (table), the
whole-suite budgets (suite); the CPU bench that runs them in child processes (cpu) and the GPU bench
(gpu)."""
