/* Number formatting: C++ ostream default, fixed(2), and the JSON writer's doubles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "report/report.h"

static const char *dflt(double v)
{
    static char buf[REPORT_DBL_BUFSZ];
    return fmt_double_default(buf, sizeof(buf), v);
}

static const char *json(double v)
{
    static char buf[REPORT_DBL_BUFSZ];
    return fmt_double_json(buf, sizeof(buf), v);
}

static void test_default_format(void **state)
{
    (void)state;
    /* Throughputs are computed in float and widened, as the original does. */
    assert_string_equal(dflt((double)439.645f), "439.645");
    assert_string_equal(dflt((double)1407.84f), "1407.84");
    assert_string_equal(dflt((double)99.7996f), "99.7996");
    assert_string_equal(dflt((double)199.7f), "199.7");
    assert_string_equal(dflt(69.6), "69.6");
    assert_string_equal(dflt(100), "100");
    assert_string_equal(dflt(1e6), "1e+06");
    assert_string_equal(dflt(123456), "123456");
    assert_string_equal(dflt(1234567), "1.23457e+06");
    assert_string_equal(dflt(0.809), "0.809");
    assert_string_equal(dflt(0.25 * 100), "25");
    assert_string_equal(dflt(100.5), "100.5");
    assert_string_equal(dflt(0.0001), "0.0001");
    assert_string_equal(dflt(0.00001), "1e-05");
    assert_string_equal(dflt(0), "0");
    assert_string_equal(dflt(-2.5), "-2.5");
    assert_string_equal(dflt(1.0 / 3.0), "0.333333");
    assert_string_equal(dflt(999999.5), "1e+06");
    assert_string_equal(dflt(INFINITY), "inf");
}

static void test_fixed2(void **state)
{
    char buf[REPORT_DBL_BUFSZ];
    (void)state;
    /* 439.645 is 439.64499... in binary; iostreams round the same way. */
    assert_string_equal(fmt_double_fixed2(buf, sizeof(buf), 439.645), "439.64");
    assert_string_equal(fmt_double_fixed2(buf, sizeof(buf), 442.715), "442.71");
    assert_string_equal(fmt_double_fixed2(buf, sizeof(buf), 100), "100.00");
    assert_string_equal(fmt_double_fixed2(buf, sizeof(buf), 0.0123), "0.01");
    assert_string_equal(fmt_double_fixed2(buf, sizeof(buf), 1e6), "1000000.00");
}

static void test_small_buffer_truncates(void **state)
{
    char buf[4];
    (void)state;
    assert_string_equal(fmt_double_default(buf, sizeof(buf), 439.645), "439");
}

static void test_json_double(void **state)
{
    (void)state;
    assert_string_equal(json(100), "100.0");
    assert_string_equal(json(1), "1.0");
    assert_string_equal(json(0), "0.0");
    assert_string_equal(json(-0.0), "-0.0");
    assert_string_equal(json(0.5), "0.5");
    assert_string_equal(json(-2.5), "-2.5");
    assert_string_equal(json(123.456), "123.456");
    assert_string_equal(json(0.1), "0.1");
    assert_string_equal(json(1.0 / 3.0), "0.3333333333333333");
    assert_string_equal(json(0.001234), "0.001234");
    assert_string_equal(json(1e-6), "0.000001");
    assert_string_equal(json(1.5e-7), "1.5e-7");
    assert_string_equal(json(1e20), "100000000000000000000.0");
    assert_string_equal(json(1e21), "1e21");
    assert_string_equal(json(1.234e33), "1.234e33");
    assert_string_equal(json(NAN), "null");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_format),
        cmocka_unit_test(test_fixed2),
        cmocka_unit_test(test_small_buffer_truncates),
        cmocka_unit_test(test_json_double),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
