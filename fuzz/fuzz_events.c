/*
 * fuzz_events: jobstate_fold on an arbitrary event log.  Besides the
 * sanitizers' checks:
 *
 *  - the state stays in range (attempts between 0 and the history
 *    length, a known verdict, a valid UTF-8 progress message);
 *  - folding the log in two pieces cut after any newline gives the
 *    same state as folding it whole (readers that follow a log fold
 *    what was appended since they last looked);
 *  - whatever follows the last newline changes nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_events: %s: ", #cond);          \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			abort();                                             \
		}                                                            \
	} while (0)

static void same_state(const struct jobstate *a, const struct jobstate *b, const char *how)
{
	CHECK(a->attempts == b->attempts, "%s: attempts %d vs %d", how, a->attempts, b->attempts);
	CHECK(a->tempfails == b->tempfails, "%s: tempfails", how);
	CHECK(a->nhist == b->nhist, "%s: nhist %d vs %d", how, a->nhist, b->nhist);
	for (int i = 0; i < a->nhist; i++) {
		const struct attempt *x = &a->hist[i], *y = &b->hist[i];

		CHECK(x->started_at == y->started_at && x->finished_at == y->finished_at &&
			      x->pid == y->pid && x->exit_code == y->exit_code &&
			      x->signal == y->signal && x->output_size == y->output_size &&
			      !strcmp(x->error, y->error),
		      "%s: attempt %d", how, i);
	}
	CHECK(a->verdict == b->verdict && a->verdict_at == b->verdict_at &&
		      !strcmp(a->verdict_error, b->verdict_error),
	      "%s: verdict", how);
	CHECK(a->deferred_until == b->deferred_until, "%s: deferred_until", how);
	CHECK(a->progress_pct == b->progress_pct && a->progress_at == b->progress_at, "%s: progress",
	      how);
	CHECK((!a->progress_msg && !b->progress_msg) ||
		      (a->progress_msg && b->progress_msg && !strcmp(a->progress_msg, b->progress_msg)),
	      "%s: progress message", how);
	CHECK(a->held == b->held, "%s: held", how);
}

static void sane(const struct jobstate *st)
{
	CHECK(st->nhist >= 0 && (st->nhist == 0) == (st->hist == NULL), "history");
	CHECK(st->attempts >= 0 && st->attempts <= st->nhist,
	      "attempts %d with %d starts since the last retry", st->attempts, st->nhist);
	CHECK(st->tempfails >= 0 && st->tempfails <= st->nhist, "tempfails %d", st->tempfails);
	CHECK(st->verdict >= V_NONE && st->verdict <= V_EXPIRED, "verdict %d", st->verdict);
	CHECK(memchr(st->verdict_error, '\0', sizeof(st->verdict_error)) != NULL, "verdict_error");
	CHECK(!st->progress_msg || utf8_valid(st->progress_msg, strlen(st->progress_msg)),
	      "progress message");
	for (int i = 0; i < st->nhist; i++)
		CHECK(memchr(st->hist[i].error, '\0', sizeof(st->hist[i].error)) != NULL, "error");
	if (st->verdict != V_NONE)
		CHECK(strcmp(verdict_status(st->verdict), "none") &&
			      verdict_parse(verdict_status(st->verdict)) == st->verdict,
		      "verdict name");
	if (st->nhist)
		CHECK(jobstate_last(st) == &st->hist[st->nhist - 1], "jobstate_last");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *last_nl = size ? memrchr(text, '\n', size) : NULL;
	struct jobstate whole, part;

	jobstate_init(&whole);
	jobstate_fold(&whole, text, size);
	sane(&whole);

	/* The unterminated tail changes nothing. */
	jobstate_init(&part);
	jobstate_fold(&part, text, last_nl ? (size_t)(last_nl - text + 1) : 0);
	same_state(&whole, &part, "without the unterminated tail");
	jobstate_release(&part);

	/* Cut after the first newline and in the middle. */
	for (int k = 0; k < 2; k++) {
		const char *cut = memchr(text + (k ? size / 2 : 0), '\n', size - (k ? size / 2 : 0));
		size_t n = cut ? (size_t)(cut - text + 1) : 0;

		if (!cut)
			continue;
		jobstate_init(&part);
		jobstate_fold(&part, text, n);
		sane(&part);
		jobstate_fold(&part, text + n, size - n);
		same_state(&whole, &part, k ? "cut near the middle" : "cut after the first line");
		jobstate_release(&part);
	}
	jobstate_release(&whole);
	return 0;
}
