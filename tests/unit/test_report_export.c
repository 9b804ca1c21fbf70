/*
 * Profile export JSON (spec 07-output.md §6): exact bytes for a tiny input,
 * merging of repeated levels, the periodic form, the open-failure message,
 * and the key order / compactness of the original's golden prof.json.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/version.h"
#include "report/report.h"

#define OFFSET 1700000000000000000ULL

static const uint64_t responses[] = {150, 200, 260, 450, 850};
static const struct pa_record recs_a[] = {
    {.start_ns = 100, .first_response = 0, .n_responses = 1},
    {.start_ns = 120, .sequence_id = 3, .first_response = 1, .n_responses = 2,
     .flags = PA_REC_NULL_LAST | PA_REC_SEQUENCE_END},
};
static const struct pa_record recs_b[] = {{.start_ns = 400, .first_response = 3, .n_responses = 1}};
static const struct pa_record recs_c[] = {{.start_ns = 800, .first_response = 4, .n_responses = 1}};
static const uint64_t bounds_a[] = {90, 300};
static const uint64_t bounds_b[] = {300, 500, 700};
static const uint64_t bounds_c[] = {790, 900};

static const struct export_level levels[] = {
    {.concurrency = 2, .records = recs_a, .n_records = 2, .response_ns = responses,
     .boundaries_ns = bounds_a, .n_boundaries = 2},
    {.request_rate = 12.5, .records = recs_b, .n_records = 1, .response_ns = responses,
     .boundaries_ns = bounds_b, .n_boundaries = 3},
    /* concurrency 2 again (e.g. revisited): merged into the first experiment */
    {.concurrency = 2, .records = recs_c, .n_records = 1, .response_ns = responses,
     .boundaries_ns = bounds_c, .n_boundaries = 2},
};

static char *print_doc(const struct export_doc *doc)
{
    char *text = NULL;
    size_t len = 0;
    struct pa_err err = {0};
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(report_export_print(f, doc, &err), PA_OK);
    fclose(f);
    return text;
}

static void test_exact_bytes(void **state)
{
    struct export_doc doc = {.levels = levels, .n_levels = 3, .epoch_offset_ns = OFFSET};
    char want[2048];
    char *got;
    (void)state;

    snprintf(want, sizeof(want),
             "{\"experiments\":["
             "{\"experiment\":{\"mode\":\"concurrency\",\"value\":2},\"requests\":["
             "{\"timestamp\":1700000000000000100,\"response_timestamps\":[1700000000000000150]},"
             "{\"timestamp\":1700000000000000120,\"sequence_id\":3,\"response_timestamps\":"
             "[1700000000000000200,1700000000000000260]},"
             "{\"timestamp\":1700000000000000800,\"response_timestamps\":[1700000000000000850]}"
             "],\"window_boundaries\":[1700000000000000090,1700000000000000300,"
             "1700000000000000790,1700000000000000900]},"
             "{\"experiment\":{\"mode\":\"request_rate\",\"value\":12.5},\"requests\":["
             "{\"timestamp\":1700000000000000400,\"response_timestamps\":[1700000000000000450]}"
             "],\"window_boundaries\":[1700000000000000300,1700000000000000500,"
             "1700000000000000700]}"
             "],\"version\":\"%s\"}",
             pa_version());
    got = print_doc(&doc);
    assert_string_equal(got, want);
    free(got);
}

static void test_integral_rate_and_empty(void **state)
{
    struct export_level l = {.request_rate = 100};
    struct export_doc doc = {.levels = &l, .n_levels = 1};
    char want[256];
    char *got;
    (void)state;

    /* A level with no requests and no windows still appears. */
    snprintf(want, sizeof(want),
             "{\"experiments\":[{\"experiment\":{\"mode\":\"request_rate\",\"value\":100.0},"
             "\"requests\":[],\"window_boundaries\":[]}],\"version\":\"%s\"}",
             pa_version());
    got = print_doc(&doc);
    assert_string_equal(got, want);
    free(got);

    doc.n_levels = 0;
    snprintf(want, sizeof(want), "{\"experiments\":[],\"version\":\"%s\"}", pa_version());
    got = print_doc(&doc);
    assert_string_equal(got, want);
    free(got);
}

static void test_periodic_form(void **state)
{
    struct export_doc doc = {
        .levels = levels, .n_levels = 2, .epoch_offset_ns = OFFSET, .periodic = true};
    char want[1024];
    char *got;
    (void)state;

    snprintf(want, sizeof(want),
             "{\"experiments\":[{\"experiment\":{\"mode\":\"concurrency\",\"value\":1},"
             "\"requests\":["
             "{\"timestamp\":1700000000000000100,\"response_timestamps\":[1700000000000000150]},"
             "{\"timestamp\":1700000000000000120,\"sequence_id\":3,\"response_timestamps\":"
             "[1700000000000000200,1700000000000000260]},"
             "{\"timestamp\":1700000000000000400,\"response_timestamps\":[1700000000000000450]}"
             "],\"window_boundaries\":[0,18446744073709551615]}],\"version\":\"%s\"}",
             pa_version());
    got = print_doc(&doc);
    assert_string_equal(got, want);
    free(got);
}

