/*
 * q watch: the spool as it changes.
 *
 * On a terminal: a view in the alternate screen, redrawn in place (no
 * scrollback), with what runs (progress bars), what runs next, what is
 * scheduled and when, and recent failures; q (or Ctrl-C) quits, and a
 * resize redraws.  Otherwise, or with --events: every event of every
 * job as it is appended to its log (and every progress report), read
 * through inotify, so nothing that starts and ends between two looks is
 * missed: --events prints each as a JSON line with the job's "id"
 * added, plain output as one line for people.  NO_COLOR turns colour
 * off.
 */
#include "cmd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "json.h"

#define RECENT 5
#define NEXT 8

enum { O_EVENTS = 1, O_LABEL };

static const struct opt opts[] = {
	{ "events", 0, 0, O_EVENTS },
	{ "label", 'l', 1, O_LABEL },
	{ NULL, 0, 0, 0 },
};

/* ------------------------------------------------------------- stream */

/* A log file being followed: logs/B/NAME, read up to off. */
struct tail {
	char bucket[BUCKET_LEN + 1];
	char name[ID_LEN + 16];
	off_t off;
};

struct stream {
	struct spool *sp;
	int json;
	const char *label;
	int ino, logs_wd;
	struct tail *t;
	int nt, cap;
	struct { int wd; char bucket[BUCKET_LEN + 1]; } *wds;
	int nwds;
	struct buf out;
};

static struct tail *tail_find(struct stream *s, const char *bucket, const char *name, int add)
{
	for (int i = 0; i < s->nt; i++)
		if (!strcmp(s->t[i].name, name) && !strcmp(s->t[i].bucket, bucket))
			return &s->t[i];
	if (!add)
		return NULL;
	if (s->nt == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->t = xrealloc(s->t, s->cap * sizeof(*s->t));
	}
	memset(&s->t[s->nt], 0, sizeof(s->t[0]));
	snprintf(s->t[s->nt].bucket, sizeof(s->t[0].bucket), "%s", bucket);
	snprintf(s->t[s->nt].name, sizeof(s->t[0].name), "%s", name);
	return &s->t[s->nt++];
}

/* Is NAME a file we follow (ID.events or ID.progress)?  Its id into id. */
static int followed(const char *name, char id[ID_LEN + 1])
{
	const char *dot = strchr(name, '.');

	if (!dot || dot - name != ID_LEN || (strcmp(dot, ".events") && strcmp(dot, ".progress")))
		return 0;
	memcpy(id, name, ID_LEN);
	id[ID_LEN] = '\0';
	return id_valid(id);
}

/* Does job id carry the label we watch for? */
static int wanted(struct stream *s, const char *id)
{
	struct jobref ref;
	struct job job;
	int has;

	if (!s->label)
		return 1;
	if (spool_locate(s->sp, id, &ref) != SP_OK || spool_load(s->sp, &ref, &job, NULL))
		return 0;
	has = job_has_label(&job, s->label);
	job_release(&job);
	return has;
}

