/* t_util.c: durations, RFC 3339 times, UTF-8 and integer parsing. */
#include <stdint.h>
#include <stdlib.h>

#include "util.h"

#include "tap.h"

#define T_2026 1795461600123LL /* 2026-11-23T19:20:00.123Z */

static void dur_ok(const char *s, int64_t want)
{
	int64_t ms = -42;

	if (is_int(duration_parse(s, &ms), 0, "duration_parse '%s' accepted", s))
		is_int(ms, want, "duration_parse '%s' = %lld ms", s, (long long)want);
}

static void dur_bad(const char *s)
{
	int64_t ms = -42;

	is_int(duration_parse(s, &ms), -1, "duration_parse '%s' rejected", s);
	is_int(ms, -42, "duration_parse '%s' leaves the output alone", s);
}

static void dur_fmt(int64_t ms, const char *want)
{
	char out[32];

	duration_format(ms, out, sizeof(out));
	is_str(out, want, "duration_format %lld", (long long)ms);
}

static void time_ok(const char *s, int64_t want)
{
	int64_t ms = -42;

	if (is_int(time_parse_rfc3339(s, &ms), 0, "time_parse_rfc3339 '%s' accepted", s))
		is_int(ms, want, "time_parse_rfc3339 '%s'", s);
}

static void time_bad(const char *s)
{
	int64_t ms = -42;

	is_int(time_parse_rfc3339(s, &ms), -1, "time_parse_rfc3339 '%s' rejected", s);
}

static void time_fmt(int64_t ms, const char *want)
{
	char out[TIME_LEN];
	int64_t back = -42;

	time_format(ms, out);
	is_str(out, want, "time_format %lld", (long long)ms);
	is_int(time_parse_rfc3339(out, &back), 0, "time_format %lld parses back", (long long)ms);
	is_int(back, ms, "time_format %lld round trip", (long long)ms);
}

static void utf8(const char *s, size_t n, int want, const char *desc)
{
	is_int(utf8_valid(s, n), want, "utf8_valid %s", desc);
}

static void int_ok(const char *s, long long min, long long max, long long want)
{
	long long v = -42;

	if (is_int(parse_int(s, min, max, &v), 0, "parse_int '%s' in [%lld, %lld]", s, min, max))
		is_int(v, want, "parse_int '%s' value", s);
}

static void int_bad(const char *s, long long min, long long max)
{
	long long v = -42;

	is_int(parse_int(s, min, max, &v), -1, "parse_int '%s' rejected in [%lld, %lld]", s, min,
	       max);
	is_int(v, -42, "parse_int '%s' leaves the output alone", s);
}

