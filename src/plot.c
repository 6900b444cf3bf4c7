/*
 * plot.c - the chart layer behind `seqroute report` (see include/seqroute/plot.h).
 *
 * Design.  A figure keeps copies of everything it will draw.  Drawing runs in
 * two passes on the target cairo context: layout, then paint.  Layout
 * resolves each axis range (fixed, or fitted to the drawable data), chooses
 * nice ticks, measures every tick label, title and legend entry with the
 * same font, and from those sizes places the plot area of each panel: title
 * and note above it, tick labels and the axis label below and to the left,
 * and a legend column (with the colour bar) to the right, so no text can
 * overlap the data or other text.  Paint then draws grid, frame, series
 * (lines and error bars first, markers on top so a line never hides a
 * point), labels and legend.
 *
 * Text uses cairo's toy font API with hinting switched off, so text extents
 * are the same on image (PNG) and vector (SVG) surfaces and both files share
 * one layout; sr_plot_data_to_pixel reports that layout to tests.  Ranges
 * are padded by PAD_FRACTION on each side so markers at the extremes stay
 * whole inside the frame; ticks of a fixed range stay within the range the
 * caller gave.
 *
 * Nothing here depends on time, addresses or hash order, which keeps the
 * output bytes deterministic.
 */
#include "seqroute/plot.h"

#include <cairo-svg.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Layout constants, in pixels unless noted.  Chosen by eye at 960 x 600. */
#define MARGIN 14.0          /* figure edge to any content */
#define FONT_FAMILY "DejaVu Sans"
#define TITLE_SIZE 15.0      /* panel title */
#define NOTE_SIZE 11.5       /* the line under the title */
#define LABEL_SIZE 13.0      /* axis labels */
#define TICK_SIZE 11.5       /* tick labels */
#define LEGEND_SIZE 12.0     /* legend entries */
#define TICK_LENGTH 5.0
#define TICK_GAP 4.0         /* tick mark end to its label */
#define LEGEND_GAP 16.0      /* plot frame to the legend column */
#define LEGEND_ROW 19.0      /* height of one legend entry */
#define LEGEND_SAMPLE 28.0   /* width of the line-and-marker sample */
#define LEGEND_MAX_SHARE 0.38 /* widest legend column, as a share of the figure */
#define COLORBAR_WIDTH 14.0
#define COLORBAR_HEIGHT 120.0
#define COLORBAR_STEPS 120   /* gradient drawn as this many flat strips */
#define PAD_FRACTION 0.04    /* range padding each side, as a share of the span */
#define TICK_TARGET 6        /* about this many ticks per axis */
#define MAX_TICKS 32

typedef struct axis {
    char *label;
    sr_plot_scale scale;
    double fixed_lo, fixed_hi; /* NAN when fitted to the data */
    /* Resolved by layout: the drawn range (padded) and the ticks. */
    double lo, hi;
    double ticks[MAX_TICKS];
    size_t n_ticks;
    double tick_step; /* linear step, for label precision; 0 on log axes */
} axis;

typedef struct series {
    char *label;
    size_t n;
    double *x, *y, *y_lo, *y_hi, *fill;
    sr_plot_rgb color;
    bool line, dashed, hollow;
    double line_width;
    sr_plot_marker marker;
    double marker_size;
} series;

typedef struct colorbar {
    bool on;
    char *label;
    double lo, hi;
    sr_plot_ramp ramp;
} colorbar;

typedef struct panel {
    char *title;
    char *note;
    axis ax[2]; /* 0: x, 1: y */
    series *series;
    size_t n_series;
    colorbar bar;
    /* Resolved by layout. */
    double slot_top, slot_bottom;
    double left, top, right, bottom; /* the plot area */
    double legend_x;
} panel;

struct sr_plot {
    int width, height;
    int n_panels;
    panel panels[SR_PLOT_MAX_PANELS];
    bool laid_out;
};

/* ---- small helpers ---------------------------------------------------------------- */

static char *dup_text(const char *text)
{
    if (text == NULL)
        return NULL;
    const size_t n = strlen(text) + 1;
    char *copy = malloc(n);
    if (copy != NULL)
        memcpy(copy, text, n);
    return copy;
}

static double *dup_values(const double *values, size_t n)
{
    if (values == NULL || n == 0)
        return NULL;
    double *copy = malloc(n * sizeof(*copy));
    if (copy != NULL)
        memcpy(copy, values, n * sizeof(*copy));
    return copy;
}

static bool panel_ok(const sr_plot *plot, int panel_index)
{
    return plot != NULL && panel_index >= 0 && panel_index < plot->n_panels;
}

/* The value in axis space: itself on a linear axis, log10 on a log axis. */
static double axis_forward(const axis *a, double v)
{
    if (a->scale == SR_PLOT_LOG)
        return v > 0 ? log10(v) : NAN;
    return v;
}

static bool drawable(const axis *a, double v)
{
    return isfinite(v) && (a->scale != SR_PLOT_LOG || v > 0);
}

sr_plot_rgb sr_plot_palette(size_t i)
{
    /* Okabe and Ito's colour-blind-safe set, yellow left out (too pale on white). */
    static const sr_plot_rgb colors[] = {
        {0.000, 0.447, 0.698}, /* blue */
        {0.835, 0.369, 0.000}, /* vermillion */
        {0.000, 0.620, 0.451}, /* bluish green */
        {0.800, 0.475, 0.655}, /* reddish purple */
        {0.902, 0.624, 0.000}, /* orange */
        {0.337, 0.706, 0.914}, /* sky blue */
        {0.550, 0.350, 0.150}, /* brown */
        {0.450, 0.450, 0.000}, /* olive; no grey, which marker fills use */
    };
    return colors[i % (sizeof(colors) / sizeof(colors[0]))];
}

