/* common.c: what every command needs: options, spool, ids, output. */
#include "cmd.h"

#include <errno.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "ops.h"

int usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line: scripts and agents read the first line of stderr. */
	fprintf(stderr, "q: %s (see 'q help %s')\n", msg, cmd);
	return EXIT_USAGE;
}

int opt_next(int argc, char **argv, int *i, const struct opt *opts, const char **arg,
	     const char *cmd)
{
	const char *a;

	*arg = NULL;
	if (*i >= argc)
		return 0;
	a = argv[*i];
	if (a[0] != '-' || !a[1])
		return 0;
	if (!strcmp(a, "--")) {
		(*i)++;
		return 0;
	}
	for (const struct opt *o = opts; o->id; o++) {
		if (a[1] == '-' && o->name) {
			size_t n = strlen(o->name);

			if (strncmp(a + 2, o->name, n) || (a[2 + n] && a[2 + n] != '='))
				continue;
			if (a[2 + n] == '=') {
				if (!o->has_arg) {
					usage_error(cmd, "option '--%s' takes no value", o->name);
					return -1;
				}
				*arg = a + 3 + n;
			} else if (o->has_arg) {
				if (*i + 1 >= argc) {
					usage_error(cmd, "option '--%s' needs a value", o->name);
					return -1;
				}
				*arg = argv[++*i];
			}
			(*i)++;
			return o->id;
		}
		if (a[1] != '-' && o->letter && a[1] == o->letter) {
			if (o->has_arg) {
				if (a[2]) {
					*arg = a + 2;
				} else if (*i + 1 < argc) {
					*arg = argv[++*i];
				} else {
					usage_error(cmd, "option '-%c' needs a value", o->letter);
					return -1;
				}
			} else if (a[2]) {
				continue;
			}
			(*i)++;
			return o->id;
		}
	}
	usage_error(cmd, "unknown option '%s'", a);
	return -1;
}

int opt_mixed(int argc, char **argv, int *i, const struct opt *opts, const char **arg,
	      const char *cmd)
{
	if (*i >= argc)
		return 0;
	if (argv[*i][0] != '-' || !argv[*i][1]) {
		*arg = argv[(*i)++];
		return OPT_OPERAND;
	}
	if (!strcmp(argv[*i], "--")) {
		(*i)++;
		if (*i >= argc)
			return 0;
		*arg = argv[(*i)++];
		return OPT_OPERAND;
	}
	return opt_next(argc, argv, i, opts, arg, cmd);
}

