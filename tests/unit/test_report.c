/*
 * test_report.c - `seqroute report` end to end on hand-made fixtures
 * (tests/data/report): the files written, PNG sizes and pixel probes at
 * markers placed through the plot layer's transform, SVG well-formedness and
 * element counts, the CSV rows behind each plot, the HTML page's references
 * and escaping, byte-for-byte determinism, and errors that name the file,
 * line and field.
 *
 * eval_small.json: budgets 3 and 6 USD (0.3 and 0.6 of C_ref = 10); the
 * heuristic swept over reserve 0 and 1, always-cheapest, always-strongest,
 * the oracle, and cql at λ 0 and 0.5 with p_expensive_bins; aiq and
 * dominance sections.  eval_nobins.json: the older schema with one absolute
 * budget, no bins, no cost unit, a null quality and a name that needs HTML
 * escaping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plot_check.h"
#include "seqroute/report.h"

static char tmp_dir[256];
static char data_dir[512];

static int setup(void **state)
{
    (void)state;
    const char *data = getenv("SEQROUTE_TEST_DATA");
    snprintf(data_dir, sizeof(data_dir), "%s/report", data ? data : "tests/data");
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/seqroute-report-XXXXXX", base ? base : "/tmp");
    return mkdtemp(tmp_dir) == NULL ? -1 : 0;
}

/* Removes a folder of plain files (one level), then the folder. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            remove_dir(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int teardown(void **state)
{
    (void)state;
    if (getenv("SEQROUTE_KEEP_PLOTS") == NULL)
        remove_dir(tmp_dir);
    return 0;
}

static void fixture(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", data_dir, name);
}

static void out_path(char *path, size_t size, const char *dir, const char *name)
{
    snprintf(path, size, "%s/%s/%s", tmp_dir, dir, name);
}

static void skip_without_fixtures(void)
{
    char path[600];
    fixture(path, sizeof(path), "eval_small.json");
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "skipped: fixture %s not found (set SEQROUTE_TEST_DATA)\n", path);
        skip();
    }
}

/* Writes the small report into tmp_dir/DIR. */
static sr_status write_small(const char *dir, bool embed, sr_report_summary *summary,
                             sr_error *err)
{
    char eval[600], curves[600], out[600];
    fixture(eval, sizeof(eval), "eval_small.json");
    fixture(curves, sizeof(curves), "cql.curves.csv");
    snprintf(out, sizeof(out), "%s/%s", tmp_dir, dir);
    const char *curve_paths[1] = {curves};
    const sr_report_options opt = {.eval_path = eval, .curve_paths = curve_paths, .n_curves = 1,
                                   .out_dir = out, .embed_images = embed};
    return sr_report_write(&opt, summary, err);
}

static size_t count_lines(const char *text)
{
    return check_count(text, "\n");
}

static void small_report_files(void **state)
{
    (void)state;
    skip_without_fixtures();
    sr_error err;
    sr_report_summary summary;
    assert_int_equal(write_small("small", false, &summary, &err), SR_OK);
    /* 2 frontiers, bankruptcy, 2 P(expensive), curves. */
    assert_int_equal(summary.plots, 6);
    assert_int_equal(summary.files, 6 * 2 + 6 + 1);
    assert_true(summary.binned_p_expensive);
    assert_int_equal(summary.skipped_points, 0);

    static const char *figures[] = {"frontier_budget1", "frontier_budget2", "bankruptcy",
                                    "p_expensive_budget1", "p_expensive_budget2",
                                    "training_curves"};
    char path[1024], name[128];
    for (size_t i = 0; i < sizeof(figures) / sizeof(figures[0]); i++) {
        uint32_t w = 0, h = 0;
        snprintf(name, sizeof(name), "%s.png", figures[i]);
        out_path(path, sizeof(path), "small", name);
        assert_true(check_png_size(path, &w, &h));
        assert_int_equal(w, SR_REPORT_WIDTH);
        assert_int_equal(h, i == 5 ? SR_REPORT_CURVES_HEIGHT : SR_REPORT_HEIGHT);
        int rgb[3] = {-1, -1, -1};
        assert_true(check_png_pixel(path, 0, (int)h - 1, rgb));
        assert_int_equal(rgb[0] + rgb[1] + rgb[2], 3 * 255);

        snprintf(name, sizeof(name), "%s.svg", figures[i]);
        out_path(path, sizeof(path), "small", name);
        char *svg = check_read_file(path, NULL);
        assert_non_null(svg);
        size_t elements = 0;
        assert_true(check_xml_well_formed(svg, &elements));
        assert_true(elements > 50);
        free(svg);

        snprintf(name, sizeof(name), "%s.csv", figures[i]);
        out_path(path, sizeof(path), "small", name);
        assert_int_equal(access(path, R_OK), 0);
    }
}

