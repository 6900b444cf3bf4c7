/*
 * test_plot.c - the chart layer: nice ticks against values worked out by
 * hand, argument checks, the data-to-pixel transform on linear and log axes,
 * PNG files by their IHDR size and pixel probes at known markers, SVG files
 * by a well-formedness check and element counts, and byte-for-byte
 * determinism of both formats.
 *
 * Files go to a fresh folder under $TMPDIR (or /tmp), removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plot_check.h"
#include "seqroute/plot.h"

/* |a - b| <= tol, printing both values when it fails. */
#define assert_near(a, b, tol)                                                                  \
    do {                                                                                        \
        const double a_ = (a), b_ = (b);                                                        \
        if (!(fabs(a_ - b_) <= (tol)))                                                          \
            fail_msg("%s = %.17g, expected %.17g (tolerance %g)", #a, a_, b_, (double)(tol));   \
    } while (0)

static char tmp_dir[256];

static int make_tmp_dir(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/seqroute-plot-XXXXXX", base ? base : "/tmp");
    return mkdtemp(tmp_dir) == NULL ? -1 : 0;
}

static int remove_tmp_dir(void **state)
{
    (void)state;
    static const char *names[] = {"a.png", "b.png", "a.svg", "b.svg", "log.png"};
    if (getenv("SEQROUTE_KEEP_PLOTS") != NULL)
        return 0;
    char path[512];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmp_dir, names[i]);
        unlink(path);
    }
    return rmdir(tmp_dir);
}

static void tmp_path(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", tmp_dir, name);
}

/* ---- ticks ----------------------------------------------------------------------------- */

static void ticks_linear_unit_range(void **state)
{
    (void)state;
    double t[32];
    /* span 1 / 6 = 0.167 -> step 0.2. */
    const size_t n = sr_plot_nice_ticks(0.0, 1.0, SR_PLOT_LINEAR, 6, t, 32);
    assert_int_equal(n, 6);
    assert_near(t[0], 0.0, 1e-12);
    assert_near(t[1], 0.2, 1e-12);
    assert_near(t[5], 1.0, 1e-12);
}

static void ticks_linear_costs(void **state)
{
    (void)state;
    double t[32];
    /* span 0.0416 / 6 = 0.0069, nearest 1-2-5 step 0.005: 0.01 .. 0.045 in [0.0064, 0.048]. */
    const size_t n = sr_plot_nice_ticks(0.0064, 0.048, SR_PLOT_LINEAR, 6, t, 32);
    assert_int_equal(n, 8);
    assert_near(t[0], 0.01, 1e-12);
    assert_near(t[1], 0.015, 1e-12);
    assert_near(t[7], 0.045, 1e-12);
}

static void ticks_linear_negative_through_zero(void **state)
{
    (void)state;
    double t[32];
    /* span 9 / 6 = 1.5, nearest step 2: -4, -2, 0, 2, 4; zero is exactly 0. */
    const size_t n = sr_plot_nice_ticks(-4.5, 4.5, SR_PLOT_LINEAR, 6, t, 32);
    assert_int_equal(n, 5);
    assert_near(t[0], -4.0, 1e-12);
    assert_true(t[2] == 0.0);
    assert_near(t[4], 4.0, 1e-12);
}

static void ticks_log_decades(void **state)
{
    (void)state;
    double t[32];
    const size_t n = sr_plot_nice_ticks(0.001, 10.0, SR_PLOT_LOG, 6, t, 32);
    assert_int_equal(n, 5);
    assert_near(t[0], 0.001, 1e-15);
    assert_near(t[4], 10.0, 1e-12);
}

static void ticks_log_few_decades_use_2_and_5(void **state)
{
    (void)state;
    double t[32];
    const size_t n = sr_plot_nice_ticks(0.02, 0.5, SR_PLOT_LOG, 6, t, 32);
    assert_int_equal(n, 5); /* 0.02 0.05 0.1 0.2 0.5 */
    assert_near(t[0], 0.02, 1e-15);
    assert_near(t[1], 0.05, 1e-15);
    assert_near(t[2], 0.1, 1e-15);
    assert_near(t[4], 0.5, 1e-15);
}

