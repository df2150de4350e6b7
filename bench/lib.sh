# Helpers the host-side benchmarks share (sourced from the tree's top).
now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