/* One line of a log, as JSON (the id added) or for people. */
static void emit(struct stream *s, const char *id, const char *line, size_t n, int progress)
{
	struct json j;
	const char *why;

	if (json_parse(&j, line, n, &why) || j.tok[0].type != JSON_OBJECT)
		return; /* a torn line: skipped, as every reader does */
	if (s->json) {
		/* The object's members after ours (a job writes its progress lines). */
		const struct json_tok *o = &j.tok[0];

		buf_addf(&s->out, "{\"id\":\"%s\"", id);
		if (progress)
			buf_adds(&s->out, ",\"event\":\"progress\"");
		if (o->size > 0) {
			buf_addc(&s->out, ',');
			buf_add(&s->out, line + o->start + 1, o->end - o->start - 2);
		}
		buf_adds(&s->out, "}\n");
	} else {
		char *at = NULL, *ev = NULL, *msg = NULL, *err = NULL;
		int64_t pct = -1, code = -1;
		int t;

		if ((t = json_get(&j, 0, "at")) >= 0)
			json_string(&j, t, &at);
		if ((t = json_get(&j, 0, "event")) >= 0)
			json_string(&j, t, &ev);
		if ((t = json_get(&j, 0, "pct")) >= 0)
			json_int(&j, t, &pct);
		if ((t = json_get(&j, 0, "message")) >= 0 && !json_is_null(&j, t))
			json_string(&j, t, &msg);
		if ((t = json_get(&j, 0, "error")) >= 0 && !json_is_null(&j, t))
			json_string(&j, t, &err);
		if ((t = json_get(&j, 0, "exit_code")) >= 0 && !json_is_null(&j, t))
			json_int(&j, t, &code);
		buf_addf(&s->out, "%.19s %s %s", at ? at : "?", id, progress ? "progress" : ev ? ev : "?");
		if (pct >= 0)
			buf_addf(&s->out, " %lld%%", (long long)pct);
		if (code >= 0)
			buf_addf(&s->out, " exit %lld", (long long)code);
		if (err) {
			buf_addc(&s->out, ' ');
			buf_add_visible(&s->out, err, strlen(err));
		}
		if (msg) {
			buf_addc(&s->out, ' ');
			buf_add_visible(&s->out, msg, strlen(msg));
		}
		buf_addc(&s->out, '\n');
		free(at);
		free(ev);
		free(msg);
		free(err);
	}
	json_release(&j);
}

/* Read what was appended to logs/B/NAME since we last did; print its lines. */
static void drain_file(struct stream *s, const char *bucket, const char *name, int new_file)
{
	char id[ID_LEN + 1], path[BUCKET_LEN + ID_LEN + 24];
	struct tail *t;
	struct buf b = BUF_INIT;
	struct stat st;
	int fd, progress;

	if (!followed(name, id))
		return;
	t = tail_find(s, bucket, name, 1);
	if (new_file)
		t->off = 0;
	snprintf(path, sizeof(path), "%s/%s", bucket, name);
	fd = f_openat(s->sp->logsfd, path, O_RDONLY, 0);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return;
	}
	/* A progress file starts over past its cap: read it from the top. */
	if (st.st_size < t->off)
		t->off = 0;
	progress = strstr(name, ".progress") != NULL;
	if (st.st_size > t->off && wanted(s, id)) {
		buf_grow(&b, st.st_size - t->off);
		if (pread(fd, b.s, st.st_size - t->off, t->off) == st.st_size - t->off) {
			const char *p = b.s, *e = b.s + (st.st_size - t->off);

			/* Whole lines only: the rest is still being written. */
			for (const char *nl; p < e && (nl = memchr(p, '\n', e - p)); p = nl + 1)
				if (nl > p)
					emit(s, id, p, nl - p, progress);
			t->off += p - b.s;
		}
	} else if (st.st_size > t->off) {
		t->off = st.st_size;
	}
	close(fd);
	buf_release(&b);
}