static void frontier_marker_pixels(void **state)
{
    (void)state;
    skip_without_fixtures();
    sr_error err;
    assert_int_equal(write_small("pixels", false, NULL, &err), SR_OK);

    char eval_path[600], png[1024];
    fixture(eval_path, sizeof(eval_path), "eval_small.json");
    sr_report_eval *ev = sr_report_eval_load(eval_path, &err);
    assert_non_null(ev);
    assert_int_equal(sr_report_eval_budgets(ev), 2);
    assert_true(sr_report_eval_budget(ev, 0) == 3.0);
    assert_true(sr_report_eval_budget(ev, 1) == 6.0);
    sr_plot *plot = sr_report_frontier_plot(ev, 0, "USD", &err);
    assert_non_null(plot);
    out_path(png, sizeof(png), "pixels", "frontier_budget1.png");

    /* always-strongest at budget 3: cost 4, quality 0.3, 90% bankrupt: a dark fill. */
    double px, py;
    int rgb[3] = {-1, -1, -1};
    assert_true(sr_plot_data_to_pixel(plot, 0, 4.0, 0.30, &px, &py));
    assert_true(check_png_pixel(png, (int)px, (int)py, rgb));
    assert_true(rgb[0] < 90 && rgb[1] < 90 && rgb[2] < 90);

    /* The oracle (cost 2.5, quality 0.8, never bankrupt): white centre, dark star points. */
    assert_true(sr_plot_data_to_pixel(plot, 0, 2.5, 0.80, &px, &py));
    assert_true(check_png_pixel(png, (int)px, (int)py, rgb));
    assert_int_equal(rgb[0] + rgb[1] + rgb[2], 3 * 255);
    assert_true(check_png_pixel(png, (int)px, (int)(py - 8.0), rgb)); /* the upper point */
    assert_true(rgb[0] + rgb[1] + rgb[2] < 3 * 128);

    /* An empty spot of the plot area is background. */
    assert_true(sr_plot_data_to_pixel(plot, 0, 3.6, 0.62, &px, &py));
    assert_true(check_png_pixel(png, (int)px, (int)py, rgb));
    assert_int_equal(rgb[0] + rgb[1] + rgb[2], 3 * 255);
    sr_plot_free(plot);
    sr_report_eval_free(ev);
}