static void ticks_bad_ranges(void **state)
{
    (void)state;
    double t[8];
    assert_int_equal(sr_plot_nice_ticks(1.0, 1.0, SR_PLOT_LINEAR, 6, t, 8), 0);
    assert_int_equal(sr_plot_nice_ticks(2.0, 1.0, SR_PLOT_LINEAR, 6, t, 8), 0);
    assert_int_equal(sr_plot_nice_ticks(NAN, 1.0, SR_PLOT_LINEAR, 6, t, 8), 0);
    assert_int_equal(sr_plot_nice_ticks(0.0, 10.0, SR_PLOT_LOG, 6, t, 8), 0);
    /* The output array bounds the count. */
    assert_int_equal(sr_plot_nice_ticks(0.0, 100.0, SR_PLOT_LINEAR, 50, t, 8), 8);
}

/* ---- arguments ------------------------------------------------------------------------- */

static void create_rejects_bad_sizes(void **state)
{
    (void)state;
    sr_error err;
    assert_null(sr_plot_create(10, 300, 1, &err));
    assert_int_equal(err.status, SR_ERR_INVALID);
    assert_null(sr_plot_create(400, SR_PLOT_MAX_SIZE + 1, 1, &err));
    assert_null(sr_plot_create(400, 300, 0, &err));
    assert_null(sr_plot_create(400, 300, SR_PLOT_MAX_PANELS + 1, &err));
}

static void setters_reject_bad_input(void **state)
{
    (void)state;
    sr_error err;
    sr_plot *plot = sr_plot_create(400, 300, 2, &err);
    assert_non_null(plot);
    assert_int_equal(sr_plot_set_axis(plot, 2, 'x', "x", SR_PLOT_LINEAR, NAN, NAN, &err),
                     SR_ERR_INVALID);
    assert_int_equal(sr_plot_set_axis(plot, 0, 'z', "x", SR_PLOT_LINEAR, NAN, NAN, &err),
                     SR_ERR_INVALID);
    assert_int_equal(sr_plot_set_axis(plot, 0, 'x', "x", SR_PLOT_LINEAR, 1.0, 1.0, &err),
                     SR_ERR_INVALID);
    assert_int_equal(sr_plot_set_axis(plot, 0, 'x', "x", SR_PLOT_LOG, 0.0, 1.0, &err),
                     SR_ERR_INVALID);
    assert_int_equal(sr_plot_set_axis(plot, 0, 'x', "x", SR_PLOT_LINEAR, 0.0, INFINITY, &err),
                     SR_ERR_INVALID);
    assert_int_equal(sr_plot_set_colorbar(plot, 0, "c", 1.0, 0.0, SR_PLOT_RAMP_LINEAR, &err),
                     SR_ERR_INVALID);
    sr_plot_series s = {.label = "s", .n = 3};
    assert_int_equal(sr_plot_add_series(plot, 0, &s, &err), SR_ERR_INVALID);
    assert_int_equal(sr_plot_add_series(plot, -1, &s, &err), SR_ERR_INVALID);
    sr_plot_free(plot);
}

static void too_many_series_rejected(void **state)
{
    (void)state;
    sr_error err;
    sr_plot *plot = sr_plot_create(400, 300, 1, &err);
    const double x = 1, y = 1;
    sr_plot_series s = {.label = "s", .n = 1, .x = &x, .y = &y};
    for (int i = 0; i < SR_PLOT_MAX_SERIES; i++)
        assert_int_equal(sr_plot_add_series(plot, 0, &s, &err), SR_OK);
    assert_int_equal(sr_plot_add_series(plot, 0, &s, &err), SR_ERR_INVALID);
    sr_plot_free(plot);
}

/* ---- transform ------------------------------------------------------------------------- */

static void transform_is_linear_and_y_points_down(void **state)
{
    (void)state;
    sr_error err;
    sr_plot *plot = sr_plot_create(600, 400, 1, &err);
    assert_int_equal(sr_plot_set_axis(plot, 0, 'x', "x", SR_PLOT_LINEAR, 0, 10, &err), SR_OK);
    assert_int_equal(sr_plot_set_axis(plot, 0, 'y', "y", SR_PLOT_LINEAR, 0, 1, &err), SR_OK);
    double x0, y0, x5, y5, x10, y10;
    assert_true(sr_plot_data_to_pixel(plot, 0, 0, 0, &x0, &y0));
    assert_true(sr_plot_data_to_pixel(plot, 0, 5, 0.5, &x5, &y5));
    assert_true(sr_plot_data_to_pixel(plot, 0, 10, 1, &x10, &y10));
    assert_near(x5, (x0 + x10) / 2, 1e-9);
    assert_near(y5, (y0 + y10) / 2, 1e-9);
    assert_true(x10 > x0);
    assert_true(y10 < y0); /* larger y is higher on screen */
    /* The whole range lies inside the figure. */
    assert_true(x0 > 0 && x10 < 600 && y10 > 0 && y0 < 400);
    assert_false(sr_plot_data_to_pixel(plot, 1, 0, 0, &x0, &y0));
    assert_false(sr_plot_data_to_pixel(plot, 0, NAN, 0, &x0, &y0));
    sr_plot_free(plot);
}

