/*
 * frontier.h - cost-quality frontiers of swept policies: the Pareto set,
 * the non-decreasing concave envelope, its normalised area (AIQ) and the
 * dominance check.  Pure computations on point sets; docs/EVALUATION.md
 * ("Frontiers, AIQ and dominance") states every definition.
 *
 * A point is one evaluated configuration of a policy at one budget: mean
 * cost per session, mean quality per turn and bankruptcy rate.
 *
 * Envelope.  For a point set P, E_P(c) is the largest mean quality that a
 * random per-session mixture of the configurations in P reaches at a mean
 * cost of at most c:
 *
 *   E_P(c) = sup { Σ w_i q_i : w ≥ 0, Σ w_i = 1, Σ w_i c_i ≤ c }.
 *
 * It is non-decreasing and concave on [min_i c_i, ∞), piecewise linear
 * between the vertices of the upper convex hull of the points up to the
 * point of highest quality, and flat after that point.  Below the cheapest
 * point no mixture exists, and E_P(c) is taken to be 0.
 *
 * AIQ over a cost range [lo, hi] with lo < hi is (1 / (hi - lo)) ∫ E_P(c) dc
 * over that range.  With lo = hi it is E_P(lo), the limit of that mean.
 * Callers add the anchors they want (seqroute eval adds the always-cheapest
 * point) to P themselves.
 *
 * Thread-safety: every function is reentrant.  Nothing here allocates
 * except sr_frontier_envelope and sr_frontier_aiq, which free what they
 * allocate before returning.
 */
#ifndef SEQROUTE_FRONTIER_H
#define SEQROUTE_FRONTIER_H

#include <stdbool.h>
#include <stddef.h>

#include "seqroute/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One evaluated configuration: mean cost, mean quality, bankruptcy rate. */
typedef struct sr_frontier_point {
    double cost;
    double quality;
    double bankruptcy;
} sr_frontier_point;

/*
 * Marks in `on_frontier` (n entries) the points that no other point
 * dominates in (cost, quality, bankruptcy): a point is dominated when
 * another has cost ≤, quality ≥ and bankruptcy ≤, with at least one of the
 * three strict.  Exact duplicates do not dominate each other, so both stay
 * on the frontier.  Returns SR_ERR_INVALID when a value is not finite.
 */
sr_status sr_frontier_pareto(const sr_frontier_point *points, size_t n, bool *on_frontier,
                             sr_error *err);

/*
 * Computes the vertices of the envelope E_P of the n points: writes their
 * indices into `vertices` (room for n), in increasing cost, and their count
 * into `*n_vertices`.  Of several identical points only the one with the
 * lowest index is a vertex.  The last vertex is the point of highest
 * quality (the cheapest of those when several share it).  Returns
 * SR_ERR_INVALID for n = 0 or a value that is not finite, SR_ERR_NOMEM.
 */
sr_status sr_frontier_envelope(const sr_frontier_point *points, size_t n, size_t *vertices,
                               size_t *n_vertices, sr_error *err);

/*
 * Evaluates the envelope with vertices `vertices` (as sr_frontier_envelope
 * returns them) at cost `c`: 0 below the first vertex, linear between
 * vertices, the last vertex's quality beyond it.
 */
double sr_frontier_envelope_at(const sr_frontier_point *points, const size_t *vertices,
                               size_t n_vertices, double c);

/*
 * Computes the AIQ of the n points over [lo, hi] (definition above) into
 * `*aiq`.  Points outside the range still shape the envelope inside it.
 * Returns SR_ERR_INVALID for n = 0, a value that is not finite, or a range
 * with hi < lo or a bound that is not finite; SR_ERR_NOMEM.
 */
sr_status sr_frontier_aiq(const sr_frontier_point *points, size_t n, double lo, double hi,
                          double *aiq, sr_error *err);

/*
 * Returns the index of the cheapest of the n `candidates` that has at least
 * the quality and at most the bankruptcy rate of `baseline`, or -1 when
 * none has.  Ties in cost go to the higher quality, then the lower
 * bankruptcy rate, then the lower index.  The comparisons are exact: the
 * values are sample means, and any margin would be a choice the caller
 * states.  Points with a value that is not finite never qualify.
 */
long sr_frontier_cheapest_dominating(const sr_frontier_point *candidates, size_t n,
                                     const sr_frontier_point *baseline);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_FRONTIER_H */