static void svg_and_csv_contents(void **state)
{
    (void)state;
    skip_without_fixtures();
    sr_error err;
    assert_int_equal(write_small("contents", false, NULL, &err), SR_OK);
    char path[1024];

    /* The oracle's star: once in the plot, once in the legend (stroke 10% grey). */
    out_path(path, sizeof(path), "contents", "frontier_budget1.svg");
    char *svg = check_read_file(path, NULL);
    assert_non_null(svg);
    assert_int_equal(check_count(svg, "stroke:rgb(10%,10%,10%)"), 2);
    free(svg);

    /* Frontier CSV: header + the 7 rows of budget 3, swept rows in parameter order. */
    out_path(path, sizeof(path), "contents", "frontier_budget1.csv");
    char *csv = check_read_file(path, NULL);
    assert_non_null(csv);
    assert_int_equal(count_lines(csv), 1 + 7);
    assert_non_null(strstr(csv, "\nheuristic,reserve,0,3,0.29999999999999999,2,"));
    assert_non_null(strstr(csv, "\ncql,lambda,0.5,3,"));
    assert_non_null(strstr(csv, "\nalways-cheapest,,,3,"));
    free(csv);

    /* Bankruptcy CSV: 5 families x 2 budgets; cql at λ 0, heuristic at reserve 1. */
    out_path(path, sizeof(path), "contents", "bankruptcy.csv");
    csv = check_read_file(path, NULL);
    assert_non_null(csv);
    assert_int_equal(count_lines(csv), 1 + 10);
    assert_non_null(strstr(csv, "\ncql,lambda,0,3,"));
    assert_null(strstr(csv, "\ncql,lambda,0.5,"));
    assert_non_null(strstr(csv, "\nheuristic,reserve,1,3,0.29999999999999999,2,"));
    assert_null(strstr(csv, "\nheuristic,reserve,0,"));
    free(csv);

    /* P(expensive) bins at budget 3: cql λ = 0 has 4; no other family has bins. */
    out_path(path, sizeof(path), "contents", "p_expensive_budget1.csv");
    csv = check_read_file(path, NULL);
    assert_non_null(csv);
    assert_int_equal(count_lines(csv), 1 + 4);
    assert_non_null(strstr(csv, "\ncql,lambda,0,3,0.29999999999999999,0.875,0.5,100,0.5\n"));
    free(csv);

    /* Training curves: every row kept, unmeasured cells empty. */
    out_path(path, sizeof(path), "contents", "training_curves.csv");
    csv = check_read_file(path, NULL);
    assert_non_null(csv);
    assert_int_equal(count_lines(csv), 1 + 4);
    assert_non_null(strstr(csv, "\ncql,100,0.90000000000000002,\n"));
    assert_non_null(strstr(csv, "\ncql,400,0.65000000000000002,2.2000000000000002\n"));
    free(csv);
}

static void html_references_every_plot(void **state)
{
    (void)state;
    skip_without_fixtures();
    sr_error err;
    assert_int_equal(write_small("html", false, NULL, &err), SR_OK);
    char path[1024];
    out_path(path, sizeof(path), "html", "index.html");
    char *html = check_read_file(path, NULL);
    assert_non_null(html);
    static const char *figures[] = {"frontier_budget1", "frontier_budget2", "bankruptcy",
                                    "p_expensive_budget1", "p_expensive_budget2",
                                    "training_curves"};
    char needle[160];
    for (size_t i = 0; i < sizeof(figures) / sizeof(figures[0]); i++) {
        snprintf(needle, sizeof(needle), "<img src=\"%s.png\"", figures[i]);
        assert_int_equal(check_count(html, needle), 1);
        snprintf(needle, sizeof(needle), "href=\"%s.svg\"", figures[i]);
        assert_int_equal(check_count(html, needle), 1);
        snprintf(needle, sizeof(needle), "href=\"%s.csv\"", figures[i]);
        assert_int_equal(check_count(html, needle), 1);
    }
    /* No absolute or external references: the folder can move. */
    assert_null(strstr(html, "src=\"/"));
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    /* Tables: one per budget, AIQ and dominance with the unmatched baseline. */
    assert_int_equal(check_count(html, "<h3>Budget "), 2);
    assert_non_null(strstr(html, "<h2>Area under the frontier (AIQ)</h2>"));
    assert_non_null(strstr(html, "<td>0.6100</td>"));
    assert_non_null(strstr(html, "<h2>Dominance</h2>"));
    assert_int_equal(check_count(html, "none qualifies"), 1);
    assert_non_null(strstr(html, "settings.heuristic_reserve"));
    assert_non_null(strstr(html, "cost unit</th><td class=\"name\">USD"));
    free(html);
}

static void embedded_images(void **state)
{
    (void)state;
    skip_without_fixtures();
    sr_error err;
    assert_int_equal(write_small("embed", true, NULL, &err), SR_OK);
    char path[1024];
    out_path(path, sizeof(path), "embed", "index.html");
    char *html = check_read_file(path, NULL);
    assert_non_null(html);
    /* "\x89PNG\r\n\x1a\n" in base64 begins "iVBORw0KGgo". */
    assert_int_equal(check_count(html, "<img src=\"data:image/png;base64,iVBORw0KGgo"), 6);
    free(html);
}