/* ---- construction ----------------------------------------------------------------- */

sr_plot *sr_plot_create(int width, int height, int n_panels, sr_error *err)
{
    if (width < SR_PLOT_MIN_SIZE || width > SR_PLOT_MAX_SIZE || height < SR_PLOT_MIN_SIZE ||
        height > SR_PLOT_MAX_SIZE) {
        sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                     "plot size %d x %d is outside %d..%d pixels per side", width, height,
                     SR_PLOT_MIN_SIZE, SR_PLOT_MAX_SIZE);
        return NULL;
    }
    if (n_panels < 1 || n_panels > SR_PLOT_MAX_PANELS) {
        sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "a figure has 1..%d panels, not %d",
                     SR_PLOT_MAX_PANELS, n_panels);
        return NULL;
    }
    sr_plot *plot = calloc(1, sizeof(*plot));
    if (plot == NULL) {
        sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        return NULL;
    }
    plot->width = width;
    plot->height = height;
    plot->n_panels = n_panels;
    for (int p = 0; p < n_panels; p++)
        for (int a = 0; a < 2; a++) {
            plot->panels[p].ax[a].fixed_lo = NAN;
            plot->panels[p].ax[a].fixed_hi = NAN;
        }
    return plot;
}

static void series_release(series *s)
{
    free(s->label);
    free(s->x);
    free(s->y);
    free(s->y_lo);
    free(s->y_hi);
    free(s->fill);
}

void sr_plot_free(sr_plot *plot)
{
    if (plot == NULL)
        return;
    for (int p = 0; p < plot->n_panels; p++) {
        panel *pn = &plot->panels[p];
        free(pn->title);
        free(pn->note);
        free(pn->ax[0].label);
        free(pn->ax[1].label);
        free(pn->bar.label);
        for (size_t i = 0; i < pn->n_series; i++)
            series_release(&pn->series[i]);
        free(pn->series);
    }
    free(plot);
}

sr_status sr_plot_set_title(sr_plot *plot, int panel_index, const char *title, const char *note,
                            sr_error *err)
{
    if (!panel_ok(plot, panel_index))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "no panel %d", panel_index);
    panel *pn = &plot->panels[panel_index];
    char *t = dup_text(title);
    char *n = dup_text(note);
    if ((title != NULL && t == NULL) || (note != NULL && n == NULL)) {
        free(t);
        free(n);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    free(pn->title);
    free(pn->note);
    pn->title = t;
    pn->note = n;
    plot->laid_out = false;
    return SR_OK;
}

sr_status sr_plot_set_axis(sr_plot *plot, int panel_index, char which, const char *label,
                           sr_plot_scale scale, double lo, double hi, sr_error *err)
{
    if (!panel_ok(plot, panel_index) || (which != 'x' && which != 'y'))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "no axis '%c' on panel %d",
                            which, panel_index);
    const bool fixed = !isnan(lo) || !isnan(hi);
    if (fixed && (!isfinite(lo) || !isfinite(hi) || !(lo < hi) ||
                  (scale == SR_PLOT_LOG && !(lo > 0))))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "axis range [%g, %g] is not usable on a %s axis", lo, hi,
                            scale == SR_PLOT_LOG ? "log" : "linear");
    axis *a = &plot->panels[panel_index].ax[which == 'x' ? 0 : 1];
    char *copy = dup_text(label);
    if (label != NULL && copy == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    free(a->label);
    a->label = copy;
    a->scale = scale;
    a->fixed_lo = fixed ? lo : NAN;
    a->fixed_hi = fixed ? hi : NAN;
    plot->laid_out = false;
    return SR_OK;
}

sr_status sr_plot_add_series(sr_plot *plot, int panel_index, const sr_plot_series *in,
                             sr_error *err)
{
    if (!panel_ok(plot, panel_index) || in == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "no panel %d", panel_index);
    panel *pn = &plot->panels[panel_index];
    if (pn->n_series >= SR_PLOT_MAX_SERIES)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "panel %d already has %d series, the most a legend can list",
                            panel_index, SR_PLOT_MAX_SERIES);
    if (in->n > SR_PLOT_MAX_POINTS || (in->n > 0 && (in->x == NULL || in->y == NULL)))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "series '%s' has %zu points (at most %d, with x and y given)",
                            in->label ? in->label : "", in->n, SR_PLOT_MAX_POINTS);

    series *grown = realloc(pn->series, (pn->n_series + 1) * sizeof(*grown));
    if (grown == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    pn->series = grown;
    series s = {
        .label = dup_text(in->label),
        .n = in->n,
        .x = dup_values(in->x, in->n),
        .y = dup_values(in->y, in->n),
        .y_lo = in->y_hi != NULL ? dup_values(in->y_lo, in->n) : NULL,
        .y_hi = in->y_lo != NULL ? dup_values(in->y_hi, in->n) : NULL,
        .fill = dup_values(in->fill_value, in->n),
        .color = in->color,
        .line = in->line,
        .dashed = in->dashed,
        .hollow = in->hollow,
        .line_width = in->line_width > 0 ? in->line_width : 2.0,
        .marker = in->marker,
        .marker_size = in->marker_size > 0 ? in->marker_size : 5.0,
    };
    const bool copied = (in->label == NULL || s.label != NULL) &&
                        (in->n == 0 || (s.x != NULL && s.y != NULL)) &&
                        (in->n == 0 || in->y_lo == NULL || in->y_hi == NULL ||
                         (s.y_lo != NULL && s.y_hi != NULL)) &&
                        (in->n == 0 || in->fill_value == NULL || s.fill != NULL);
    if (!copied) {
        series_release(&s);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    pn->series[pn->n_series++] = s;
    plot->laid_out = false;
    return SR_OK;
}

sr_status sr_plot_set_colorbar(sr_plot *plot, int panel_index, const char *label, double lo,
                               double hi, sr_plot_ramp ramp, sr_error *err)
{
    if (!panel_ok(plot, panel_index))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "no panel %d", panel_index);
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "colour bar range [%g, %g] is not usable", lo, hi);
    colorbar *bar = &plot->panels[panel_index].bar;
    char *copy = dup_text(label);
    if (label != NULL && copy == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    free(bar->label);
    *bar = (colorbar){.on = true, .label = copy, .lo = lo, .hi = hi, .ramp = ramp};
    plot->laid_out = false;
    return SR_OK;
}

