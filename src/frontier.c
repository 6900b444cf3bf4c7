/*
 * frontier.c - Pareto sets, the non-decreasing concave envelope and its
 * normalised area (AIQ), and the dominance check (definitions in
 * seqroute/frontier.h and docs/EVALUATION.md).
 *
 * The envelope is built in two passes over the points sorted by cost
 * (ties: higher quality first, then lower index).  The first pass keeps the
 * staircase of points whose quality is strictly above every cheaper
 * point's.  A mixture that uses a point off the staircase is matched or
 * beaten by the same mixture with the staircase point that dominates it.
 * The envelope therefore depends on the staircase alone.  The second pass is
 * Andrew's monotone chain for the upper hull of the staircase: a vertex is
 * dropped while it lies on or below the chord from the vertex before it to
 * the new point.  The staircase rises in both cost and quality, so the hull
 * is concave and rising, and the flat extension after its last vertex
 * makes it the envelope.
 *
 * Point sets are small (one point per λ or reserve value), so the O(n²)
 * Pareto check is fine.
 */
#include "seqroute/frontier.h"

#include <math.h>
#include <stdlib.h>

static bool point_is_finite(const sr_frontier_point *p)
{
    return isfinite(p->cost) && isfinite(p->quality) && isfinite(p->bankruptcy);
}

static sr_status check_points(const sr_frontier_point *points, size_t n, sr_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!point_is_finite(&points[i]))
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "point",
                                "frontier point %zu (cost %g, quality %g, bankruptcy %g) has a "
                                "value that is not finite",
                                i, points[i].cost, points[i].quality, points[i].bankruptcy);
    return SR_OK;
}

sr_status sr_frontier_pareto(const sr_frontier_point *points, size_t n, bool *on_frontier,
                             sr_error *err)
{
    sr_status status = check_points(points, n, err);
    if (status != SR_OK)
        return status;

    for (size_t i = 0; i < n; i++) {
        const sr_frontier_point *p = &points[i];
        on_frontier[i] = true;
        for (size_t j = 0; j < n && on_frontier[i]; j++) {
            const sr_frontier_point *o = &points[j];
            const bool no_worse =
                o->cost <= p->cost && o->quality >= p->quality && o->bankruptcy <= p->bankruptcy;
            const bool better =
                o->cost < p->cost || o->quality > p->quality || o->bankruptcy < p->bankruptcy;
            if (j != i && no_worse && better)
                on_frontier[i] = false;
        }
    }
    return SR_OK;
}

/* Sort context: qsort has no user pointer, so indices are sorted with their points. */
typedef struct indexed_point {
    double cost;
    double quality;
    size_t index;
} indexed_point;

static int compare_by_cost(const void *a, const void *b)
{
    const indexed_point *x = a;
    const indexed_point *y = b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    if (x->quality != y->quality)
        return x->quality > y->quality ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Cross product of (b - a) and (c - a): positive when c lies above the line
 * from a through b (seen from a, with b to the right of a).
 */
static double cross(const indexed_point *a, const indexed_point *b, const indexed_point *c)
{
    return (b->cost - a->cost) * (c->quality - a->quality) -
           (b->quality - a->quality) * (c->cost - a->cost);
}

sr_status sr_frontier_envelope(const sr_frontier_point *points, size_t n, size_t *vertices,
                               size_t *n_vertices, sr_error *err)
{
    *n_vertices = 0;
    if (n == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "points",
                            "a frontier needs at least one point");
    sr_status status = check_points(points, n, err);
    if (status != SR_OK)
        return status;
    indexed_point *sorted = malloc(n * sizeof(*sorted));
    indexed_point *hull = malloc(n * sizeof(*hull));
    if (sorted == NULL || hull == NULL) {
        free(sorted);
        free(hull);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }

    /* Sort by cost, higher quality first on ties. */
    for (size_t i = 0; i < n; i++)
        sorted[i] = (indexed_point){points[i].cost, points[i].quality, i};
    qsort(sorted, n, sizeof(*sorted), compare_by_cost);

    /* Staircase and upper hull in one sweep: only strict quality gains enter the chain. */
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        const indexed_point *p = &sorted[i];
        if (count > 0 && p->quality <= hull[count - 1].quality)
            continue;
        while (count >= 2 && cross(&hull[count - 2], &hull[count - 1], p) >= 0)
            count--;
        hull[count++] = *p;
    }

    for (size_t i = 0; i < count; i++)
        vertices[i] = hull[i].index;
    *n_vertices = count;
    free(sorted);
    free(hull);
    return SR_OK;
}