static void output_is_deterministic(void **state)
{
    (void)state;
    skip_without_fixtures();
    sr_error err;
    assert_int_equal(write_small("det1", false, NULL, &err), SR_OK);
    assert_int_equal(write_small("det2", false, NULL, &err), SR_OK);
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/det1", tmp_dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    size_t compared = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char a_path[1024], b_path[1024];
        out_path(a_path, sizeof(a_path), "det1", e->d_name);
        out_path(b_path, sizeof(b_path), "det2", e->d_name);
        size_t na = 0, nb = 0;
        char *a = check_read_file(a_path, &na);
        char *b = check_read_file(b_path, &nb);
        assert_non_null(a);
        assert_non_null(b);
        if (na != nb || memcmp(a, b, na) != 0)
            fail_msg("%s differs between two runs", e->d_name);
        free(a);
        free(b);
        compared++;
    }
    closedir(d);
    assert_int_equal(compared, 19);
}

static void old_schema_without_bins(void **state)
{
    (void)state;
    skip_without_fixtures();
    sr_error err;
    char eval[600], out[600];
    fixture(eval, sizeof(eval), "eval_nobins.json");
    snprintf(out, sizeof(out), "%s/nobins", tmp_dir);
    const sr_report_options opt = {.eval_path = eval, .out_dir = out};
    sr_report_summary summary;
    assert_int_equal(sr_report_write(&opt, &summary, &err), SR_OK);
    assert_false(summary.binned_p_expensive);
    assert_int_equal(summary.plots, 3); /* frontier, bankruptcy, slopes */
    assert_int_equal(summary.skipped_points, 1);

    char path[1024];
    out_path(path, sizeof(path), "nobins", "p_expensive_slope.csv");
    char *csv = check_read_file(path, NULL);
    assert_non_null(csv);
    /* always-cheapest is a constant choice and is left out; the odd name is quoted. */
    assert_int_equal(count_lines(csv), 1 + 3);
    assert_null(strstr(csv, "always-cheapest"));
    assert_non_null(strstr(csv, "\n\"<b>odd, name</b>\",,,5,,-0.10000000000000001,\n"));
    free(csv);

    out_path(path, sizeof(path), "nobins", "index.html");
    char *html = check_read_file(path, NULL);
    assert_non_null(html);
    assert_null(strstr(html, "<b>odd"));
    assert_non_null(strstr(html, "&lt;b&gt;odd, name&lt;/b&gt;"));
    assert_non_null(strstr(html, "cost unit</th><td class=\"name\">cost units"));
    assert_null(strstr(html, "AIQ"));
    free(html);

    /* The unit given by the caller wins. */
    snprintf(out, sizeof(out), "%s/nobins-unit", tmp_dir);
    const sr_report_options with_unit = {.eval_path = eval, .out_dir = out, .cost_unit = "EUR"};
    assert_int_equal(sr_report_write(&with_unit, NULL, &err), SR_OK);
    out_path(path, sizeof(path), "nobins-unit", "frontier_budget1.svg");
    assert_int_equal(access(path, R_OK), 0);
}

