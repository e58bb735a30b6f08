"""Running a port and judging its outputs: the worker that isolates the port (isolation), the
error budget (tolerance), the per-output comparison (check), per-stage comparison of traces
(stages), the known-failures file (xfail) and progress bars. Data path, steps 3 and 4."""