/* Watch logs/B; note where each of its files ends now (initial) or read them. */
static int watch_bucket(struct stream *s, const char *bucket, int initial)
{
	char path[PATH_MAX];
	int d, wd, known = 0;

	for (int i = 0; i < s->nwds; i++)
		known |= !strcmp(s->wds[i].bucket, bucket);

	snprintf(path, sizeof(path), "%s/logs/%s", s->sp->path, bucket);
	wd = inotify_add_watch(s->ino, path, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
	if (wd < 0)
		return -1;
	if (!known) {
		s->wds = xrealloc(s->wds, (s->nwds + 1) * sizeof(*s->wds));
		s->wds[s->nwds].wd = wd;
		snprintf(s->wds[s->nwds].bucket, sizeof(s->wds[0].bucket), "%s", bucket);
		s->nwds++;
	}
	d = f_openat(s->sp->logsfd, bucket, O_RDONLY | O_DIRECTORY, 0);
	if (d < 0)
		return 0;
	{
		int fd = dup(d);
		DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;
		char id[ID_LEN + 1];

		while (dir && (de = readdir(dir))) {
			struct stat st;

			if (!followed(de->d_name, id))
				continue;
			if (initial) {
				/* From now on: what is there already was before we looked. */
				if (!fstatat(d, de->d_name, &st, AT_SYMLINK_NOFOLLOW))
					tail_find(s, bucket, de->d_name, 1)->off = st.st_size;
			} else {
				drain_file(s, bucket, de->d_name, 0);
			}
		}
		if (dir)
			closedir(dir);
		else if (fd >= 0)
			close(fd);
	}
	close(d);
	return 0;
}

static const char *bucket_of(struct stream *s, int wd)
{
	for (int i = 0; i < s->nwds; i++)
		if (s->wds[i].wd == wd)
			return s->wds[i].bucket;
	return NULL;
}

/* Set up: watch logs/ and every bucket in it.  -1 after a message. */
static int stream_open(struct stream *s)
{
	char path[PATH_MAX];
	int fd;
	DIR *dir;
	struct dirent *de;

	s->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	snprintf(path, sizeof(path), "%s/logs", s->sp->path);
	if (s->ino < 0 || (mkdir(path, 0700) && errno != EEXIST) ||
	    (s->sp->logsfd < 0 && (s->sp->logsfd = f_openat(s->sp->fd, "logs", O_RDONLY | O_DIRECTORY, 0)) < 0) ||
	    (s->logs_wd = inotify_add_watch(s->ino, path, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)) < 0)
		return error_errno("cannot watch '%s'", path);
	fd = dup(s->sp->logsfd);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	while (dir && (de = readdir(dir)))
		if (strlen(de->d_name) == BUCKET_LEN && de->d_name[0] != '.')
			watch_bucket(s, de->d_name, 1);
	if (dir)
		closedir(dir);
	return 0;
}

/* Wait for changes (at most ms; -1 forever) and print the new lines. */
static int stream_step(struct stream *s, int ms, int extra_fd)
{
	struct pollfd p[2] = { { s->ino, POLLIN, 0 }, { extra_fd, POLLIN, 0 } };
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	int r = poll(p, extra_fd >= 0 ? 2 : 1, ms);

	if (r <= 0 || !(p[0].revents & POLLIN))
		return r;
	while ((n = read(s->ino, buf, sizeof(buf))) > 0) {
		for (char *q = buf; q < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)q;

			if (e->mask & IN_Q_OVERFLOW) {
				/* Events were dropped: the files still hold them, read them all. */
				for (int i = 0; i < s->nt; i++)
					drain_file(s, s->t[i].bucket, s->t[i].name, 0);
				for (int i = 0; i < s->nwds; i++)
					watch_bucket(s, s->wds[i].bucket, 0);
			} else if (e->wd == s->logs_wd && e->len && strlen(e->name) == BUCKET_LEN) {
				/* A new bucket: its files are new, read from their start. */
				watch_bucket(s, e->name, 0);
			} else if (e->len) {
				const char *b = bucket_of(s, e->wd);

				if (b)
					drain_file(s, b, e->name, (e->mask & IN_CREATE) != 0);
			}
			q += sizeof(*e) + e->len;
		}
	}
	return 1;
}

static int run_stream(struct spool *sp, int json, const char *label)
{
	struct stream s = { sp, json, label, -1, -1, NULL, 0, 0, NULL, 0, BUF_INIT };
	int ret = EXIT_OK;

	if (stream_open(&s)) {
		ret = EXIT_RUNTIME;
		goto out;
	}
	for (;;) {
		if (stream_step(&s, -1, -1) < 0 && errno != EINTR) {
			error_errno("cannot wait for changes");
			ret = EXIT_RUNTIME;
			break;
		}
		out_buf(&s.out);
		buf_reset(&s.out);
		if (fflush(stdout) || ferror(stdout))
			break; /* the reader went away */
	}
out:
	if (s.ino >= 0)
		close(s.ino);
	free(s.t);
	free(s.wds);
	buf_release(&s.out);
	return ret;
}

/* ----------------------------------------------------------- the view */

