/*
 * q watch: a live view of the spool.  On a terminal it redraws in place
 * (running jobs with progress bars and elapsed time, counts, recent
 * failures); otherwise it prints a line whenever a job's status or
 * progress changes.  NO_COLOR turns colour off.
 */
#include "cmd.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define RECENT 5

struct seen {
	char id[ID_LEN + 1];
	int state, pct;
};

struct watch {
	struct buf b;
	int tty, color, width;
	int64_t now;
	struct view failed[RECENT];
	int nfailed;
	struct seen *seen;
	int nseen, cap;
	struct seen *prev;
	int nprev;
};

static const char *col(struct watch *w, const char *code)
{
	return w->color ? code : "";
}

static void bar(struct watch *w, int pct)
{
	int n = 20, fill = pct < 0 ? 0 : pct * n / 100;

	buf_addc(&w->b, '[');
	buf_adds(&w->b, col(w, "\033[32m"));
	for (int i = 0; i < n; i++)
		buf_adds(&w->b, i < fill ? "#" : ".");
	buf_adds(&w->b, col(w, "\033[0m"));
	buf_addc(&w->b, ']');
}

static int running_fn(struct spool *sp, const struct jobref *ref, void *data)
{
	struct watch *w = data;
	struct view v;
	char el[32];
	const struct attempt *a;

	if (view_load(sp, ref, &v) != SP_OK)
		return 0;
	a = jobstate_last(&v.st);
	duration_format(a ? w->now - a->started_at : 0, el, sizeof(el));
	buf_addf(&w->b, " %s ", v.job.id);
	bar(w, v.st.progress_pct);
	if (v.st.progress_pct >= 0)
		buf_addf(&w->b, " %3d%%", v.st.progress_pct);
	else
		buf_adds(&w->b, "   - ");
	buf_addf(&w->b, " %7s  ", el);
	job_describe(&w->b, &v.job, w->width > 70 ? w->width - 66 : 10);
	if (v.st.progress_msg)
		buf_addf(&w->b, "  %s%.40s%s", col(w, "\033[2m"), v.st.progress_msg, col(w, "\033[0m"));
	buf_addc(&w->b, '\n');
	view_release(&v);
	return 0;
}

/* Keep the most recent failures (by id, which sorts by creation). */
static int failed_fn(struct spool *sp, const struct jobref *ref, void *data)
{
	struct watch *w = data;

	if (w->nfailed == RECENT) {
		view_release(&w->failed[0]);
		memmove(&w->failed[0], &w->failed[1], (RECENT - 1) * sizeof(w->failed[0]));
		w->nfailed--;
	}
	if (view_load(sp, ref, &w->failed[w->nfailed]) == SP_OK)
		w->nfailed++;
	return 0;
}

static void draw(struct spool *sp, struct watch *w)
{
	long n[ST_NSTATES];
	char t[TIME_LEN];

	w->now = now_ms();
	if (spool_count(sp, n))
		return;
	time_format(w->now, t);
	buf_adds(&w->b, "\033[H\033[2J");
	buf_addf(&w->b, "%sq watch%s  %s  %.19s%s\n", col(w, "\033[1m"), col(w, "\033[0m"), sp->path,
		 t, spool_paused(sp) ? "  (paused)" : "");
	buf_addf(&w->b, "%ld pending, %ld running, %ld completed, %ld failed, %ld cancelled, %ld expired\n\n",
		 n[ST_PENDING] + n[ST_DEFERRED] + n[ST_WAITING] + n[ST_HELD], n[ST_RUNNING], n[ST_DONE],
		 n[ST_FAILED], n[ST_CANCELLED], n[ST_EXPIRED]);
	buf_addf(&w->b, "%sRunning%s\n", col(w, "\033[1m"), col(w, "\033[0m"));
	if (!n[ST_RUNNING])
		buf_adds(&w->b, " (none)\n");
	spool_each(sp, ST_RUNNING, 1, running_fn, w);
	w->nfailed = 0;
	spool_each(sp, ST_FAILED, 1, failed_fn, w);
	if (w->nfailed) {
		buf_addf(&w->b, "\n%sRecent failures%s\n", col(w, "\033[1m"), col(w, "\033[0m"));
		for (int i = w->nfailed - 1; i >= 0; i--) {
			struct view *v = &w->failed[i];
			const struct attempt *a = jobstate_last(&v->st);
			char ago[32];

			duration_format(w->now - v->st.verdict_at, ago, sizeof(ago));
			buf_addf(&w->b, " %s %s", v->job.id, col(w, "\033[31m"));
			if (a && a->signal)
				buf_addf(&w->b, "signal %-3d", a->signal);
			else if (v->st.verdict_error[0] && strcmp(v->st.verdict_error, "nonzero_exit"))
				buf_addf(&w->b, "%-10s", v->st.verdict_error);
			else
				buf_addf(&w->b, "exit %-5d", a ? a->exit_code : -1);
			buf_addf(&w->b, "%s %7s ago  ", col(w, "\033[0m"), ago);
			job_describe(&w->b, &v->job, w->width > 60 ? w->width - 50 : 10);
			buf_addc(&w->b, '\n');
			view_release(v);
		}
	}
}