/* Writes `text` as tmp_dir/NAME and returns its path in `path`. */
static void write_tmp(const char *name, const char *text, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void bad_eval_files(void **state)
{
    (void)state;
    sr_error err;
    char path[600];

    assert_null(sr_report_eval_load("/nonexistent/eval.json", &err));
    assert_int_equal(err.status, SR_ERR_IO);

    write_tmp("bad1.json", "{\"rows\": [", path, sizeof(path));
    assert_null(sr_report_eval_load(path, &err));
    assert_int_equal(err.status, SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "not valid JSON"));

    write_tmp("bad2.json", "{\"seed\": 1}", path, sizeof(path));
    assert_null(sr_report_eval_load(path, &err));
    assert_string_equal(err.field, "rows");

    write_tmp("bad3.json", "{\"rows\": []}", path, sizeof(path));
    assert_null(sr_report_eval_load(path, &err));
    assert_string_equal(err.field, "rows");

    write_tmp("bad4.json",
              "{\"rows\": [{\"name\": \"a\", \"budget\": 1, \"mean_cost\": 1, "
              "\"bankruptcy_rate\": 0, \"mean_quality\": 1}, {\"name\": \"b\", \"budget\": 1, "
              "\"mean_cost\": \"cheap\", \"bankruptcy_rate\": 0, \"mean_quality\": 1}]}",
              path, sizeof(path));
    assert_null(sr_report_eval_load(path, &err));
    assert_int_equal(err.status, SR_ERR_INVALID);
    assert_string_equal(err.field, "rows[1].mean_cost");
    assert_string_equal(err.path, path);

    write_tmp("bad5.json",
              "{\"rows\": [{\"name\": \"a\", \"budget\": 1, \"bankruptcy_rate\": 0, "
              "\"mean_quality\": 1}]}",
              path, sizeof(path));
    assert_null(sr_report_eval_load(path, &err));
    assert_string_equal(err.field, "rows[0].mean_cost");

    write_tmp("bad6.json",
              "{\"rows\": [{\"name\": \"a\", \"budget\": -1, \"mean_cost\": 1, "
              "\"bankruptcy_rate\": 0, \"mean_quality\": 1}]}",
              path, sizeof(path));
    assert_null(sr_report_eval_load(path, &err));
    assert_string_equal(err.field, "budget");

    write_tmp("bad7.json",
              "{\"rows\": [{\"name\": \"a\", \"budget\": 1, \"mean_cost\": 1, "
              "\"bankruptcy_rate\": 0, \"mean_quality\": 1, \"p_expensive_bins\": "
              "[{\"budget_frac_mid\": 0.5, \"p\": \"x\", \"n\": 3}]}]}",
              path, sizeof(path));
    assert_null(sr_report_eval_load(path, &err));
    assert_string_equal(err.field, "rows[0].p_expensive_bins[0].p");
}

static void bad_curves_write_nothing(void **state)
{
    (void)state;
    skip_without_fixtures();
    sr_error err;
    char eval[600], curves[600], out[600];
    fixture(eval, sizeof(eval), "eval_small.json");
    snprintf(out, sizeof(out), "%s/never", tmp_dir);
    const char *paths[1] = {curves};
    const sr_report_options opt = {.eval_path = eval, .curve_paths = paths, .n_curves = 1,
                                   .out_dir = out};

    fixture(curves, sizeof(curves), "bad_number.curves.csv");
    assert_int_equal(sr_report_write(&opt, NULL, &err), SR_ERR_INVALID);
    assert_int_equal(err.line, 3);
    assert_string_equal(err.field, "loss");
    assert_non_null(strstr(err.message, "'abc'"));
    assert_int_not_equal(access(out, F_OK), 0); /* checked before anything was written */

    fixture(curves, sizeof(curves), "no_loss.curves.csv");
    assert_int_equal(sr_report_write(&opt, NULL, &err), SR_ERR_INVALID);
    assert_int_equal(err.line, 1);
    assert_string_equal(err.field, "loss");

    char path[600];
    write_tmp("ragged.csv", "step,loss,val_return\n1,2,3\n2,3\n", path, sizeof(path));
    paths[0] = path;
    assert_int_equal(sr_report_write(&opt, NULL, &err), SR_ERR_INVALID);
    assert_int_equal(err.line, 3);
    assert_int_not_equal(access(out, F_OK), 0);
}

static void out_dir_that_is_a_file(void **state)
{
    (void)state;
    skip_without_fixtures();
    sr_error err;
    char eval[600], file[600];
    fixture(eval, sizeof(eval), "eval_small.json");
    write_tmp("plain-file", "x", file, sizeof(file));
    const sr_report_options opt = {.eval_path = eval, .out_dir = file};
    assert_int_equal(sr_report_write(&opt, NULL, &err), SR_ERR_INVALID);
    assert_string_equal(err.path, file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_report_files),
        cmocka_unit_test(frontier_marker_pixels),
        cmocka_unit_test(svg_and_csv_contents),
        cmocka_unit_test(html_references_every_plot),
        cmocka_unit_test(embedded_images),
        cmocka_unit_test(output_is_deterministic),
        cmocka_unit_test(old_schema_without_bins),
        cmocka_unit_test(bad_eval_files),
        cmocka_unit_test(bad_curves_write_nothing),
        cmocka_unit_test(out_dir_that_is_a_file),
    };
    const int failed = cmocka_run_group_tests(tests, setup, teardown);
    sr_plot_release_caches();
    return failed;
}