/* ---- ticks -------------------------------------------------------------------------- */

/* The nice step (1, 2 or 5 times a power of ten) nearest to span / target. */
static double nice_step(double span, int target)
{
    const double raw = span / (target > 0 ? target : 1);
    const double magnitude = pow(10.0, floor(log10(raw)));
    const double norm = raw / magnitude;
    /* The 1-2-5 value nearest to the raw step (geometric midpoints 1.41, 3.16, 7.07). */
    double step;
    if (norm < 1.41)
        step = 1.0;
    else if (norm < 3.16)
        step = 2.0;
    else if (norm < 7.07)
        step = 5.0;
    else
        step = 10.0;
    return step * magnitude;
}

static size_t linear_ticks(double lo, double hi, int target, double *ticks, size_t max,
                           double *step_out)
{
    const double step = nice_step(hi - lo, target);
    /* A small tolerance keeps a tick that sits on an end despite rounding. */
    const double eps = step * 1e-9;
    const double first = ceil((lo - eps) / step);
    size_t n = 0;
    for (double k = first; n < max; k += 1.0) {
        double v = k * step;
        if (v > hi + eps)
            break;
        if (fabs(v) < eps)
            v = 0.0; /* print 0, not -1e-17 */
        ticks[n++] = v;
    }
    if (step_out != NULL)
        *step_out = step;
    return n;
}

static size_t log_ticks(double lo, double hi, int target, double *ticks, size_t max)
{
    const double eps = 1e-9;
    const int first = (int)ceil(log10(lo) - eps);
    const int last = (int)floor(log10(hi) + eps);
    const int decades = last - first + 1;
    size_t n = 0;

    /* Many decades: every k-th decade.  Few: decades with their 2 and 5 multiples. */
    if (decades >= 3) {
        const int every = decades > target ? (decades + target - 1) / target : 1;
        for (int d = first; d <= last && n < max; d += every)
            ticks[n++] = pow(10.0, d);
        return n;
    }
    static const double mantissas[] = {1.0, 2.0, 5.0};
    for (int d = first - 1; d <= last && n < max; d++)
        for (size_t m = 0; m < 3 && n < max; m++) {
            const double v = mantissas[m] * pow(10.0, d);
            if (v >= lo * (1 - eps) && v <= hi * (1 + eps))
                ticks[n++] = v;
        }
    return n;
}

size_t sr_plot_nice_ticks(double lo, double hi, sr_plot_scale scale, int target, double *ticks,
                          size_t max)
{
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi) || ticks == NULL || max == 0)
        return 0;
    if (scale == SR_PLOT_LOG) {
        if (!(lo > 0))
            return 0;
        const size_t n = log_ticks(lo, hi, target, ticks, max);
        if (n >= 2)
            return n;
        /* Less than a decade with under two 1-2-5 values inside: linear ticks. */
    }
    return linear_ticks(lo, hi, target, ticks, max, NULL);
}

/* Tick label text: as many decimals as the step needs on linear axes. */
static void format_tick(const axis *a, double v, char *text, size_t size)
{
    if (a->scale == SR_PLOT_LOG || a->tick_step <= 0) {
        snprintf(text, size, "%g", v);
        return;
    }
    const double mag = fabs(v) > fabs(a->tick_step) ? fabs(v) : fabs(a->tick_step);
    if (mag >= 1e6 || a->tick_step < 1e-5) {
        snprintf(text, size, "%g", v);
        return;
    }
    int decimals = (int)-floor(log10(a->tick_step) + 1e-9);
    if (decimals < 0)
        decimals = 0;
    snprintf(text, size, "%.*f", decimals, v);
}

/* ---- layout ----------------------------------------------------------------------- */