/* The file at path holds exactly what report_export_print gives for doc. */
static void assert_file_is_doc(const char *path, const struct export_doc *doc)
{
    char *want = print_doc(doc);
    char *got = calloc(1, strlen(want) + 16);
    FILE *f = fopen(path, "rb");

    assert_non_null(f);
    assert_int_equal(fread(got, 1, strlen(want) + 8, f), strlen(want)); /* no trailing newline */
    fclose(f);
    assert_string_equal(got, want);
    free(want);
    free(got);
}

static void test_write_file_and_open_failure(void **state)
{
    struct export_doc doc = {.levels = levels, .n_levels = 3, .epoch_offset_ns = OFFSET};
    struct pa_err err = {0};
    char path[] = "/tmp/pa_report_exportXXXXXX";
    int fd = mkstemp(path);
    struct pa_level_export ex[3];
    (void)state;

    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(report_export_write(path, &doc, &err), PA_OK);
    assert_file_is_doc(path, &doc);
    unlink(path);

    /* The same document from the profiler's own per-level collections. */
    memset(ex, 0, sizeof(ex));
    for (size_t i = 0; i < 3; i++) {
        const struct export_level *l = &levels[i];
        ex[i].concurrency = l->concurrency;
        ex[i].request_rate = l->request_rate;
        ex[i].records.records = calloc(l->n_records, sizeof(struct pa_record));
        memcpy(ex[i].records.records, l->records, l->n_records * sizeof(struct pa_record));
        ex[i].records.n = l->n_records;
        ex[i].records.response_ns = calloc(5, sizeof(uint64_t));
        memcpy(ex[i].records.response_ns, responses, sizeof(responses));
        ex[i].window_boundaries = calloc(l->n_boundaries, sizeof(uint64_t));
        memcpy(ex[i].window_boundaries, l->boundaries_ns, l->n_boundaries * sizeof(uint64_t));
        ex[i].n_window_boundaries = l->n_boundaries;
    }
    assert_int_equal(report_export_write_levels(path, ex, 3, OFFSET, false, &err), PA_OK);
    assert_file_is_doc(path, &doc);
    unlink(path);
    for (size_t i = 0; i < 3; i++)
        pa_level_export_release(&ex[i]);

    assert_int_equal(report_export_write("/nonexistent-dir/prof.json", &doc, &err), PA_EIO);
    assert_string_equal(err.msg, "failed to open file for outputting raw profile data");
}

/* Object member names of item, in order, joined by ','. */
static void keys(const cJSON *item, char *buf, size_t size)
{
    buf[0] = '\0';
    for (const cJSON *c = item->child; c; c = c->next) {
        strncat(buf, c->string, size - strlen(buf) - 1);
        if (c->next)
            strncat(buf, ",", size - strlen(buf) - 1);
    }
}

/* Key order and shape checks shared by the golden file and our output. */
static void check_shape(const char *text, size_t *n_experiments)
{
    char k[256];
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    /* compact: no whitespace outside strings (none of ours contain spaces) */
    assert_null(strpbrk(text, " \n\t"));
    assert_int_equal(text[strlen(text) - 1], '}');
    keys(root, k, sizeof(k));
    assert_string_equal(k, "experiments,version");
    assert_true(cJSON_IsString(cJSON_GetObjectItem(root, "version")));
    const cJSON *exps = cJSON_GetObjectItem(root, "experiments");
    assert_true(cJSON_IsArray(exps));
    *n_experiments = (size_t)cJSON_GetArraySize(exps);
    for (const cJSON *e = exps->child; e; e = e->next) {
        keys(e, k, sizeof(k));
        assert_string_equal(k, "experiment,requests,window_boundaries");
        keys(cJSON_GetObjectItem(e, "experiment"), k, sizeof(k));
        assert_string_equal(k, "mode,value");
        const cJSON *reqs = cJSON_GetObjectItem(e, "requests");
        for (const cJSON *r = reqs->child; r; r = r->next) {
            keys(r, k, sizeof(k));
            if (strcmp(k, "timestamp,response_timestamps") != 0)
                assert_string_equal(k, "timestamp,sequence_id,response_timestamps");
            assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(r, "response_timestamps")) >= 1);
        }
        assert_true(cJSON_IsArray(cJSON_GetObjectItem(e, "window_boundaries")));
    }
    cJSON_Delete(root);
}

static void test_shape_matches_golden(void **state)
{
    char path[512];
    FILE *f;
    long n;
    char *golden, *ours;
    size_t n_golden, n_ours;
    struct export_doc doc = {.levels = levels, .n_levels = 3, .epoch_offset_ns = OFFSET};
    (void)state;

    snprintf(path, sizeof(path), "%s/reference/golden/profile_export/prof.json", PA_SHARED_DIR);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    golden = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(golden, 1, (size_t)n, f), (size_t)n);
    fclose(f);

    check_shape(golden, &n_golden);
    assert_int_equal(n_golden, 2);
    /* The golden's first experiment prefix is byte-identical in form to ours. */
    const char *prefix = "{\"experiments\":[{\"experiment\":{\"mode\":\"concurrency\","
                         "\"value\":1},\"requests\":[{\"timestamp\":";
    assert_memory_equal(golden, prefix, strlen(prefix));
    assert_non_null(strstr(golden, "],\"version\":\"2.39.0\"}"));

    ours = print_doc(&doc);
    check_shape(ours, &n_ours);
    assert_int_equal(n_ours, 2);
    free(ours);
    free(golden);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_integral_rate_and_empty),
        cmocka_unit_test(test_periodic_form),
        cmocka_unit_test(test_write_file_and_open_failure),
        cmocka_unit_test(test_shape_matches_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
