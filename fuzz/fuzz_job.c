/*
 * fuzz_job: job_parse on arbitrary bytes.  A job it accepts must come
 * back unchanged through job_format and job_parse (every field), and
 * formatting it again must give the same bytes: what q writes, q (and
 * fsck) must read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_job: %s: ", #cond);             \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			abort();                                             \
		}                                                            \
	} while (0)

static int str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int strv_eq(const struct strv *a, const struct strv *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]))
			return 0;
	return 1;
}

/* Abort naming the first field of a and b that differs. */
static void same_job(const struct job *a, const struct job *b, const char *text)
{
#define FIELD(ok, name) CHECK(ok, "round trip changed '%s' of:\n%s", name, text)
	FIELD(!strcmp(a->id, b->id), "id");
	FIELD(a->type == b->type, "type");
	FIELD(str_eq(a->type_name, b->type_name), "type_name");
	FIELD(str_eq(a->args, b->args), "args");
	FIELD(a->max_interrupts == b->max_interrupts, "max_interrupts");
	FIELD(strv_eq(&a->env_dropped, &b->env_dropped), "env_dropped");
	FIELD(strv_eq(&a->argv, &b->argv), "argv");
	FIELD(str_eq(a->cwd, b->cwd), "cwd");
	FIELD(strv_eq(&a->env, &b->env), "env");
	FIELD(a->created_at == b->created_at, "created_at");
	FIELD(a->priority == b->priority, "priority");
	FIELD(a->max_attempts == b->max_attempts, "max_attempts");
	FIELD(a->backoff_ms == b->backoff_ms, "backoff_ms");
	FIELD(a->backoff_max_ms == b->backoff_max_ms, "backoff_max_ms");
	FIELD(a->timeout_ms == b->timeout_ms, "timeout_ms");
	FIELD(a->retry_timeout == b->retry_timeout, "retry_timeout");
	FIELD(a->run_at == b->run_at, "run_at");
	FIELD(a->deadline == b->deadline, "deadline");
	FIELD(strv_eq(&a->after, &b->after), "after");
	FIELD(str_eq(a->key, b->key), "key");
	FIELD(strv_eq(&a->secret_env, &b->secret_env), "secret_env");
#undef FIELD
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job a, b;
	struct buf out = BUF_INIT, out2 = BUF_INIT;
	char why[256];

	int r;

	why[0] = '\0';
	r = job_parse(&a, (const char *)data, size, why, sizeof(why));
	if (r < 0) {
		CHECK(why[0], "job_parse failed without a reason");
		CHECK(a.argv.n == 0 && !a.cwd && !a.key && !a.args && !a.type_name,
		      "job_parse failed but kept fields");
		return 0;
	}
	CHECK(r == 0 || r == JOB_FOREIGN, "job_parse returned %d", r);
	CHECK(id_valid(a.id), "invalid id");
	CHECK(a.type_name && a.type_name[0], "type name");
	if (r == JOB_FOREIGN) {
		/* Another q's job: read what can be read, run nothing. */
		CHECK(why[0], "a foreign job without a reason");
		CHECK(!a.type, "a foreign job with a known type");
		/* q never writes one: no round trip. */
		job_release(&a);
		return 0;
	} else {
		CHECK(a.type && !strcmp(a.type->name, a.type_name), "type");
		CHECK(a.type->run != RUN_EXEC || (a.argv.n > 0 && a.argv.v[a.argv.n] == NULL), "argv");
		CHECK(a.type->run == RUN_EXEC || a.args, "args");
	}
	/* What validation promises (spool-format.md, "Job file"). */
	CHECK(a.cwd && a.cwd[0] == '/', "cwd");
	CHECK(a.priority >= 0 && a.priority <= 9, "priority");
	CHECK(a.max_attempts >= 1 && a.max_interrupts >= 1, "max_attempts");
	CHECK(a.backoff_ms >= 0 && a.backoff_max_ms >= 0 && a.timeout_ms >= 0, "durations");
	CHECK(a.created_at >= 0, "created_at");
	for (int i = 0; i < a.after.n; i++)
		CHECK(id_valid(a.after.v[i]), "after");
	CHECK(!a.key || (a.key[0] && strlen(a.key) <= KEY_MAX), "key");
	for (int i = 0; i < a.env.n; i++)
		CHECK(strchr(a.env.v[i], '=') && a.env.v[i][0] != '=', "env entry");

	job_format(&a, &out);
	CHECK(out.len > 0 && out.s[out.len - 1] == '\n', "job_format output is not a line");
	CHECK(job_parse(&b, out.s, out.len, why, sizeof(why)) == 0,
	      "job_format output does not parse: %s:\n%s", why, out.s);
	same_job(&a, &b, out.s);
	job_format(&b, &out2);
	CHECK(out.len == out2.len && !memcmp(out.s, out2.s, out.len),
	      "formatting twice differs:\n%s%s", out.s, out2.s);
	job_release(&a);
	job_release(&b);
	buf_release(&out);
	buf_release(&out2);
	return 0;
}