int cmd_open(struct spool *sp, int create, int *missing)
{
	if (spool_open(sp, create, missing)) {
		spool_release(sp);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

int cmd_find(struct spool *sp, const char *arg, struct jobref *ref)
{
	char last[ID_LEN + 1];
	int r;

	if (!strcmp(arg, "@")) {
		r = spool_last_get(sp, last);
		if (r == SP_NOJOB)
			error("no job added in this session yet ('@' is the last id q add printed here)");
		if (r != SP_OK)
			return r == SP_NOJOB ? EXIT_NOJOB : EXIT_RUNTIME;
		arg = last;
	}
	if (!id_prefix_valid(arg)) {
		error("invalid job id '%s'", arg);
		return EXIT_USAGE;
	}
	r = spool_find(sp, arg, ref);
	if (r == SP_OK)
		return EXIT_OK;
	return r == SP_NOJOB ? EXIT_NOJOB : EXIT_RUNTIME;
}

int cmd_open_job(struct spool *sp, const char *arg, struct jobref *ref)
{
	int ret, missing;

	if (strcmp(arg, "@") && !id_prefix_valid(arg)) {
		error("invalid job id '%s'", arg);
		return EXIT_USAGE;
	}
	if ((ret = cmd_open(sp, 0, &missing)))
		return ret;
	if (missing) {
		spool_release(sp);
		error("no job '%s'", arg);
		return EXIT_NOJOB;
	}
	if ((ret = cmd_find(sp, arg, ref)))
		spool_release(sp);
	return ret;
}

int cmd_one_job(int argc, char **argv, const char *cmd, struct spool *sp, struct jobref *ref)
{
	if (argc != 2)
		return usage_error(cmd, argc < 2 ? "no job id given" : "too many arguments");
	if (argv[1][0] == '-')
		return usage_error(cmd, "unknown option '%s'", argv[1]);
	return cmd_open_job(sp, argv[1], ref);
}

void out_buf(const struct buf *b)
{
	if (b->len)
		fwrite(b->s, 1, b->len, stdout);
}

int state_select(const char *s)
{
	int st = state_parse(s), mask = 0;

	/* A state picks its directory; "pending", the status, all six waiting ones. */
	if (!strcmp(s, "pending"))
		return 1 << ST_PENDING | 1 << ST_DEFERRED | 1 << ST_WAITING | 1 << ST_HELD |
		       1 << ST_OFFERED | 1 << ST_FORWARDED;
	if (st >= 0)
		mask = 1 << st;
	return mask ? mask : -1;
}

int job_exit_status(enum state s)
{
	if (s == ST_DONE)
		return EXIT_OK;
	return state_final(s) ? EXIT_NO : EXIT_PENDING;
}

int exit_worse(int a, int b)
{
	/* Worst first: a runtime error, a usage error, no such job, not finished, no. */
	static const int rank[] = { [EXIT_OK] = 0, [EXIT_NO] = 1, [EXIT_PENDING] = 2,
				    [EXIT_FULL] = 3, [EXIT_NOJOB] = 4, [EXIT_USAGE] = 5,
				    [EXIT_RUNTIME] = 6 };

	return rank[a] >= rank[b] ? a : b;
}

int cmd_open_jobs(struct spool *sp, const struct strv *args, struct jobref **refs)
{
	int ret = EXIT_OK, missing;

	*refs = xcalloc(args->n ? args->n : 1, sizeof(**refs));
	for (int i = 0; i < args->n; i++)
		if (strcmp(args->v[i], "@") && !id_prefix_valid(args->v[i])) {
			error("invalid job id '%s'", args->v[i]);
			return EXIT_USAGE;
		}
	if ((ret = cmd_open(sp, 0, &missing)))
		return ret;
	if (missing) {
		spool_release(sp);
		error("no job '%s'", args->v[0]);
		return EXIT_NOJOB;
	}
	for (int i = 0; i < args->n && !ret; i++)
		ret = cmd_find(sp, args->v[i], &(*refs)[i]);
	if (ret)
		spool_release(sp);
	return ret;
}

int op_status(int r)
{
	switch (r) {
	case OP_OK: return EXIT_OK;
	case OP_NOJOB: return EXIT_NOJOB;
	case OP_REFUSED: return EXIT_NO;
	case OP_FULL: return EXIT_FULL;
	default: return EXIT_RUNTIME;
	}
}

struct logs {
	struct spool *sp;
	const struct jobref *refs;
	int n, shown;
	const char *ext;
	off_t *off;
	struct buf b;
};

/* Print what job k's file holds past where we were: -1 error, else bytes. */
static long drain(struct logs *l, int k)
{
	long total = 0;

	do {
		buf_reset(&l->b);
		if (op_read(l->sp, l->refs[k].id, l->ext, &l->off[k], &l->b, 1 << 20))
			return -1;
		if (l->b.len && l->n > 1 && l->shown != k) {
			printf("%s==> %s <==\n", l->shown >= 0 ? "\n" : "", l->refs[k].id);
			l->shown = k;
		}
		if (l->b.len && fwrite(l->b.s, 1, l->b.len, stdout) != l->b.len)
			return -1;
		total += l->b.len;
	} while (l->b.len == 1 << 20);
	return total;
}

int print_logs(struct spool *sp, const struct jobref *refs, int n, const char *ext, int follow)
{
	struct logs l = { sp, refs, n, -1, ext, xcalloc(n, sizeof(off_t)), BUF_INIT };
	char *done = xcalloc(n, 1);
	int ret = EXIT_OK, left = n;

	/*
	 * Each job's file from where we were, in turn.  Following: until every
	 * job is final or gone (removed by gc), with one more read after that
	 * for what came with the end.  Several jobs: a "==> ID <==" line when
	 * the output switches to another, as tail does.
	 */
	while (left) {
		long got = 0;

		for (int k = 0; k < n; k++) {
			long r;
			struct jobref ref;
			int where = SP_OK, ended = 0;

			if (done[k])
				continue;
			if (follow) {
				where = spool_locate(sp, refs[k].id, &ref);
				if (where == SP_ERR) {
					ret = EXIT_RUNTIME;
					goto out;
				}
				ended = where == SP_NOJOB || state_final(ref.state);
			}
			r = drain(&l, k);
			if (r < 0) {
				ret = EXIT_RUNTIME;
				goto out;
			}
			got += r;
			if (!follow || ended) {
				done[k] = 1;
				left--;
			}
		}
		if (left && !got) {
			fflush(stdout);
			sleep_ms(100);
		}
	}
out:
	free(l.off);
	free(done);
	buf_release(&l.b);
	return ret;
}

int cmd_id_printed(struct spool *sp, const struct job *job, enum state initial)
{
	int e, w;

	if (!fflush(stdout) && !ferror(stdout))
		return EXIT_OK;
	/* Nobody learnt the id: a job nobody knows of must not run. */
	e = errno;
	w = spool_withdraw(sp, job, initial);
	errno = e;
	if (w == 0)
		error_errno("cannot write the job id to standard output; job not queued");
	else
		error_errno("cannot write the job id to standard output; job %s was queued", job->id);
	/* Said; main need not say it again. */
	__fpurge(stdout);
	clearerr(stdout);
	return EXIT_RUNTIME;
}