int main(void)
{
	/* Durations: a number with a unit, none meaning seconds. */
	dur_ok("0", 0);
	dur_ok("500ms", 500);
	dur_ok("1.5s", 1500);
	dur_ok("30", 30000);
	dur_ok("10m", 600000);
	dur_ok("1h", 3600000);
	dur_ok("2d", 172800000);
	dur_ok(".5s", 500);
	dur_ok("0.0004s", 0);
	dur_ok("0.0006s", 1);
	dur_ok("1000000000s", 1000000000000LL);
	dur_bad("");
	dur_bad("s");
	dur_bad("-1s");
	dur_bad("+1s");
	dur_bad(" 1s");
	dur_bad("1 s");
	dur_bad("1s ");
	dur_bad("1sec");
	dur_bad("1w");
	dur_bad("1.5.5s");
	dur_bad("1e400");
	dur_bad("nan");
	dur_bad("inf");
	dur_bad("100000000000000000000");
	dur_bad("36525.1d"); /* more than a century (DURATION_MAX_MS) */
	dur_ok("36525d", 3155760000000LL);

	dur_fmt(0, "0ms");
	dur_fmt(850, "850ms");
	dur_fmt(999, "999ms");
	dur_fmt(1000, "1.0s");
	dur_fmt(1200, "1.2s");
	dur_fmt(59000, "59.0s");
	dur_fmt(60000, "1m00s");
	dur_fmt(184000, "3m04s");
	dur_fmt(3599999, "1h00m"); /* rounds, never shows 60m */
	dur_fmt(3599499, "59m59s");
	dur_fmt(3600000, "1h00m");
	dur_fmt(7500000, "2h05m");
	dur_fmt(86400000, "1d00h");
	dur_fmt(273600000, "3d04h");
	dur_fmt(-5, "0ms");
	{
		char out[32];

		duration_format(59960, out, sizeof(out));
		ok(strcmp(out, "60.0s") != 0, "duration_format 59960 is not '60.0s' (got '%s')", out);
	}

	/* RFC 3339. */
	time_ok("2026-11-23T19:20:00.123Z", T_2026);
	time_ok("2026-11-23t19:20:00.123z", T_2026);
	time_ok("2026-11-23 19:20:00.123Z", T_2026);
	time_ok("2026-11-23T21:20:00.123+02:00", T_2026);
	time_ok("2026-11-23T13:50:00.123-05:30", T_2026);
	time_ok("2026-11-23T19:20:00Z", T_2026 - 123);
	time_ok("2026-11-23T19:20:00.1Z", T_2026 - 23);
	time_ok("2026-11-23T19:20:00.12Z", T_2026 - 3);
	time_ok("2026-11-23T19:20:00.123999Z", T_2026);
	time_ok("2026-11-23T19:20:00+00:00", T_2026 - 123);
	time_ok("2026-11-23T19:20:00-00:00", T_2026 - 123);
	time_ok("1970-01-01T00:00:00Z", 0);
	time_ok("2000-02-29T00:00:00Z", 951782400000LL);
	time_ok("9999-12-31T23:59:59.999Z", 253402300799999LL);
	time_bad("");
	time_bad("garbage");
	time_bad("2026-11-23");
	time_bad("2026-11-23T19:20");
	time_bad("2026-11-23T19:20:00");
	time_bad("2026-11-23T19:20:00.Z");
	time_bad("2026-11-23T19:20:00.123");
	time_bad("2026-11-23T19:20:00.123ZZ");
	time_bad("2026-11-23T19:20:00.123Z ");
	time_bad(" 2026-11-23T19:20:00.123Z");
	time_bad("2026-11-23T19:20:00+02");
	time_bad("2026-11-23T19:20:00+0200");
	time_bad("2026-11-23T19:20:00+24:00");
	time_bad("2026-11-23T19:20:00+02:60");
	time_bad("2026-13-23T19:20:00Z");
	time_bad("2026-00-23T19:20:00Z");
	time_bad("2026-11-00T19:20:00Z");
	time_bad("2026-11-32T19:20:00Z");
	time_bad("2026-11-23T24:00:00Z");
	time_bad("2026-11-23T19:60:00Z");
	time_bad("2026-11-23T19:20:61Z");
	time_bad("26-11-23T19:20:00Z");
	time_bad("2026/11/23T19:20:00Z");
	time_bad("2026-1-23T19:20:00Z");
	time_bad("2026-11-23X19:20:00Z");
	time_bad("+026-11-23T19:20:00Z");
	time_bad("2026-02-30T00:00:00Z");
	time_bad("2026-04-31T00:00:00Z");
	time_bad("2025-02-29T00:00:00Z");

	time_fmt(0, "1970-01-01T00:00:00.000Z");
	time_fmt(T_2026, "2026-11-23T19:20:00.123Z");
	time_fmt(951782400001LL, "2000-02-29T00:00:00.001Z");
	time_fmt(253402300799999LL, "9999-12-31T23:59:59.999Z");
	{
		char out[TIME_LEN];

		time_format(-1, out);
		is_str(out, "1970-01-01T00:00:00.000Z", "time_format of a negative time is the epoch");
	}

	/* User times: RFC 3339, @SECONDS, or the next HH:MM[:SS]. */
	{
		int64_t ms = -42, now = now_ms();
		static const char *const bad[] = { "", "@", "@-1", "@1.5", "@ 1", "@253402300800",
						   "24:00", "12:60", "12:30:60", "1230", "12:3",
						   "12:30:", "12:30 ", "noon", "2026-11-23" };

		is_int(time_parse_user("@0", &ms), 0, "time_parse_user @0");
		is_int(ms, 0, "@0 is the epoch");
		is_int(time_parse_user("@1795461600", &ms), 0, "time_parse_user @1795461600");
		is_int(ms, T_2026 - 123, "@1795461600");
		is_int(time_parse_user("2026-11-23T21:20:00.123+02:00", &ms), 0,
		       "time_parse_user RFC 3339");
		is_int(ms, T_2026, "time_parse_user RFC 3339 value");
		is_int(time_parse_user("23:59:59", &ms), 0, "time_parse_user 23:59:59");
		ok(ms > now && ms <= now + 86400000 + 3600000, "23:59:59 is within the next day");
		is_int(time_parse_user("00:00", &ms), 0, "time_parse_user 00:00");
		ok(ms > now && ms <= now + 86400000 + 3600000 && ms % 60000 == 0,
		   "00:00 is the next midnight");
		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
			is_int(time_parse_user(bad[i], &ms), -1, "time_parse_user rejects '%s'", bad[i]);
	}

	/* UTF-8. */
	utf8("", 0, 1, "empty");
	utf8("plain ascii", 11, 1, "ascii");
	utf8("caf\xc3\xa9", 5, 1, "2-byte e-acute");
	utf8("\xe2\x82\xac", 3, 1, "3-byte euro sign");
	utf8("\xf0\x9f\x98\x80", 4, 1, "4-byte emoji");
	utf8("\xf4\x8f\xbf\xbf", 4, 1, "U+10FFFF");
	utf8("\xef\xbf\xbf", 3, 1, "U+FFFF");
	utf8("\xed\x9f\xbf", 3, 1, "U+D7FF");
	utf8("\xee\x80\x80", 3, 1, "U+E000");
	utf8("a\0b", 3, 1, "NUL is valid UTF-8 (length given)");
	utf8("\x80", 1, 0, "lone continuation byte");
	utf8("\xbf", 1, 0, "lone 0xbf");
	utf8("\xc3", 1, 0, "truncated 2-byte sequence");
	utf8("\xe2\x82", 2, 0, "truncated 3-byte sequence");
	utf8("\xf0\x9f\x98", 3, 0, "truncated 4-byte sequence");
	utf8("caf\xc3\xa9", 4, 0, "sequence cut by the length");
	utf8("\xc0\x80", 2, 0, "overlong NUL (c0 80)");
	utf8("\xc1\xbf", 2, 0, "overlong c1");
	utf8("\xe0\x80\xaf", 3, 0, "overlong 3-byte slash");
	utf8("\xe0\x9f\xbf", 3, 0, "overlong 3-byte U+07FF");
	utf8("\xf0\x8f\xbf\xbf", 4, 0, "overlong 4-byte U+FFFF");
	utf8("\xed\xa0\x80", 3, 0, "surrogate U+D800");
	utf8("\xed\xbf\xbf", 3, 0, "surrogate U+DFFF");
	utf8("\xf4\x90\x80\x80", 4, 0, "U+110000");
	utf8("\xf5\x80\x80\x80", 4, 0, "lead byte f5");
	utf8("\xff", 1, 0, "byte ff");
	utf8("\xfe", 1, 0, "byte fe");
	utf8("\xc3\x28", 2, 0, "bad continuation");
	utf8("\xe2\x28\xa1", 3, 0, "bad second byte of 3");
	utf8("\xf0\x9f\x98\x28", 4, 0, "bad last byte of 4");

	/* Integers. */
	int_ok("0", 0, 10, 0);
	int_ok("10", 0, 10, 10);
	int_ok("-5", -10, 10, -5);
	int_ok("1000000000", 1, 1000000000, 1000000000);
	int_ok("9223372036854775807", INT64_MIN, INT64_MAX, INT64_MAX);
	int_ok("-9223372036854775808", INT64_MIN, INT64_MAX, INT64_MIN);
	int_bad("11", 0, 10);
	int_bad("-1", 0, 10);
	int_bad("0", 1, 10);
	int_bad("", 0, 10);
	int_bad(" 1", 0, 10);
	int_bad("1 ", 0, 10);
	int_bad("1x", 0, 10);
	int_bad("x", 0, 10);
	int_bad("1.0", 0, 10);
	int_bad("9223372036854775808", INT64_MIN, INT64_MAX);
	int_bad("-9223372036854775809", INT64_MIN, INT64_MAX);
	int_bad("99999999999999999999", 0, 10);

	return done_testing();
}