static void transform_log_axis(void **state)
{
    (void)state;
    sr_error err;
    sr_plot *plot = sr_plot_create(600, 400, 1, &err);
    assert_int_equal(sr_plot_set_axis(plot, 0, 'x', "x", SR_PLOT_LOG, 1, 100, &err), SR_OK);
    double x1, x10, x100, y;
    assert_true(sr_plot_data_to_pixel(plot, 0, 1, 0.5, &x1, &y));
    assert_true(sr_plot_data_to_pixel(plot, 0, 10, 0.5, &x10, &y));
    assert_true(sr_plot_data_to_pixel(plot, 0, 100, 0.5, &x100, &y));
    assert_near(x10, (x1 + x100) / 2, 1e-9); /* 10 is half way in log space */
    assert_false(sr_plot_data_to_pixel(plot, 0, 0.0, 0.5, &x1, &y));
    assert_false(sr_plot_data_to_pixel(plot, 0, -1.0, 0.5, &x1, &y));
    sr_plot_free(plot);
}

static void stacked_panels_do_not_overlap(void **state)
{
    (void)state;
    sr_error err;
    sr_plot *plot = sr_plot_create(600, 800, 2, &err);
    for (int p = 0; p < 2; p++) {
        assert_int_equal(sr_plot_set_axis(plot, p, 'x', "x", SR_PLOT_LINEAR, 0, 1, &err), SR_OK);
        assert_int_equal(sr_plot_set_axis(plot, p, 'y', "y", SR_PLOT_LINEAR, 0, 1, &err), SR_OK);
    }
    double x, top0, bottom0, top1, bottom1;
    assert_true(sr_plot_data_to_pixel(plot, 0, 0, 1, &x, &top0));
    assert_true(sr_plot_data_to_pixel(plot, 0, 0, 0, &x, &bottom0));
    assert_true(sr_plot_data_to_pixel(plot, 1, 0, 1, &x, &top1));
    assert_true(sr_plot_data_to_pixel(plot, 1, 0, 0, &x, &bottom1));
    assert_true(top0 < bottom0);
    assert_true(bottom0 < top1);
    assert_true(top1 < bottom1);
    assert_true(bottom1 < 800);
    sr_plot_free(plot);
}

/* ---- files ----------------------------------------------------------------------------- */

/*
 * A figure with a known layout: axes [0, 1] x [0, 1], one red filled square
 * marker at (0.5, 0.5), a blue line from (0.1, 0.9) to (0.3, 0.9), three
 * green hollow circles, and a legend.
 */
static sr_plot *known_figure(void)
{
    sr_error err;
    sr_plot *plot = sr_plot_create(480, 320, 1, &err);
    assert_non_null(plot);
    assert_int_equal(sr_plot_set_title(plot, 0, "known figure", "a note", &err), SR_OK);
    assert_int_equal(sr_plot_set_axis(plot, 0, 'x', "mean cost (USD)", SR_PLOT_LINEAR, 0, 1, &err),
                     SR_OK);
    assert_int_equal(sr_plot_set_axis(plot, 0, 'y', "quality", SR_PLOT_LINEAR, 0, 1, &err),
                     SR_OK);
    const double mx = 0.5, my = 0.5;
    sr_plot_series red = {.label = "red", .n = 1, .x = &mx, .y = &my,
                          .color = {1, 0, 0}, .marker = SR_PLOT_MARKER_SQUARE,
                          .marker_size = 8};
    assert_int_equal(sr_plot_add_series(plot, 0, &red, &err), SR_OK);
    const double lx[2] = {0.1, 0.3}, ly[2] = {0.9, 0.9};
    sr_plot_series blue = {.label = "blue", .n = 2, .x = lx, .y = ly, .color = {0, 0, 1},
                           .line = true, .line_width = 4};
    assert_int_equal(sr_plot_add_series(plot, 0, &blue, &err), SR_OK);
    const double cx[3] = {0.7, 0.8, 0.9}, cy[3] = {0.2, NAN, 0.3};
    sr_plot_series green = {.label = "green", .n = 3, .x = cx, .y = cy, .color = {0, 0.6, 0},
                            .marker = SR_PLOT_MARKER_CIRCLE, .hollow = true};
    assert_int_equal(sr_plot_add_series(plot, 0, &green, &err), SR_OK);
    return plot;
}

