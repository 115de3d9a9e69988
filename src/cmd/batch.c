/*
 * q add --batch: many jobs from standard input, one JSON array of
 * strings (an argv) per line, with one group commit per chunk: each job
 * file is written and synced, all are linked, the directory is synced
 * once, and only then are their ids printed, in input order.
 */
#include "cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "json.h"
#include "ops.h"

/* Jobs made durable together: bounds the ids held back before printing. */
#define BATCH_CHUNK 1000
#define BATCH_MAX_INPUT (256 << 20)

/* Parse one line into argv; -1 with why. */
static int parse_argv(const char *line, size_t n, struct strv *argv, const char **why)
{
	struct json j;
	int c;

	if (json_parse(&j, line, n, why))
		return -1;
	if (j.tok[0].type != JSON_ARRAY || !j.tok[0].size || j.tok[0].size > JOB_MAX_ARGS) {
		json_release(&j);
		*why = "not a non-empty JSON array of strings";
		return -1;
	}
	c = 1;
	for (int i = 0; i < j.tok[0].size; i++, c++) {
		char *s;

		if (json_string(&j, c, &s)) {
			json_release(&j);
			strv_clear(argv);
			*why = "not a non-empty JSON array of strings";
			return -1;
		}
		strv_push(argv, s);
		free(s);
	}
	json_release(&j);
	return 0;
}

int add_batch(struct spool *sp, struct job *job, int hold, int json)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct strv *lines = NULL;
	int nlines = 0, ret = EXIT_OK, line = 0;
	const char *p, *e;
	enum state initial = ST_PENDING;

	if (f_read_all(0, BATCH_MAX_INPUT, &in)) {
		if (errno == EFBIG)
			error("standard input is larger than %d MiB", BATCH_MAX_INPUT >> 20);
		else
			error_errno("cannot read standard input");
		buf_release(&in);
		return EXIT_RUNTIME;
	}
	/* Every line is checked before anything is queued: a bad one queues nothing. */
	for (p = in.s ? in.s : "", e = p + in.len; p < e;) {
		const char *nl = memchr(p, '\n', e - p), *end = nl ? nl : e;
		const char *why;

		line++;
		while (end > p && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end > p) {
			lines = xrealloc(lines, (nlines + 1) * sizeof(*lines));
			lines[nlines] = (struct strv){ NULL, 0 };
			if (parse_argv(p, end - p, &lines[nlines], &why)) {
				error("standard input, line %d: %s; nothing was queued", line, why);
				ret = EXIT_USAGE;
				goto out;
			}
			nlines++;
		}
		p = nl ? nl + 1 : e;
	}
	if (!nlines) {
		error("standard input holds no job (want one JSON array of strings per line)");
		ret = EXIT_USAGE;
		goto out;
	}
	for (int k = 0, queued = 0; k < nlines; k += BATCH_CHUNK) {
		int end = k + BATCH_CHUNK < nlines ? k + BATCH_CHUNK : nlines, r = 0, done;
		struct spool_batch b;

		spool_batch_init(&b);
		for (int i = k; i < end && !r; i++) {
			strv_clear(&job->argv);
			job->argv = lines[i];
			lines[i] = (struct strv){ NULL, 0 };
			op_prepare(sp, job, hold, &initial);
			r = spool_batch_add(sp, &b, job, initial);
		}
		/* Durable first, then said: the ids of this chunk, in input order. */
		done = spool_batch_commit(sp, &b);
		buf_reset(&out);
		for (int i = 0; i < done; i++)
			if (json)
				buf_addf(&out, "{\"id\":\"%s\",\"duplicate\":false}\n", b.v[i].ref.id);
			else
				buf_addf(&out, "%s\n", b.v[i].ref.id);
		queued += done > 0 ? done : 0;
		if (done > 0 && spool_last_set(sp, b.v[done - 1].ref.id))
			warning("cannot record the last job for '@': %s", strerror(errno));
		out_buf(&out);
		if (fflush(stdout) || ferror(stdout)) {
			error_errno("cannot write to standard output");
			r = SP_ERR;
		}
		if (done < b.n)
			r = r ? r : SP_ERR;
		spool_batch_release(sp, &b);
		if (r) {
			error("%d of %d jobs queued (their ids are printed)", queued, nlines);
			ret = r == SP_FULL ? EXIT_FULL : EXIT_RUNTIME;
			goto out;
		}
	}
out:
	for (int i = 0; i < nlines; i++)
		strv_clear(&lines[i]);
	free(lines);
	buf_release(&in);
	buf_release(&out);
	return ret;
}
