/* common.c: what every command needs: options, spool, ids, output. */
#include "cmd.h"

#include <errno.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdio.h>
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
	int r;

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

	if (!id_prefix_valid(arg)) {
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

int status_parse(const char *s)
{
	static const char *const names[] = { "pending", "running", "completed", "failed", "cancelled",
					     "expired" };

	for (int i = 0; i < 6; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

int job_exit_status(enum state s)
{
	if (s == ST_DONE)
		return EXIT_OK;
	return state_final(s) ? EXIT_NO : EXIT_PENDING;
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

int print_log(struct spool *sp, const char *id, const char *ext, int follow)
{
	struct buf b = BUF_INIT;
	off_t off = 0;
	int ret = EXIT_OK, last = 0;

	for (;;) {
		struct jobref ref;
		int r;

		buf_reset(&b);
		if (op_read(sp, id, ext, &off, &b, 1 << 20)) {
			ret = EXIT_RUNTIME;
			break;
		}
		if (b.len && fwrite(b.s, 1, b.len, stdout) != b.len) {
			ret = EXIT_RUNTIME;
			break;
		}
		if (b.len == 1 << 20)
			continue; /* more to come at once */
		if (!follow || last)
			break;
		fflush(stdout);
		r = spool_locate(sp, id, &ref);
		if (r == SP_ERR) {
			ret = EXIT_RUNTIME;
			break;
		}
		/* Final, or gone (removed by gc): one more read for what came with the end. */
		if (r == SP_NOJOB || state_final(ref.state)) {
			last = 1;
			continue;
		}
		{
			struct timespec ts = { 0, 100 * 1000000 };

			nanosleep(&ts, NULL);
		}
	}
	buf_release(&b);
	return ret;
}