static void png_size_and_pixels(void **state)
{
    (void)state;
    sr_error err;
    char path[512];
    tmp_path(path, sizeof(path), "a.png");
    sr_plot *plot = known_figure();
    assert_int_equal(sr_plot_write_png(plot, path, &err), SR_OK);

    uint32_t w = 0, h = 0;
    assert_true(check_png_size(path, &w, &h));
    assert_int_equal(w, 480);
    assert_int_equal(h, 320);

    int rgb[3] = {-1, -1, -1};
    assert_true(check_png_pixel(path, 0, 0, rgb)); /* background at a corner */
    assert_int_equal(rgb[0], 255);
    assert_int_equal(rgb[1], 255);
    assert_int_equal(rgb[2], 255);
    assert_true(check_png_pixel(path, 479, 319, rgb));
    assert_int_equal(rgb[0] + rgb[1] + rgb[2], 3 * 255);

    double px, py;
    assert_true(sr_plot_data_to_pixel(plot, 0, 0.5, 0.5, &px, &py));
    assert_true(check_png_pixel(path, (int)px, (int)py, rgb)); /* inside the red square */
    assert_int_equal(rgb[0], 255);
    assert_int_equal(rgb[1], 0);
    assert_int_equal(rgb[2], 0);

    assert_true(sr_plot_data_to_pixel(plot, 0, 0.2, 0.9, &px, &py));
    assert_true(check_png_pixel(path, (int)px, (int)py, rgb)); /* on the blue line */
    assert_true(rgb[2] > 200 && rgb[0] < 60 && rgb[1] < 60);

    assert_true(sr_plot_data_to_pixel(plot, 0, 0.7, 0.2, &px, &py));
    assert_true(check_png_pixel(path, (int)px, (int)py, rgb)); /* hollow: white centre */
    assert_int_equal(rgb[0] + rgb[1] + rgb[2], 3 * 255);
    assert_true(check_png_pixel(path, (int)(px + 5.0), (int)py, rgb)); /* green ring */
    assert_true(rgb[1] > rgb[0] + 40 && rgb[1] > rgb[2] + 40);

    assert_true(sr_plot_data_to_pixel(plot, 0, 0.25, 0.25, &px, &py));
    assert_true(check_png_pixel(path, (int)px, (int)py, rgb)); /* empty plot area */
    assert_int_equal(rgb[0] + rgb[1] + rgb[2], 3 * 255);
    sr_plot_free(plot);
}

static void svg_well_formed_with_expected_elements(void **state)
{
    (void)state;
    sr_error err;
    char path[512];
    tmp_path(path, sizeof(path), "a.svg");
    sr_plot *plot = known_figure();
    assert_int_equal(sr_plot_write_svg(plot, path, &err), SR_OK);
    sr_plot_free(plot);

    char *text = check_read_file(path, NULL);
    assert_non_null(text);
    size_t elements = 0;
    assert_true(check_xml_well_formed(text, &elements));
    assert_true(elements > 20);
    assert_non_null(strstr(text, "<svg"));
    assert_non_null(strstr(text, "width=\"480"));
    assert_non_null(strstr(text, "height=\"320"));
    /* The red square is filled once in the plot and once in the legend. */
    assert_int_equal(check_count(text, "fill:rgb(100%,0%,0%)"), 2);
    /* The green circles: two drawn (the NAN point is skipped) plus the legend's. */
    assert_int_equal(check_count(text, "stroke:rgb(0%,60%,0%)"), 3);
    free(text);

    /* The check itself rejects broken documents. */
    assert_false(check_xml_well_formed("<svg><g></svg>", NULL));
    assert_false(check_xml_well_formed("<svg></svg><svg></svg>", NULL));
    assert_false(check_xml_well_formed("<svg a=\"x>", NULL));
    assert_true(check_xml_well_formed("<?xml version=\"1.0\"?><svg><g/><g a='>'></g></svg>",
                                      NULL));
}

