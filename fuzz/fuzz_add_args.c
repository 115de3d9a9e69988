/*
 * fuzz_add_args: the command line of `q add`.  The input is split on NUL
 * bytes into argv (after argv[0] = "add") and parsed the way cmd_add
 * parses it: opt_next (src/cmd/common.c) with add's option table, then
 * each option's value parser.  Checked besides the sanitizers:
 *
 *  - opt_next only moves forward, stays inside argv, returns an id of
 *    the table, 0 or -1, and gives a value exactly to options that
 *    take one;
 *  - the value parsers return what their headers promise, and a time
 *    they accept (--at, --in, --deadline) survives time_format and
 *    time_parse_rfc3339, as job_format and job_parse will need;
 *  - utf8_valid agrees with a second, independent decoder.
 *
 * The option table is add's own (add_options, src/cmd/add.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "config.h"
#include "job.h"
#include "util.h"

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(real_stderr, "fuzz_add_args: %s: ", #cond);   \
			fprintf(real_stderr, __VA_ARGS__);                   \
			fputc('\n', real_stderr);                            \
			abort();                                             \
		}                                                            \
	} while (0)

/*
 * The command table lives in src/q.c, which is not linked here; cmd.h
 * declares it for common code that looks a command up.  add is all we
 * need.
 */
const struct cmd commands[] = {
	{ "add", NULL, "q add [OPTIONS] [--] CMD [ARG...]", "queue a command" },
	{ NULL, NULL, NULL, NULL },
};

#define opts add_options

#define MAX_ARGS 256

static FILE *real_stderr;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Usage errors go to stdio's stderr; sanitizers write to fd 2. */
	real_stderr = stderr;
	stderr = fopen("/dev/null", "w");
	if (!stderr)
		stderr = real_stderr;
	error_hook = NULL;
	return 0;
}

/* A second UTF-8 decoder, written from RFC 3629's table. */
static int utf8_ref(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c <= 0x7f) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
		} else if (c == 0xe0) {
			len = 3, lo = 0xa0;
		} else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
			len = 3;
		} else if (c == 0xed) {
			len = 3, hi = 0x9f;
		} else if (c == 0xf0) {
			len = 4, lo = 0x90;
		} else if (c >= 0xf1 && c <= 0xf3) {
			len = 4;
		} else if (c == 0xf4) {
			len = 4, hi = 0x8f;
		} else {
			return 0;
		}
		if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k < len; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return 0;
		i += len;
	}
	return 1;
}

/* A time an option produced must be writable to a job file and back. */
static void time_survives(int64_t ms, const char *what, const char *arg)
{
	char t[TIME_LEN];
	int64_t back = -1;

	if (ms < 0)
		return; /* stored as null: none */
	time_format(ms, t);
	CHECK(time_parse_rfc3339(t, &back) == 0 && back == ms,
	      "%s '%s' gives %lld ms, written as '%s', which reads back as %lld", what, arg,
	      (long long)ms, t, (long long)back);
}

/* Every parser add uses, on one string, whatever option it came with. */
static void parsers(const char *s, int64_t now)
{
	int64_t ms = -7, base = -7, max = -7;
	int p;

	p = priority_parse(s);
	CHECK(p == -1 || (p >= 0 && p <= 9), "priority_parse '%s' = %d", s, p);
	if (duration_parse(s, &ms) == 0) {
		CHECK(ms >= 0 && ms <= 1000000000000000LL, "duration_parse '%s' = %lld", s,
		      (long long)ms);
		time_survives(now + ms, "--in", s);
	}
	ms = -7;
	if (time_parse_user(s, &ms) == 0)
		time_survives(ms, "--at", s);
	if (backoff_parse(s, &base, &max) == 0) {
		CHECK(base >= 0, "backoff_parse '%s' base %lld", s, (long long)base);
		CHECK(!strchr(s, ':') || (max >= base), "backoff_parse '%s' max below base", s);
	}
	if (id_prefix_valid(s)) {
		size_t n = strlen(s);

		CHECK(n >= 1 && n <= ID_LEN && strspn(s, "0123456789abcdefghjkmnpqrstvwxyz") == n,
		      "id_prefix_valid '%s'", s);
		CHECK(id_valid(s) == (n == ID_LEN), "id_valid '%s'", s);
	}
	CHECK(utf8_valid(s, strlen(s)) == utf8_ref((const unsigned char *)s, strlen(s)),
	      "utf8_valid disagrees on '%s'", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *argv[MAX_ARGS + 2];
	int argc = 0, i = 1, id, prev;
	const char *arg;
	int64_t now = now_ms();

	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[argc++] = "add";
	for (size_t k = 0; argc < MAX_ARGS + 1;) {
		argv[argc++] = copy + k;
		k += strlen(copy + k) + 1;
		if (k > size)
			break;
	}
	argv[argc] = NULL;

	for (;;) {
		prev = i;
		id = opt_next(argc, argv, &i, opts, &arg, "add");
		CHECK(id >= -1 && id < A_LAST, "opt_next returned %d", id);
		CHECK(i >= prev && i <= argc, "opt_next moved from %d to %d of %d", prev, i, argc);
		if (id <= 0)
			break;
		CHECK(i > prev, "option %d did not move past its argument", id);
		{
			const struct opt *o = opts;

			while (o->id != id)
				o++;
			CHECK(o->has_arg ? arg != NULL : arg == NULL, "value of option '%s'", o->name);
			if (arg) {
				int inside = 0;

				for (int k = prev; k < i; k++)
					inside |= arg >= argv[k] && arg <= argv[k] + strlen(argv[k]);
				CHECK(inside, "the value of '%s' is not in its arguments", o->name);
			}
		}
		switch (id) {
		case A_PRIO:
		case A_ATTEMPTS:
		case A_BACKOFF:
		case A_TIMEOUT:
		case A_AT:
		case A_IN:
		case A_DEADLINE:
		case A_AFTER:
		case A_KEY:
		case A_SECRET:
			parsers(arg, now);
			break;
		}
		if (id == A_ATTEMPTS) {
			long long n = -1;

			if (parse_int(arg, 1, 1000000, &n) == 0)
				CHECK(n >= 1 && n <= 1000000, "attempts %lld", n);
		}
	}
	if (id == 0)
		CHECK(i == argc || argv[i][0] != '-' || !argv[i][1] || !strcmp(argv[i - 1], "--"),
		      "opt_next stopped at '%s', which is an option", argv[i]);
	/* The operands, and every other argument, through the parsers too. */
	for (int k = 1; k < argc; k++)
		parsers(argv[k], now);
	free(copy);
	return 0;
}
