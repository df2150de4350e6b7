#!/bin/bash
# Per-bridge cost at each size from bridges.sh's log (N apply plan peer):
# linear growth keeps the cost per bridge flat; a quadratic step shows as a
# cost per bridge that grows with N. The kernel's own cost per link grows with
# the number of links too (ip -batch shows it), so apply is judged against it.
set -eu
awk '
{ n[NR] = $1; a[NR] = $2; p[NR] = $3; q[NR] = $4 }
END {
        for (i = 1; i <= NR; i++)
                printf "scaling-%d apply=%.1f us/bridge plan=%.1f us/bridge ip-batch=%.1f us/bridge\n", n[i],
                       a[i] / n[i] * 1e6, p[i] / n[i] * 1e6, q[i] / n[i] * 1e6
        if (NR >= 2) {
                r = (a[NR] / n[NR]) / (a[NR - 1] / n[NR - 1])
                k = (q[NR] / n[NR]) / (q[NR - 1] / n[NR - 1])
                s = (p[NR] / n[NR]) / (p[NR - 1] / n[NR - 1])
                verdict = (r < 1.25 * k && s < 1.5) ? "linear: apply grows no faster than the kernel work ip -batch does" \
                                                    : "grows faster than linear"
                printf "scaling per bridge %d->%d: apply x%.2f, ip -batch x%.2f, plan x%.2f (%s)\n", n[NR - 1], n[NR], r, k,
                       s, verdict
        }
}' "$1"
