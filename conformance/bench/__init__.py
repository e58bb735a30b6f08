"""`samspec bench`: its command line (command), the CPU bench (cpu) and the GPU bench (gpu)."""