double sr_frontier_envelope_at(const sr_frontier_point *points, const size_t *vertices,
                               size_t n_vertices, double c)
{
    if (n_vertices == 0 || c < points[vertices[0]].cost)
        return 0.0;
    for (size_t i = 0; i + 1 < n_vertices; i++) {
        const sr_frontier_point *a = &points[vertices[i]];
        const sr_frontier_point *b = &points[vertices[i + 1]];
        if (c <= b->cost)
            return a->quality + (b->quality - a->quality) * (c - a->cost) / (b->cost - a->cost);
    }
    return points[vertices[n_vertices - 1]].quality;
}

/* Integral over [lo, hi] of the line through a and b (a.cost < b.cost), restricted to [a, b]. */
static double segment_area(const sr_frontier_point *a, const sr_frontier_point *b, double lo,
                           double hi)
{
    const double from = fmax(lo, a->cost);
    const double to = fmin(hi, b->cost);
    if (!(to > from))
        return 0.0;
    const double slope = (b->quality - a->quality) / (b->cost - a->cost);
    const double q_from = a->quality + slope * (from - a->cost);
    const double q_to = a->quality + slope * (to - a->cost);
    return (to - from) * (q_from + q_to) / 2;
}

sr_status sr_frontier_aiq(const sr_frontier_point *points, size_t n, double lo, double hi,
                          double *aiq, sr_error *err)
{
    *aiq = NAN;
    if (!isfinite(lo) || !isfinite(hi) || hi < lo)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "cost_range",
                            "the AIQ cost range [%g, %g] is not a finite interval", lo, hi);
    size_t *vertices = malloc((n ? n : 1) * sizeof(*vertices));
    if (vertices == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    size_t n_vertices = 0;
    sr_status status = sr_frontier_envelope(points, n, vertices, &n_vertices, err);
    if (status != SR_OK) {
        free(vertices);
        return status;
    }

    /* A range of zero width: the mean over it is the envelope's value there. */
    if (hi == lo) {
        *aiq = sr_frontier_envelope_at(points, vertices, n_vertices, lo);
        free(vertices);
        return SR_OK;
    }

    /* Rising segments, then the flat part after the last vertex; below the first it is 0. */
    double area = 0;
    for (size_t i = 0; i + 1 < n_vertices; i++)
        area += segment_area(&points[vertices[i]], &points[vertices[i + 1]], lo, hi);
    const sr_frontier_point *top = &points[vertices[n_vertices - 1]];
    const double flat_from = fmax(lo, top->cost);
    if (hi > flat_from)
        area += (hi - flat_from) * top->quality;

    *aiq = area / (hi - lo);
    free(vertices);
    return SR_OK;
}

long sr_frontier_cheapest_dominating(const sr_frontier_point *candidates, size_t n,
                                     const sr_frontier_point *baseline)
{
    long best = -1;
    for (size_t i = 0; i < n; i++) {
        const sr_frontier_point *p = &candidates[i];
        if (!point_is_finite(p) || !(p->quality >= baseline->quality) ||
            !(p->bankruptcy <= baseline->bankruptcy))
            continue;
        if (best >= 0) {
            const sr_frontier_point *b = &candidates[best];
            const bool better =
                p->cost < b->cost ||
                (p->cost == b->cost &&
                 (p->quality > b->quality ||
                  (p->quality == b->quality && p->bankruptcy < b->bankruptcy)));
            if (!better)
                continue;
        }
        best = (long)i;
    }
    return best;
}