static void output_is_deterministic(void **state)
{
    (void)state;
    sr_error err;
    const char *names[2][2] = {{"a.png", "b.png"}, {"a.svg", "b.svg"}};
    for (int format = 0; format < 2; format++) {
        char path[2][512];
        for (int i = 0; i < 2; i++) {
            tmp_path(path[i], sizeof(path[i]), names[format][i]);
            sr_plot *plot = known_figure();
            const sr_status status = format == 0 ? sr_plot_write_png(plot, path[i], &err)
                                                 : sr_plot_write_svg(plot, path[i], &err);
            assert_int_equal(status, SR_OK);
            sr_plot_free(plot);
        }
        size_t size_a = 0, size_b = 0;
        char *a = check_read_file(path[0], &size_a);
        char *b = check_read_file(path[1], &size_b);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(size_a, size_b);
        assert_memory_equal(a, b, size_a);
        free(a);
        free(b);
    }
}

static void log_axis_with_colorbar_and_bad_points(void **state)
{
    (void)state;
    sr_error err;
    char path[512];
    tmp_path(path, sizeof(path), "log.png");
    sr_plot *plot = sr_plot_create(640, 400, 1, &err);
    assert_int_equal(sr_plot_set_axis(plot, 0, 'x', "cost (USD)", SR_PLOT_LOG, NAN, NAN, &err),
                     SR_OK);
    assert_int_equal(sr_plot_set_colorbar(plot, 0, "bankruptcy rate (%)", 0, 100,
                                          SR_PLOT_RAMP_SQRT, &err),
                     SR_OK);
    /* Zero and negative x cannot go on a log axis; they are skipped, not fatal. */
    const double x[5] = {0.0, 0.001, 0.01, -1.0, 1.0};
    const double y[5] = {0.1, 0.2, 0.5, 0.6, INFINITY};
    const double fill[5] = {0, 0, 100, 50, 5};
    sr_plot_series s = {.label = "s", .n = 5, .x = x, .y = y, .fill_value = fill,
                        .color = {0, 0, 1}, .line = true, .marker = SR_PLOT_MARKER_CIRCLE,
                        .marker_size = 7};
    assert_int_equal(sr_plot_add_series(plot, 0, &s, &err), SR_OK);
    assert_int_equal(sr_plot_write_png(plot, path, &err), SR_OK);

    /* The 100% point is filled near-black, the 0% point white. */
    double px, py;
    int rgb[3] = {-1, -1, -1};
    assert_true(sr_plot_data_to_pixel(plot, 0, 0.01, 0.5, &px, &py));
    assert_true(check_png_pixel(path, (int)px, (int)py, rgb));
    assert_true(rgb[0] < 40 && rgb[1] < 40 && rgb[2] < 40);
    assert_true(sr_plot_data_to_pixel(plot, 0, 0.001, 0.2, &px, &py));
    assert_true(check_png_pixel(path, (int)px + 2, (int)py + 2, rgb));
    assert_int_equal(rgb[0] + rgb[1] + rgb[2], 3 * 255);
    sr_plot_free(plot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ticks_linear_unit_range),
        cmocka_unit_test(ticks_linear_costs),
        cmocka_unit_test(ticks_linear_negative_through_zero),
        cmocka_unit_test(ticks_log_decades),
        cmocka_unit_test(ticks_log_few_decades_use_2_and_5),
        cmocka_unit_test(ticks_bad_ranges),
        cmocka_unit_test(create_rejects_bad_sizes),
        cmocka_unit_test(setters_reject_bad_input),
        cmocka_unit_test(too_many_series_rejected),
        cmocka_unit_test(transform_is_linear_and_y_points_down),
        cmocka_unit_test(transform_log_axis),
        cmocka_unit_test(stacked_panels_do_not_overlap),
        cmocka_unit_test(png_size_and_pixels),
        cmocka_unit_test(svg_well_formed_with_expected_elements),
        cmocka_unit_test(output_is_deterministic),
        cmocka_unit_test(log_axis_with_colorbar_and_bad_points),
    };
    const int failed = cmocka_run_group_tests(tests, make_tmp_dir, remove_tmp_dir);
    sr_plot_release_caches();
    return failed;
}
