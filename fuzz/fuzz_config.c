/*
 * fuzz_config: config_parse on an arbitrary settings file.  Its
 * contract (config.h): return 0, or -1 after printing exactly the first
 * error, as "NAME:LINE: why" with LINE inside the file; settings that
 * parse are in range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_config: %s: ", #cond);          \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			abort();                                             \
		}                                                            \
	} while (0)

static int nerrors;
static char first_error[1024];

static void swallow(const char *msg)
{
	if (!nerrors++)
		snprintf(first_error, sizeof(first_error), "%s", msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	int r, lines = 1;
	long line;
	char *end;

	error_hook = swallow;
	nerrors = 0;
	first_error[0] = '\0';
	config_defaults(&c);
	r = config_parse(&c, (const char *)data, size, "q.conf");
	CHECK(r == 0 || r == -1, "returned %d", r);
	if (r == 0) {
		CHECK(nerrors == 0, "success with a message: %s", first_error);
		CHECK(c.mode == MODE_ASYNC || c.mode == MODE_SYNC || c.mode == MODE_MANUAL, "mode %d",
		      c.mode);
		CHECK(c.attempts >= 1 && c.worker_max >= 1 && c.worker_jobs >= 1, "positive settings");
		CHECK(c.max_pending >= 0, "max_pending");
		CHECK(c.backoff_ms >= 0 && c.backoff_max_ms >= 0 && c.timeout_ms >= 0 &&
			      c.kill_grace_ms >= 0 && c.linger_ms >= 0 && c.idle_ms >= 0 &&
			      c.gc_completed_ms >= 0 && c.gc_failed_ms >= 0 && c.gc_interval_ms >= 0,
		      "durations");
		return 0;
	}
	CHECK(nerrors == 1, "%d messages for one failure, the first: %s", nerrors, first_error);
	CHECK(!strncmp(first_error, "q.conf:", 7), "message without its place: %s", first_error);
	line = strtol(first_error + 7, &end, 10);
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	CHECK(end > first_error + 7 && *end == ':' && line >= 1 && line <= lines,
	      "line number outside the file (%d lines): %s", lines, first_error);
	return 0;
}