static void set_font(cairo_t *cr, double size, bool bold)
{
    cairo_select_font_face(cr, FONT_FAMILY, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double text_width(cairo_t *cr, const char *text)
{
    cairo_text_extents_t ext;
    cairo_text_extents(cr, text, &ext);
    return ext.x_advance;
}

/* Fits an axis to its range: fixed or from the data, padded, with ticks. */
static void resolve_axis(panel *pn, int which)
{
    axis *a = &pn->ax[which];
    double lo = INFINITY, hi = -INFINITY;
    const bool fixed = !isnan(a->fixed_lo);

    if (fixed) {
        lo = a->fixed_lo;
        hi = a->fixed_hi;
    } else {
        for (size_t s = 0; s < pn->n_series; s++) {
            const series *se = &pn->series[s];
            for (size_t i = 0; i < se->n; i++) {
                const double *v = which == 0 ? se->x : se->y;
                if (!drawable(&pn->ax[0], se->x[i]) || !drawable(&pn->ax[1], se->y[i]))
                    continue;
                lo = fmin(lo, v[i]);
                hi = fmax(hi, v[i]);
                if (which == 1 && se->y_lo != NULL && drawable(a, se->y_lo[i]) &&
                    drawable(a, se->y_hi[i])) {
                    lo = fmin(lo, se->y_lo[i]);
                    hi = fmax(hi, se->y_hi[i]);
                }
            }
        }
        if (!(lo <= hi)) { /* nothing drawable */
            lo = a->scale == SR_PLOT_LOG ? 1.0 : 0.0;
            hi = a->scale == SR_PLOT_LOG ? 10.0 : 1.0;
        }
        if (lo == hi) { /* a single value: open a window around it */
            if (a->scale == SR_PLOT_LOG) {
                lo /= 2.0;
                hi *= 2.0;
            } else {
                const double half = lo != 0 ? fabs(lo) * 0.1 : 0.5;
                lo -= half;
                hi += half;
            }
        }
    }

    /* Pad the drawn range; ticks cover it, or only the range given when fixed. */
    if (a->scale == SR_PLOT_LOG) {
        const double llo = log10(lo), lhi = log10(hi);
        const double pad = (lhi - llo) * PAD_FRACTION;
        a->lo = pow(10.0, llo - pad);
        a->hi = pow(10.0, lhi + pad);
    } else {
        const double pad = (hi - lo) * PAD_FRACTION;
        a->lo = lo - pad;
        a->hi = hi + pad;
    }
    const double tick_lo = fixed ? lo : a->lo, tick_hi = fixed ? hi : a->hi;
    a->tick_step = 0;
    if (a->scale == SR_PLOT_LOG) {
        a->n_ticks =
            sr_plot_nice_ticks(tick_lo, tick_hi, SR_PLOT_LOG, TICK_TARGET, a->ticks, MAX_TICKS);
        if (a->n_ticks < 2 || log10(tick_hi / tick_lo) < 1.0)
            a->n_ticks = linear_ticks(tick_lo, tick_hi, TICK_TARGET, a->ticks, MAX_TICKS,
                                      &a->tick_step);
    } else {
        a->n_ticks =
            linear_ticks(tick_lo, tick_hi, TICK_TARGET, a->ticks, MAX_TICKS, &a->tick_step);
    }
}

static size_t legend_entries(const panel *pn)
{
    size_t n = 0;
    for (size_t s = 0; s < pn->n_series; s++)
        n += pn->series[s].label != NULL;
    return n;
}

/* Colour-bar ticks: nice ticks, or quantiles of a square-root ramp. */
static size_t colorbar_ticks(const colorbar *bar, double *ticks, size_t max)
{
    if (bar->ramp == SR_PLOT_RAMP_SQRT) {
        static const double shares[] = {0.0, 0.01, 0.05, 0.2, 0.5, 1.0};
        size_t n = 0;
        for (size_t i = 0; i < sizeof(shares) / sizeof(shares[0]) && n < max; i++)
            ticks[n++] = bar->lo + shares[i] * (bar->hi - bar->lo);
        return n;
    }
    return linear_ticks(bar->lo, bar->hi, 5, ticks, max, NULL);
}

static double legend_width(cairo_t *cr, const panel *pn)
{
    double width = 0;
    set_font(cr, LEGEND_SIZE, false);
    for (size_t s = 0; s < pn->n_series; s++)
        if (pn->series[s].label != NULL)
            width = fmax(width, LEGEND_SAMPLE + 8 + text_width(cr, pn->series[s].label));
    if (pn->bar.on) {
        width = fmax(width, text_width(cr, pn->bar.label ? pn->bar.label : ""));
        double ticks[16];
        const size_t n = colorbar_ticks(&pn->bar, ticks, 16);
        double widest = 0;
        char text[64];
        for (size_t i = 0; i < n; i++) {
            snprintf(text, sizeof(text), "%g", ticks[i]);
            widest = fmax(widest, text_width(cr, text));
        }
        width = fmax(width, COLORBAR_WIDTH + TICK_LENGTH + TICK_GAP + widest);
    }
    return width;
}

static void layout(sr_plot *plot, cairo_t *cr)
{
    const double slot_height = (plot->height - 2 * MARGIN) / plot->n_panels;
    for (int p = 0; p < plot->n_panels; p++) {
        panel *pn = &plot->panels[p];
        resolve_axis(pn, 0);
        resolve_axis(pn, 1);
        pn->slot_top = MARGIN + p * slot_height;
        pn->slot_bottom = pn->slot_top + slot_height;

        /* Above: title and note. */
        double top = pn->slot_top + 4;
        if (pn->title != NULL)
            top += TITLE_SIZE + 6;
        if (pn->note != NULL)
            top += NOTE_SIZE + 5;
        pn->top = top + 8;

        /* Below: tick labels, then the x label. */
        pn->bottom = pn->slot_bottom - (TICK_LENGTH + TICK_GAP + TICK_SIZE + 8 + LABEL_SIZE + 6);
        if (p + 1 < plot->n_panels)
            pn->bottom -= 10; /* air between stacked panels */

        /* Left: the rotated y label, then the widest y tick label. */
        set_font(cr, TICK_SIZE, false);
        double widest = 0;
        char text[64];
        for (size_t i = 0; i < pn->ax[1].n_ticks; i++) {
            format_tick(&pn->ax[1], pn->ax[1].ticks[i], text, sizeof(text));
            widest = fmax(widest, text_width(cr, text));
        }
        pn->left = MARGIN + (pn->ax[1].label ? LABEL_SIZE + 10 : 0) + widest + TICK_GAP +
                   TICK_LENGTH;

        /* Right: half the last x tick label, or the legend column. */
        double legend = legend_width(cr, pn);
        const double legend_max = plot->width * LEGEND_MAX_SHARE;
        if (legend > legend_max)
            legend = legend_max; /* long labels run past the edge rather than over data */
        double last_half = 0;
        if (pn->ax[0].n_ticks > 0) {
            set_font(cr, TICK_SIZE, false);
            format_tick(&pn->ax[0], pn->ax[0].ticks[pn->ax[0].n_ticks - 1], text, sizeof(text));
            last_half = text_width(cr, text) / 2;
        }
        pn->right = plot->width - MARGIN - (legend > 0 ? legend + LEGEND_GAP : last_half);
        pn->legend_x = pn->right + LEGEND_GAP;

        /* A figure too small for its text keeps a minimal plot area. */
        if (pn->right - pn->left < 10)
            pn->right = pn->left + 10;
        if (pn->bottom - pn->top < 10)
            pn->bottom = pn->top + 10;
    }
    plot->laid_out = true;
}

/* The pixel position of a value along an axis of a laid-out panel. */
static double to_pixel_x(const panel *pn, double x)
{
    const axis *a = &pn->ax[0];
    const double lo = axis_forward(a, a->lo), hi = axis_forward(a, a->hi);
    return pn->left + (axis_forward(a, x) - lo) / (hi - lo) * (pn->right - pn->left);
}

static double to_pixel_y(const panel *pn, double y)
{
    const axis *a = &pn->ax[1];
    const double lo = axis_forward(a, a->lo), hi = axis_forward(a, a->hi);
    return pn->bottom - (axis_forward(a, y) - lo) / (hi - lo) * (pn->bottom - pn->top);
}

static void configure_context(cairo_t *cr)
{
    cairo_font_options_t *options = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY);
    cairo_set_font_options(cr, options);
    cairo_font_options_destroy(options);
}

bool sr_plot_data_to_pixel(sr_plot *plot, int panel_index, double x, double y, double *px,
                           double *py)
{
    if (!panel_ok(plot, panel_index))
        return false;
    if (!plot->laid_out) {
        cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
        cairo_t *cr = cairo_create(surface);
        configure_context(cr);
        layout(plot, cr);
        cairo_destroy(cr);
        cairo_surface_destroy(surface);
    }
    const panel *pn = &plot->panels[panel_index];
    if (!drawable(&pn->ax[0], x) || !drawable(&pn->ax[1], y))
        return false;
    *px = to_pixel_x(pn, x);
    *py = to_pixel_y(pn, y);
    return true;
}

/* ---- paint ------------------------------------------------------------------------ */

static void set_rgb(cairo_t *cr, sr_plot_rgb c)
{
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
}

static double ramp_position(const colorbar *bar, double v)
{
    double t = (v - bar->lo) / (bar->hi - bar->lo);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return bar->ramp == SR_PLOT_RAMP_SQRT ? sqrt(t) : t;
}

/* White at 0 to near-black at 1: grey does not clash with the series' hues. */
static sr_plot_rgb ramp_color(double t)
{
    const double level = 1.0 - 0.88 * t;
    return (sr_plot_rgb){level, level, level};
}

static void marker_path(cairo_t *cr, sr_plot_marker marker, double x, double y, double r)
{
    switch (marker) {
    case SR_PLOT_MARKER_CIRCLE:
        cairo_new_sub_path(cr);
        cairo_arc(cr, x, y, r, 0, 2 * M_PI);
        break;
    case SR_PLOT_MARKER_SQUARE:
        cairo_rectangle(cr, x - 0.85 * r, y - 0.85 * r, 1.7 * r, 1.7 * r);
        break;
    case SR_PLOT_MARKER_TRIANGLE:
    case SR_PLOT_MARKER_DOWN_TRIANGLE: {
        const double s = marker == SR_PLOT_MARKER_TRIANGLE ? 1.0 : -1.0;
        cairo_move_to(cr, x, y - s * 1.2 * r);
        cairo_line_to(cr, x + 1.1 * r, y + s * 0.75 * r);
        cairo_line_to(cr, x - 1.1 * r, y + s * 0.75 * r);
        cairo_close_path(cr);
        break;
    }
    case SR_PLOT_MARKER_DIAMOND:
        cairo_move_to(cr, x, y - 1.25 * r);
        cairo_line_to(cr, x + r, y);
        cairo_line_to(cr, x, y + 1.25 * r);
        cairo_line_to(cr, x - r, y);
        cairo_close_path(cr);
        break;
    case SR_PLOT_MARKER_STAR:
        /* Five points, outer radius 1.5 r, inner 0.6 r. */
        for (int k = 0; k < 10; k++) {
            const double radius = (k % 2 == 0) ? 1.5 * r : 0.6 * r;
            const double angle = -M_PI / 2 + k * M_PI / 5;
            const double px = x + radius * cos(angle), py = y + radius * sin(angle);
            if (k == 0)
                cairo_move_to(cr, px, py);
            else
                cairo_line_to(cr, px, py);
        }
        cairo_close_path(cr);
        break;
    case SR_PLOT_MARKER_CROSS:
        cairo_move_to(cr, x - r, y - r);
        cairo_line_to(cr, x + r, y + r);
        cairo_move_to(cr, x - r, y + r);
        cairo_line_to(cr, x + r, y - r);
        break;
    case SR_PLOT_MARKER_NONE:
        break;
    }
}

static void draw_marker(cairo_t *cr, const series *s, sr_plot_rgb fill, double x, double y)
{
    marker_path(cr, s->marker, x, y, s->marker_size);
    if (s->marker != SR_PLOT_MARKER_CROSS) {
        set_rgb(cr, fill);
        cairo_fill_preserve(cr);
    }
    set_rgb(cr, s->color);
    cairo_set_line_width(cr, 2.0);
    cairo_stroke(cr);
}

static sr_plot_rgb marker_fill(const panel *pn, const series *s, size_t i)
{
    if (s->fill != NULL && pn->bar.on && isfinite(s->fill[i]))
        return ramp_color(ramp_position(&pn->bar, s->fill[i]));
    if (s->hollow || s->fill != NULL)
        return (sr_plot_rgb){1, 1, 1};
    return s->color;
}

static void draw_text(cairo_t *cr, const char *text, double x, double y, double align_x)
{
    /* align_x: 0 left, 0.5 centre, 1 right; y is the baseline. */
    cairo_move_to(cr, x - align_x * text_width(cr, text), y);
    cairo_show_text(cr, text);
}

static void paint_axes(cairo_t *cr, const panel *pn)
{
    char text[64];

    /* Grid lines at the ticks, under everything. */
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_set_line_width(cr, 1.0);
    for (size_t i = 0; i < pn->ax[0].n_ticks; i++) {
        const double x = round(to_pixel_x(pn, pn->ax[0].ticks[i])) + 0.5;
        cairo_move_to(cr, x, pn->top);
        cairo_line_to(cr, x, pn->bottom);
    }
    for (size_t i = 0; i < pn->ax[1].n_ticks; i++) {
        const double y = round(to_pixel_y(pn, pn->ax[1].ticks[i])) + 0.5;
        cairo_move_to(cr, pn->left, y);
        cairo_line_to(cr, pn->right, y);
    }
    cairo_stroke(cr);

    /* Frame, tick marks and tick labels. */
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
    cairo_rectangle(cr, round(pn->left) + 0.5, round(pn->top) + 0.5,
                    round(pn->right) - round(pn->left), round(pn->bottom) - round(pn->top));
    cairo_stroke(cr);
    set_font(cr, TICK_SIZE, false);
    for (size_t i = 0; i < pn->ax[0].n_ticks; i++) {
        const double x = round(to_pixel_x(pn, pn->ax[0].ticks[i])) + 0.5;
        cairo_move_to(cr, x, pn->bottom);
        cairo_line_to(cr, x, pn->bottom + TICK_LENGTH);
        cairo_stroke(cr);
        format_tick(&pn->ax[0], pn->ax[0].ticks[i], text, sizeof(text));
        draw_text(cr, text, x, pn->bottom + TICK_LENGTH + TICK_GAP + TICK_SIZE, 0.5);
    }
    for (size_t i = 0; i < pn->ax[1].n_ticks; i++) {
        const double y = round(to_pixel_y(pn, pn->ax[1].ticks[i])) + 0.5;
        cairo_move_to(cr, pn->left - TICK_LENGTH, y);
        cairo_line_to(cr, pn->left, y);
        cairo_stroke(cr);
        format_tick(&pn->ax[1], pn->ax[1].ticks[i], text, sizeof(text));
        draw_text(cr, text, pn->left - TICK_LENGTH - TICK_GAP, y + TICK_SIZE * 0.36, 1.0);
    }

    /* Axis labels: x centred below, y rotated and centred on the left. */
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    set_font(cr, LABEL_SIZE, false);
    if (pn->ax[0].label != NULL)
        draw_text(cr, pn->ax[0].label, (pn->left + pn->right) / 2,
                  pn->bottom + TICK_LENGTH + TICK_GAP + TICK_SIZE + 8 + LABEL_SIZE, 0.5);
    if (pn->ax[1].label != NULL) {
        cairo_save(cr);
        cairo_translate(cr, MARGIN + LABEL_SIZE, (pn->top + pn->bottom) / 2);
        cairo_rotate(cr, -M_PI / 2);
        draw_text(cr, pn->ax[1].label, 0, 0, 0.5);
        cairo_restore(cr);
    }

    /* Title and note, left-aligned with the plot frame. */
    double y = pn->slot_top + 4;
    if (pn->title != NULL) {
        set_font(cr, TITLE_SIZE, true);
        y += TITLE_SIZE;
        draw_text(cr, pn->title, pn->left, y, 0.0);
        y += 6;
    }
    if (pn->note != NULL) {
        cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
        set_font(cr, NOTE_SIZE, false);
        y += NOTE_SIZE;
        draw_text(cr, pn->note, pn->left, y, 0.0);
    }
}

static void paint_series(cairo_t *cr, const panel *pn)
{
    cairo_save(cr);
    cairo_rectangle(cr, pn->left, pn->top, pn->right - pn->left, pn->bottom - pn->top);
    cairo_clip(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);

    /* Lines: a point that cannot be drawn breaks the line. */
    for (size_t s = 0; s < pn->n_series; s++) {
        const series *se = &pn->series[s];
        if (!se->line)
            continue;
        bool pen_down = false;
        for (size_t i = 0; i < se->n; i++) {
            if (!drawable(&pn->ax[0], se->x[i]) || !drawable(&pn->ax[1], se->y[i])) {
                pen_down = false;
                continue;
            }
            const double x = to_pixel_x(pn, se->x[i]), y = to_pixel_y(pn, se->y[i]);
            if (pen_down)
                cairo_line_to(cr, x, y);
            else
                cairo_move_to(cr, x, y);
            pen_down = true;
        }
        static const double dash[] = {7.0, 4.0};
        cairo_set_dash(cr, dash, se->dashed ? 2 : 0, 0);
        set_rgb(cr, se->color);
        cairo_set_line_width(cr, se->line_width);
        cairo_stroke(cr);
    }
    cairo_set_dash(cr, NULL, 0, 0);

    /* Error bars with caps. */
    for (size_t s = 0; s < pn->n_series; s++) {
        const series *se = &pn->series[s];
        if (se->y_lo == NULL || se->y_hi == NULL)
            continue;
        set_rgb(cr, se->color);
        cairo_set_line_width(cr, 1.3);
        for (size_t i = 0; i < se->n; i++) {
            if (!drawable(&pn->ax[0], se->x[i]) || !drawable(&pn->ax[1], se->y_lo[i]) ||
                !drawable(&pn->ax[1], se->y_hi[i]))
                continue;
            const double x = to_pixel_x(pn, se->x[i]);
            const double y0 = to_pixel_y(pn, se->y_lo[i]), y1 = to_pixel_y(pn, se->y_hi[i]);
            cairo_move_to(cr, x, y0);
            cairo_line_to(cr, x, y1);
            cairo_move_to(cr, x - 4, y0);
            cairo_line_to(cr, x + 4, y0);
            cairo_move_to(cr, x - 4, y1);
            cairo_line_to(cr, x + 4, y1);
        }
        cairo_stroke(cr);
    }

    /* Markers on top. */
    for (size_t s = 0; s < pn->n_series; s++) {
        const series *se = &pn->series[s];
        if (se->marker == SR_PLOT_MARKER_NONE)
            continue;
        for (size_t i = 0; i < se->n; i++) {
            if (!drawable(&pn->ax[0], se->x[i]) || !drawable(&pn->ax[1], se->y[i]))
                continue;
            draw_marker(cr, se, marker_fill(pn, se, i), to_pixel_x(pn, se->x[i]),
                        to_pixel_y(pn, se->y[i]));
        }
    }
    cairo_restore(cr);
}

static void paint_legend(cairo_t *cr, const panel *pn)
{
    double y = pn->top;
    set_font(cr, LEGEND_SIZE, false);
    for (size_t s = 0; s < pn->n_series; s++) {
        const series *se = &pn->series[s];
        if (se->label == NULL)
            continue;
        const double mid = y + LEGEND_ROW / 2;
        const double x = pn->legend_x;
        if (se->line) {
            static const double dash[] = {7.0, 4.0};
            cairo_set_dash(cr, dash, se->dashed ? 2 : 0, 0);
            set_rgb(cr, se->color);
            cairo_set_line_width(cr, se->line_width);
            cairo_move_to(cr, x, mid);
            cairo_line_to(cr, x + LEGEND_SAMPLE, mid);
            cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
        }
        if (se->marker != SR_PLOT_MARKER_NONE) {
            const sr_plot_rgb fill = (se->hollow || se->fill != NULL) ? (sr_plot_rgb){1, 1, 1}
                                                                      : se->color;
            draw_marker(cr, se, fill, x + LEGEND_SAMPLE / 2, mid);
        }
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        draw_text(cr, se->label, x + LEGEND_SAMPLE + 8, mid + LEGEND_SIZE * 0.36, 0.0);
        y += LEGEND_ROW;
    }
    if (!pn->bar.on)
        return;

    /* Colour bar: label, gradient (low values at the bottom), ticks. */
    const colorbar *bar = &pn->bar;
    y += legend_entries(pn) > 0 ? 14 : 0;
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    if (bar->label != NULL) {
        draw_text(cr, bar->label, pn->legend_x, y + LEGEND_SIZE, 0.0);
        y += LEGEND_SIZE + 8;
    }
    double height = COLORBAR_HEIGHT;
    if (y + height > pn->bottom)
        height = fmax(30.0, pn->bottom - y);
    const double x = pn->legend_x;
    for (int k = 0; k < COLORBAR_STEPS; k++) {
        const double t = (k + 0.5) / COLORBAR_STEPS;
        set_rgb(cr, ramp_color(t));
        const double y0 = y + height * (1.0 - (double)(k + 1) / COLORBAR_STEPS);
        cairo_rectangle(cr, x, y0, COLORBAR_WIDTH, height / COLORBAR_STEPS + 0.5);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, x + 0.5, y + 0.5, COLORBAR_WIDTH, height);
    cairo_stroke(cr);
    double ticks[16];
    const size_t n = colorbar_ticks(bar, ticks, 16);
    char text[64];
    for (size_t i = 0; i < n; i++) {
        const double ty = y + height * (1.0 - ramp_position(bar, ticks[i]));
        cairo_move_to(cr, x + COLORBAR_WIDTH, ty);
        cairo_line_to(cr, x + COLORBAR_WIDTH + TICK_LENGTH, ty);
        cairo_stroke(cr);
        snprintf(text, sizeof(text), "%g", ticks[i]);
        draw_text(cr, text, x + COLORBAR_WIDTH + TICK_LENGTH + TICK_GAP,
                  ty + LEGEND_SIZE * 0.36, 0.0);
    }
}

static void paint(sr_plot *plot, cairo_t *cr)
{
    configure_context(cr);
    layout(plot, cr);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    for (int p = 0; p < plot->n_panels; p++) {
        const panel *pn = &plot->panels[p];
        paint_axes(cr, pn);
        paint_series(cr, pn);
        paint_legend(cr, pn);
    }
}

void sr_plot_release_caches(void)
{
    cairo_debug_reset_static_data();
    FcFini();
}

/* ---- output ----------------------------------------------------------------------- */

static sr_status check_cairo(cairo_status_t status, const char *path, const char *what,
                             sr_error *err)
{
    if (status == CAIRO_STATUS_SUCCESS)
        return SR_OK;
    return sr_error_set(err, SR_ERR_IO, path, 0, NULL, "cannot write the %s: %s", what,
                        cairo_status_to_string(status));
}

sr_status sr_plot_write_png(sr_plot *plot, const char *path, sr_error *err)
{
    if (plot == NULL || path == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "no plot or no path");
    cairo_surface_t *surface =
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, plot->width, plot->height);
    cairo_t *cr = cairo_create(surface);
    paint(plot, cr);
    cairo_status_t status = cairo_status(cr);
    cairo_destroy(cr);
    if (status == CAIRO_STATUS_SUCCESS)
        status = cairo_surface_write_to_png(surface, path);
    cairo_surface_destroy(surface);
    return check_cairo(status, path, "PNG plot", err);
}