/* Plain mode: one line per job whose status or progress changed. */
static int plain_fn(struct spool *sp, const struct jobref *ref, void *data)
{
	struct watch *w = data;
	struct seen s;
	int changed = 1;

	memcpy(s.id, ref->id, sizeof(s.id));
	s.state = ref->state;
	s.pct = -1;
	if (ref->state == ST_RUNNING) {
		struct jobstate st;

		if (spool_load_events(sp, ref->id, &st) == 0 &&
		    spool_progress_load(sp, ref->id, &st) == 0) {
			s.pct = st.progress_pct;
			jobstate_release(&st);
		}
	}
	for (int i = 0; i < w->nprev; i++)
		if (!strcmp(w->prev[i].id, s.id)) {
			changed = w->prev[i].state != s.state || w->prev[i].pct != s.pct;
			break;
		}
	if (w->nseen == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 256;
		w->seen = xrealloc(w->seen, w->cap * sizeof(*w->seen));
	}
	w->seen[w->nseen++] = s;
	if (changed && w->prev) {
		char t[TIME_LEN];

		time_format(now_ms(), t);
		buf_addf(&w->b, "%.19s %s %s", t, s.id, state_status(s.state));
		if (s.pct >= 0)
			buf_addf(&w->b, " %d%%", s.pct);
		buf_addc(&w->b, '\n');
	}
	return 0;
}

static void plain(struct spool *sp, struct watch *w)
{
	w->nseen = 0;
	for (int s = 0; s < ST_NSTATES; s++)
		if (s != ST_DONE && s != ST_FAILED && s != ST_CANCELLED && s != ST_EXPIRED)
			spool_each(sp, s, 0, plain_fn, w);
	/* Jobs that left the live states: report where they went. */
	for (int i = 0; i < w->nprev; i++) {
		int found = 0;
		struct jobref ref;

		for (int j = 0; j < w->nseen && !found; j++)
			found = !strcmp(w->seen[j].id, w->prev[i].id);
		if (!found && spool_locate(sp, w->prev[i].id, &ref) == SP_OK) {
			char t[TIME_LEN];

			time_format(now_ms(), t);
			buf_addf(&w->b, "%.19s %s %s\n", t, ref.id, state_status(ref.state));
		}
	}
	free(w->prev);
	w->prev = w->seen ? w->seen : xmalloc(1);
	w->nprev = w->nseen;
	w->seen = NULL;
	w->cap = w->nseen = 0;
}

int cmd_watch(int argc, char **argv)
{
	struct spool sp;
	struct watch w;
	int ret, missing;

	if (argc > 1)
		return usage_error("watch", argv[1][0] == '-' ? "unknown option '%s'"
							      : "unexpected argument '%s'", argv[1]);
	if ((ret = cmd_open(&sp, 1, &missing)))
		return ret;
	memset(&w, 0, sizeof(w));
	w.tty = isatty(1);
	w.color = w.tty && !getenv("NO_COLOR");
	w.width = 80;
	for (;;) {
		struct timespec ts = { 0, 500 * 1000000 };
		struct winsize ws;

		if (w.tty && !ioctl(1, TIOCGWINSZ, &ws) && ws.ws_col > 20)
			w.width = ws.ws_col;
		buf_reset(&w.b);
		if (w.tty)
			draw(&sp, &w);
		else
			plain(&sp, &w);
		out_buf(&w.b);
		if (fflush(stdout) || ferror(stdout))
			break; /* the reader went away */
		nanosleep(&ts, NULL);
	}
	buf_release(&w.b);
	spool_release(&sp);
	return EXIT_OK;
}