struct view_ctx {
	struct spool *sp;
	struct buf b;
	int color, width, height, lines;
	const char *label;
	int64_t now;
	struct view failed[RECENT];
	int nfailed;
	struct view next[NEXT];
	int nnext, npending;
	struct view due[NEXT];
	int ndue;
};

static const char *col(struct view_ctx *w, const char *code)
{
	return w->color ? code : "";
}

/* A line of the view, cut at the screen's width (escapes do not count). */
static void line(struct view_ctx *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct view_ctx *w, const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	size_t visible = 0, i;

	if (w->lines >= w->height - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (i = 0; text[i] && visible < (size_t)w->width; i++) {
		if (text[i] == '\033') {
			while (text[i] && text[i] != 'm')
				buf_addc(&w->b, text[i++]);
			if (text[i])
				buf_addc(&w->b, 'm');
			continue;
		}
		buf_addc(&w->b, text[i]);
		if (((unsigned char)text[i] & 0xc0) != 0x80)
			visible++;
	}
	buf_adds(&w->b, col(w, "\033[0m"));
	buf_adds(&w->b, "\033[K\n");
	w->lines++;
}

static int keep(struct view_ctx *w, const struct view *v)
{
	return !w->label || job_has_label(&v->job, w->label);
}

static void bar(char *out, size_t n, int pct)
{
	int width = 20, fill = pct < 0 ? 0 : pct * width / 100;

	for (int i = 0; i < width && (size_t)i + 1 < n; i++)
		out[i] = i < fill ? '#' : '.';
	out[width < (int)n ? width : (int)n - 1] = '\0';
}

static int running_fn(struct spool *sp, const struct jobref *ref, void *data)
{
	struct view_ctx *w = data;
	struct view v;
	struct buf d = BUF_INIT;
	char el[32], b[32];
	const struct attempt *a;

	if (view_load(sp, ref, &v) != SP_OK)
		return 0;
	if (keep(w, &v)) {
		a = jobstate_last(&v.st);
		duration_format(a ? w->now - a->started_at : 0, el, sizeof(el));
		bar(b, sizeof(b), v.st.progress_pct);
		job_describe(&d, &v.job, w->width > 70 ? w->width - 56 : 14);
		if (v.st.progress_pct >= 0)
			line(w, " %s %s[%s]%s %3d%% %7s  %s", v.job.id, col(w, "\033[32m"), b,
			     col(w, "\033[0m"), v.st.progress_pct, el, d.s);
		else
			line(w, " %s [%s]   - %7s  %s", v.job.id, b, el, d.s);
		if (v.st.progress_msg) {
			buf_reset(&d);
			buf_add_visible(&d, v.st.progress_msg, strlen(v.st.progress_msg));
			line(w, "   %s%s", col(w, "\033[2m"), d.s);
		}
	}
	buf_release(&d);
	view_release(&v);
	return 0;
}

/* Keep the first NEXT of pending/ (name order: the order they run in). */
static int next_fn(struct spool *sp, const struct jobref *ref, void *data)
{
	struct view_ctx *w = data;

	w->npending++;
	if (w->nnext < NEXT && view_load(sp, ref, &w->next[w->nnext]) == SP_OK) {
		if (keep(w, &w->next[w->nnext]))
			w->nnext++;
		else
			view_release(&w->next[w->nnext]);
	}
	return 0;
}

/* Keep the NEXT deferred jobs due soonest. */
static int due_fn(struct spool *sp, const struct jobref *ref, void *data)
{
	struct view_ctx *w = data;
	struct view v;
	int at;

	if (view_load(sp, ref, &v) != SP_OK)
		return 0;
	if (!keep(w, &v)) {
		view_release(&v);
		return 0;
	}
	for (at = w->ndue; at > 0 && w->due[at - 1].due > v.due; at--)
		;
	if (at >= NEXT) {
		view_release(&v);
		return 0;
	}
	if (w->ndue == NEXT)
		view_release(&w->due[--w->ndue]);
	memmove(&w->due[at + 1], &w->due[at], (w->ndue - at) * sizeof(w->due[0]));
	w->due[at] = v;
	w->ndue++;
	return 0;
}

/* Keep the most recent failures (by id, which sorts by creation). */
static int failed_fn(struct spool *sp, const struct jobref *ref, void *data)
{
	struct view_ctx *w = data;

	if (w->nfailed == RECENT) {
		view_release(&w->failed[0]);
		memmove(&w->failed[0], &w->failed[1], (RECENT - 1) * sizeof(w->failed[0]));
		w->nfailed--;
	}
	if (view_load(sp, ref, &w->failed[w->nfailed]) == SP_OK) {
		if (keep(w, &w->failed[w->nfailed]))
			w->nfailed++;
		else
			view_release(&w->failed[w->nfailed]);
	}
	return 0;
}

static void draw(struct view_ctx *w)
{
	struct spool *sp = w->sp;
	long n[ST_NSTATES];
	char t[TIME_LEN];
	struct buf d = BUF_INIT;
	long waiter;

	w->now = now_ms();
	w->lines = 0;
	if (spool_count(sp, n))
		return;
	time_format(w->now, t);
	waiter = spool_waiter(sp);
	/* Home, then every line overwritten and cleared to its end: no flicker, no scrollback. */
	buf_adds(&w->b, "\033[H");
	line(w, "%sq watch%s  %.19s%s%s  (q quits)", col(w, "\033[1m"), col(w, "\033[0m"), t,
	     spool_paused(sp) ? "  paused" : "", w->label ? "  label " : "");
	line(w, "%ld running, %ld pending (%ld deferred, %ld waiting, %ld held), %ld completed, "
		"%ld failed, %ld cancelled, %ld expired",
	     n[ST_RUNNING], n[ST_PENDING] + n[ST_DEFERRED] + n[ST_WAITING] + n[ST_HELD],
	     n[ST_DEFERRED], n[ST_WAITING], n[ST_HELD], n[ST_DONE], n[ST_FAILED], n[ST_CANCELLED],
	     n[ST_EXPIRED]);
	line(w, "%s", "");
	line(w, "%sRunning%s", col(w, "\033[1m"), col(w, "\033[0m"));
	if (!n[ST_RUNNING])
		line(w, " (none)");
	spool_each(sp, ST_RUNNING, 1, running_fn, w);

	w->nnext = w->npending = 0;
	spool_each(sp, ST_PENDING, 1, next_fn, w);
	if (w->nnext) {
		line(w, "%s", "");
		line(w, "%sNext%s (%ld runnable)", col(w, "\033[1m"), col(w, "\033[0m"), n[ST_PENDING]);
		for (int i = 0; i < w->nnext; i++) {
			buf_reset(&d);
			job_describe(&d, &w->next[i].job, w->width > 40 ? w->width - 22 : 14);
			line(w, " %s  %s", w->next[i].job.id, d.s);
			view_release(&w->next[i]);
		}
	}
	w->ndue = 0;
	spool_each(sp, ST_DEFERRED, 0, due_fn, w);
	if (w->ndue) {
		line(w, "%s", "");
		line(w, "%sScheduled%s (%s)", col(w, "\033[1m"), col(w, "\033[0m"),
		     waiter ? "a worker waits for them" : "no worker waits: a timer or a q add starts one");
		for (int i = 0; i < w->ndue; i++) {
			char in[32];

			duration_format(w->due[i].due > w->now ? w->due[i].due - w->now : 0, in, sizeof(in));
			buf_reset(&d);
			job_describe(&d, &w->due[i].job, w->width > 50 ? w->width - 34 : 14);
			line(w, " %s  in %-7s %s", w->due[i].job.id, in, d.s);
			view_release(&w->due[i]);
		}
	}
	w->nfailed = 0;
	spool_each(sp, ST_FAILED, 1, failed_fn, w);
	if (w->nfailed) {
		line(w, "%s", "");
		line(w, "%sRecent failures%s", col(w, "\033[1m"), col(w, "\033[0m"));
		for (int i = w->nfailed - 1; i >= 0; i--) {
			struct view *v = &w->failed[i];
			const struct attempt *a = jobstate_last(&v->st);
			char ago[32], why[32];

			duration_format(w->now - v->st.verdict_at, ago, sizeof(ago));
			if (a && a->signal)
				snprintf(why, sizeof(why), "signal %d", a->signal);
			else if (v->st.verdict_error[0] && strcmp(v->st.verdict_error, "nonzero_exit"))
				snprintf(why, sizeof(why), "%.20s", v->st.verdict_error);
			else
				snprintf(why, sizeof(why), "exit %d", a ? a->exit_code : -1);
			buf_reset(&d);
			job_describe(&d, &v->job, w->width > 60 ? w->width - 48 : 12);
			line(w, " %s %s%-10s%s %7s ago  %s", v->job.id, col(w, "\033[31m"), why,
			     col(w, "\033[0m"), ago, d.s);
			view_release(v);
		}
	}
	/* Clear what an earlier, longer screen left below. */
	buf_adds(&w->b, "\033[J");
	buf_release(&d);
}

static volatile sig_atomic_t resized, stopping;

static void on_winch(int sig)
{
	resized = 1;
}

static void on_stop(int sig)
{
	stopping = 1;
}

static int run_view(struct spool *sp, const char *label)
{
	struct view_ctx w;
	struct termios saved, raw;
	struct stream s = { sp, 0, label, -1, -1, NULL, 0, 0, NULL, 0, BUF_INIT };
	int tty_in = isatty(0) && !tcgetattr(0, &saved), ret = EXIT_OK;
	struct sigaction sa;

	memset(&w, 0, sizeof(w));
	w.sp = sp;
	w.width = 80;
	w.height = 24;
	w.label = label;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	w.color = !getenv("NO_COLOR") || !*getenv("NO_COLOR");
	if (tty_in) {
		/* Keys without Enter, not echoed: q quits. */
		raw = saved;
		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(0, TCSANOW, &raw);
	}
	/* The alternate screen, the cursor hidden: the scrollback stays as it was. */
	fputs("\033[?1049h\033[?25l", stdout);
	/* Changes to any log wake the view at once; otherwise it redraws each second. */
	if (stream_open(&s))
		s.ino = -1;
	resized = 1;
	while (!stopping) {
		struct winsize ws;
		char c;

		if (resized && !ioctl(1, TIOCGWINSZ, &ws) && ws.ws_col > 20 && ws.ws_row > 4) {
			w.width = ws.ws_col;
			w.height = ws.ws_row;
			resized = 0;
		}
		buf_reset(&w.b);
		draw(&w);
		out_buf(&w.b);
		if (fflush(stdout) || ferror(stdout))
			break;
		if (s.ino >= 0)
			stream_step(&s, 1000, tty_in ? 0 : -1);
		else {
			struct pollfd p = { 0, POLLIN, 0 };

			poll(&p, tty_in ? 1 : 0, 1000);
		}
		buf_reset(&s.out); /* the view shows state, not the lines */
		if (tty_in && read(0, &c, 1) == 1 && (c == 'q' || c == 'Q' || c == 3))
			break;
	}
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (tty_in)
		tcsetattr(0, TCSANOW, &saved);
	if (s.ino >= 0)
		close(s.ino);
	free(s.t);
	free(s.wds);
	buf_release(&s.out);
	buf_release(&w.b);
	return ret;
}

int cmd_watch(int argc, char **argv)
{
	struct spool sp;
	int i = 1, id, ret, missing, events = 0;
	const char *arg, *label = NULL;

	while ((id = opt_next(argc, argv, &i, opts, &arg, "watch")) > 0) {
		if (id == O_EVENTS)
			events = 1;
		else
			label = arg;
	}
	if (id < 0)
		return EXIT_USAGE;
	if (i < argc)
		return usage_error("watch", "unexpected argument '%s'", argv[i]);
	if ((ret = cmd_open(&sp, 1, &missing)))
		return ret;
	if (events || !isatty(1))
		ret = run_stream(&sp, events, label);
	else
		ret = run_view(&sp, label);
	spool_release(&sp);
	return ret;
}