/* SVG bytes collected in memory, so the surface id can be normalised before writing. */
typedef struct svg_buffer {
    char *data;
    size_t size, capacity;
    bool too_big;
} svg_buffer;

/* A cap on one SVG document: far above any chart this layer draws (~100 kB). */
#define SVG_MAX_BYTES ((size_t)256 << 20)

static cairo_status_t svg_collect(void *closure, const unsigned char *data, unsigned int length)
{
    svg_buffer *buf = closure;
    if (buf->size + length > SVG_MAX_BYTES) {
        buf->too_big = true;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    if (buf->size + length > buf->capacity) {
        size_t capacity = buf->capacity ? buf->capacity : 65536;
        while (capacity < buf->size + length)
            capacity *= 2;
        char *grown = realloc(buf->data, capacity);
        if (grown == NULL)
            return CAIRO_STATUS_NO_MEMORY;
        buf->data = grown;
        buf->capacity = capacity;
    }
    memcpy(buf->data + buf->size, data, length);
    buf->size += length;
    return CAIRO_STATUS_SUCCESS;
}

/*
 * cairo numbers its surfaces with a process-wide counter and writes the
 * number into the SVG (<g id="surface129">), so the same figure drawn twice
 * in one process would differ.  Every such id becomes "surface1"; nothing
 * refers to it.
 */
static size_t normalise_surface_ids(char *data, size_t size)
{
    static const char key[] = "id=\"surface";
    const size_t key_len = sizeof(key) - 1;
    size_t in = 0, out = 0;
    while (in < size) {
        if (size - in > key_len && memcmp(data + in, key, key_len) == 0) {
            memmove(data + out, data + in, key_len);
            out += key_len;
            in += key_len;
            size_t digits = 0;
            while (in + digits < size && data[in + digits] >= '0' && data[in + digits] <= '9')
                digits++;
            if (digits > 0) {
                data[out++] = '1';
                in += digits;
            }
            continue;
        }
        data[out++] = data[in++];
    }
    return out;
}

sr_status sr_plot_write_svg(sr_plot *plot, const char *path, sr_error *err)
{
    if (plot == NULL || path == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "no plot or no path");
    svg_buffer buf = {0};
    cairo_surface_t *surface =
        cairo_svg_surface_create_for_stream(svg_collect, &buf, plot->width, plot->height);
    cairo_status_t status = cairo_surface_status(surface);
    if (status == CAIRO_STATUS_SUCCESS) {
        cairo_svg_surface_set_document_unit(surface, CAIRO_SVG_UNIT_PX);
        cairo_t *cr = cairo_create(surface);
        paint(plot, cr);
        status = cairo_status(cr);
        cairo_destroy(cr);
        cairo_surface_finish(surface);
        if (status == CAIRO_STATUS_SUCCESS)
            status = cairo_surface_status(surface);
    }
    cairo_surface_destroy(surface);
    if (status != CAIRO_STATUS_SUCCESS) {
        free(buf.data);
        if (buf.too_big)
            return sr_error_set(err, SR_ERR_NOMEM, path, 0, NULL,
                                "the SVG plot would exceed %zu bytes", SVG_MAX_BYTES);
        return check_cairo(status, path, "SVG plot", err);
    }

    const size_t size = normalise_surface_ids(buf.data, buf.size);
    FILE *out = fopen(path, "wb");
    if (out == NULL) {
        free(buf.data);
        return sr_error_set(err, SR_ERR_IO, path, 0, NULL, "cannot open for writing: %s",
                            strerror(errno));
    }
    const bool written = fwrite(buf.data, 1, size, out) == size;
    const bool closed = fclose(out) == 0;
    free(buf.data);
    if (!written || !closed)
        return sr_error_set(err, SR_ERR_IO, path, 0, NULL, "failed to write the SVG plot");
    return SR_OK;
}
