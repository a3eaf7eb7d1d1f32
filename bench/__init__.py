"""fednode's benchmarks: speed, memory and quality targets, each writing JSON and a Markdown table to
``bench/results/``. Run one with ``python -m bench.<name> [--quick]`` or all with ``python -m bench``."""
