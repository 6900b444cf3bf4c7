/*
 * plot.h - a small chart layer on cairo: figures of stacked panels, each with
 * two axes (linear or log, nice ticks, unit labels), series drawn as lines,
 * markers and error bars, a legend and an optional colour bar, written as PNG
 * or SVG.
 *
 * A figure is built first (titles, axes, series; all data is copied) and
 * drawn later, once per output file, so the PNG and the SVG come from the
 * same layout.  Drawing is deterministic: the same figure gives the same
 * bytes on the same machine (fonts come from fontconfig's "DejaVu Sans").
 *
 * Threads: a figure is not shared; distinct figures may be used from
 * distinct threads.
 */
#ifndef SEQROUTE_PLOT_H
#define SEQROUTE_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "seqroute/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits that keep a figure readable and bound memory on bad input. */
#define SR_PLOT_MAX_PANELS 16
#define SR_PLOT_MAX_SERIES 64         /* per panel; the legend lists each */
#define SR_PLOT_MAX_POINTS 1000000    /* per series */
#define SR_PLOT_MIN_SIZE 64           /* pixels, each side */
#define SR_PLOT_MAX_SIZE 8192         /* pixels, each side */

typedef enum sr_plot_scale {
    SR_PLOT_LINEAR = 0,
    SR_PLOT_LOG = 1 /* base 10; every value drawn must be > 0 */
} sr_plot_scale;

typedef enum sr_plot_marker {
    SR_PLOT_MARKER_NONE = 0,
    SR_PLOT_MARKER_CIRCLE,
    SR_PLOT_MARKER_SQUARE,
    SR_PLOT_MARKER_TRIANGLE,
    SR_PLOT_MARKER_DIAMOND,
    SR_PLOT_MARKER_STAR,
    SR_PLOT_MARKER_CROSS,
    SR_PLOT_MARKER_DOWN_TRIANGLE
} sr_plot_marker;

/* How a colour bar maps a value in [lo, hi] to its position in [0, 1]. */
typedef enum sr_plot_ramp {
    SR_PLOT_RAMP_LINEAR = 0,
    SR_PLOT_RAMP_SQRT = 1 /* spreads the small values, e.g. low bankruptcy rates */
} sr_plot_ramp;

typedef struct sr_plot_rgb {
    double r, g, b; /* each in [0, 1] */
} sr_plot_rgb;

/*
 * One series.  x and y have n values; a point with a non-finite x or y (or a
 * non-positive one on a log axis) is not drawn and breaks the line there.
 * Optional arrays (NULL when unused) also have n values:
 *   y_lo, y_hi   error bar ends (drawn when both are finite);
 *   fill_value   the marker's fill colour, mapped through the panel's colour
 *                bar (sr_plot_set_colorbar); without it markers are filled
 *                with `color`, or white when `hollow`.
 */
typedef struct sr_plot_series {
    const char *label; /* legend text; NULL keeps the series out of the legend */
    size_t n;
    const double *x;
    const double *y;
    const double *y_lo;
    const double *y_hi;
    const double *fill_value;
    sr_plot_rgb color;
    bool line;              /* join the points in the order given */
    bool dashed;            /* dashed line */
    double line_width;      /* pixels; 0 means 2 */
    sr_plot_marker marker;  /* SR_PLOT_MARKER_NONE: no markers */
    double marker_size;     /* radius in pixels; 0 means 5 */
    bool hollow;            /* white fill when there is no fill_value */
} sr_plot_series;

typedef struct sr_plot sr_plot;

/*
 * Creates a figure of `width` x `height` pixels (each within
 * [SR_PLOT_MIN_SIZE, SR_PLOT_MAX_SIZE]) with `n_panels` panels stacked top to
 * bottom (1..SR_PLOT_MAX_PANELS).  Returns NULL on a bad size or panel count
 * (SR_ERR_INVALID) or out of memory (SR_ERR_NOMEM), with err set.  Free with
 * sr_plot_free.
 */
sr_plot *sr_plot_create(int width, int height, int n_panels, sr_error *err);

/* Frees the figure and everything it copied; NULL is allowed. */
void sr_plot_free(sr_plot *plot);

/*
 * Sets a panel's title (drawn above it) and note (a smaller second line, e.g.
 * what a marker's fill means).  Either may be NULL.  Text is copied.
 */
sr_status sr_plot_set_title(sr_plot *plot, int panel, const char *title, const char *note,
                            sr_error *err);

/*
 * Sets an axis of a panel: axis 'x' or 'y', its label (with the unit, copied),
 * its scale, and a fixed range [lo, hi] or, with lo and hi NAN, a range
 * fitted to the data and widened to nice tick values.  A fixed range needs
 * lo < hi (and lo > 0 on a log axis).
 */
sr_status sr_plot_set_axis(sr_plot *plot, int panel, char axis, const char *label,
                           sr_plot_scale scale, double lo, double hi, sr_error *err);

/*
 * Adds a series to a panel (copied: the caller keeps its arrays).  Fails with
 * SR_ERR_INVALID on a bad panel, more than SR_PLOT_MAX_SERIES series or
 * SR_PLOT_MAX_POINTS points, and SR_ERR_NOMEM when out of memory.
 */
sr_status sr_plot_add_series(sr_plot *plot, int panel, const sr_plot_series *series,
                             sr_error *err);

/*
 * Gives a panel a colour bar in the legend column: marker fills of its
 * series' fill_value map from [lo, hi] (values outside are clamped) through a
 * white-to-black ramp.  `label` (copied) names the value and its unit.
 */
sr_status sr_plot_set_colorbar(sr_plot *plot, int panel, const char *label, double lo, double hi,
                               sr_plot_ramp ramp, sr_error *err);

/*
 * Writes the figure as a PNG (ARGB, white background) or an SVG file at
 * `path`.  Fails with SR_ERR_INVALID when a panel cannot be laid out (an axis
 * without any drawable value and no fixed range gets [0, 1] instead, so this
 * is rare) and SR_ERR_IO when cairo cannot write the file.
 */
sr_status sr_plot_write_png(sr_plot *plot, const char *path, sr_error *err);
sr_status sr_plot_write_svg(sr_plot *plot, const char *path, sr_error *err);

/*
 * The pixel position of data point (x, y) in a panel, after layout (which
 * this call performs if no file was written yet).  Returns false when the
 * panel is out of range or the point cannot be drawn (e.g. x <= 0 on a log
 * axis).  Used by tests to probe drawn markers.
 */
bool sr_plot_data_to_pixel(sr_plot *plot, int panel, double x, double y, double *px,
                           double *py);

/*
 * Ticks of an axis range: fills up to `max` values in [lo, hi] at a nice
 * step (1, 2 or 5 times a power of ten, or decades and their 2 and 5
 * multiples on a log scale) and returns how many were written.  Exposed for
 * tests.
 */
size_t sr_plot_nice_ticks(double lo, double hi, sr_plot_scale scale, int target, double *ticks,
                          size_t max);

/*
 * Frees the font caches cairo keeps for the whole process (faces and
 * fontconfig patterns), so leak checkers see a clean exit.  Call at most
 * once, at exit, when no thread is drawing; drawing afterwards still works
 * but reloads the fonts.
 */
void sr_plot_release_caches(void);

/* The i-th colour of the categorical palette (wraps around). */
sr_plot_rgb sr_plot_palette(size_t i);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_PLOT_H */
