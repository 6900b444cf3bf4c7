/*
 * plot_check.h - checks of written plot files shared by test_plot.c and
 * test_report.c: PNG size from the IHDR chunk, pixel probes through cairo,
 * a small XML well-formedness check for SVG files, and substring counts.
 *
 * The XML check is deliberately small: it follows tags, comments, processing
 * instructions and quoted attribute values, and requires every start tag to
 * be closed by a matching end tag with exactly one root element.  That is
 * what cairo's SVG writer produces; it is no general XML parser.
 */
#ifndef SEQROUTE_TEST_PLOT_CHECK_H
#define SEQROUTE_TEST_PLOT_CHECK_H

#include <cairo.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whole file into a NUL-terminated buffer (caller frees), or NULL. */
static inline char *check_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    const long n = ftell(f);
    rewind(f);
    char *data = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (data == NULL || fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        fclose(f);
        return NULL;
    }
    data[n] = '\0';
    fclose(f);
    if (size != NULL)
        *size = (size_t)n;
    return data;
}

/* Width and height from the PNG signature and IHDR chunk; false if not a PNG. */
static inline bool check_png_size(const char *path, uint32_t *width, uint32_t *height)
{
    static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t size = 0;
    unsigned char *data = (unsigned char *)check_read_file(path, &size);
    bool ok = data != NULL && size >= 24 && memcmp(data, signature, 8) == 0 &&
              memcmp(data + 12, "IHDR", 4) == 0;
    if (ok) {
        *width = (uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 | (uint32_t)data[18] << 8 |
                 data[19];
        *height = (uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 |
                  (uint32_t)data[22] << 8 | data[23];
    }
    free(data);
    return ok;
}

/* The pixel at (x, y) of a PNG as 0..255 RGB; false when out of range or unreadable. */
static inline bool check_png_pixel(const char *path, int x, int y, int rgb[3])
{
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    bool ok = cairo_surface_status(s) == CAIRO_STATUS_SUCCESS &&
              (cairo_image_surface_get_format(s) == CAIRO_FORMAT_ARGB32 ||
               cairo_image_surface_get_format(s) == CAIRO_FORMAT_RGB24) && x >= 0 && y >= 0 &&
              x < cairo_image_surface_get_width(s) && y < cairo_image_surface_get_height(s);
    if (ok) {
        cairo_surface_flush(s);
        const unsigned char *row =
            cairo_image_surface_get_data(s) + (size_t)y * (size_t)cairo_image_surface_get_stride(s);
        uint32_t pixel;
        memcpy(&pixel, row + 4 * (size_t)x, 4);
        rgb[0] = (int)(pixel >> 16 & 0xff);
        rgb[1] = (int)(pixel >> 8 & 0xff);
        rgb[2] = (int)(pixel & 0xff);
    }
    cairo_surface_destroy(s);
    return ok;
}

/* Occurrences of `needle` in `text`. */
static inline size_t check_count(const char *text, const char *needle)
{
    size_t n = 0;
    const size_t len = strlen(needle);
    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + len, needle))
        n++;
    return n;
}

/* Name of the tag starting at p (after '<' or '</'), copied into name. */
static inline const char *check_tag_name(const char *p, char *name, size_t size)
{
    size_t n = 0;
    while (*p != '\0' && *p != '>' && *p != '/' && *p != ' ' && *p != '\n' && *p != '\t' &&
           *p != '\r') {
        if (n + 1 < size)
            name[n++] = *p;
        p++;
    }
    name[n] = '\0';
    return p;
}

/*
 * True when `text` is a well-formed document in the sense above.  `elements`
 * (may be NULL) receives the number of elements.
 */
static inline bool check_xml_well_formed(const char *text, size_t *elements)
{
    enum { DEPTH = 256 };
    char stack[DEPTH][64];
    int depth = 0;
    int roots = 0;
    size_t count = 0;
    const char *p = text;
    while ((p = strchr(p, '<')) != NULL) {
        if (strncmp(p, "<!--", 4) == 0) {
            p = strstr(p + 4, "-->");
            if (p == NULL)
                return false;
            p += 3;
            continue;
        }
        if (p[1] == '?' || p[1] == '!') {
            p = strchr(p, '>');
            if (p == NULL)
                return false;
            p++;
            continue;
        }
        if (p[1] == '/') {
            char name[64];
            p = check_tag_name(p + 2, name, sizeof(name));
            if (depth == 0 || strcmp(stack[depth - 1], name) != 0)
                return false;
            depth--;
            p = strchr(p, '>');
            if (p == NULL)
                return false;
            p++;
            continue;
        }

        /* A start tag: skip its attributes, honouring quotes. */
        char name[64];
        p = check_tag_name(p + 1, name, sizeof(name));
        if (name[0] == '\0')
            return false;
        char quote = 0;
        while (*p != '\0' && (quote != 0 || *p != '>')) {
            if (quote == 0 && (*p == '"' || *p == '\''))
                quote = *p;
            else if (quote != 0 && *p == quote)
                quote = 0;
            p++;
        }
        if (*p != '>')
            return false;
        count++;
        if (depth == 0)
            roots++;
        if (p[-1] != '/') {
            if (depth == DEPTH)
                return false;
            snprintf(stack[depth++], sizeof(stack[0]), "%s", name);
        }
        p++;
    }
    if (elements != NULL)
        *elements = count;
    return depth == 0 && roots == 1;
}

#endif /* SEQROUTE_TEST_PLOT_CHECK_H */
