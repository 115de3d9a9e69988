/*
 * log.c: the files of a job besides its job file (logs/B/ID.EXT): the
 * event log, the output, progress reports and the result; and the
 * spool's own log of notes (spool.log).  See spool.h.
 */
#include "spool/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"

/* The logs/B directory of id, kept open for the next file of the same bucket. */
static int bucket(struct spool *sp, const char *id, int create)
{
	if (sp->lbfd >= 0 && !memcmp(sp->lbname, id, BUCKET_LEN))
		return sp->lbfd;
	if (sp->lbfd >= 0)
		close(sp->lbfd);
	sp->lbfd = logs_bucket(sp, id, create);
	if (sp->lbfd >= 0)
		memcpy(sp->lbname, id, BUCKET_LEN);
	return sp->lbfd;
}

int spool_open_log(struct spool *sp, const char *id, const char *ext, int flags)
{
	int d = bucket(sp, id, (flags & O_CREAT) != 0), fd;
	char name[ID_LEN + 16];
	struct stat st;

	if (d < 0)
		return -1;
	snprintf(name, sizeof(name), "%s.%s", id, ext);
	fd = f_openat(d, name, flags, 0600);
	if (fd < 0) {
		if (errno != ENOENT || (flags & O_CREAT))
			error_errno("cannot open 'logs/%.*s/%s'", BUCKET_LEN, id, name);
		return -1;
	}
	/*
	 * O_NONBLOCK (file.c) kept a FIFO from hanging us; refuse it, and a
	 * file others could have written.  (A job may create its progress
	 * file itself, with its own umask: readable by others is fine.)
	 */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022)) {
		close(fd);
		errno = EPERM;
		return error("refusing 'logs/%.*s/%s': not a regular file of ours that only we "
			     "can write", BUCKET_LEN, id, name);
	}
	return fd;
}

/* ------------------------------------------------------------ events */

int event_append(int fd, const struct buf *line, int sync)
{
	struct stat st;
	char last = '\n';
	struct buf b = BUF_INIT;
	int ret = 0;

	if (line->len > EVENT_MAX_LINE) {
		errno = E2BIG;
		return -1;
	}
	/*
	 * A line torn by a full disk lacks its newline: start ours on a new
	 * line so that only the torn one is lost, never glued to ours.
	 */
	if (fstat(fd, &st))
		return -1;
	if (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
		return -1;
	if (last != '\n') {
		buf_addc(&b, '\n');
		buf_add(&b, line->s, line->len);
		line = &b;
	}
	/* One write(2) with O_APPEND: readers never see two lines interleaved. */
	if (f_write_all(fd, line->s, line->len) || (sync && f_fdatasync(fd)))
		ret = -1;
	buf_release(&b);
	return ret;
}

int spool_event(struct spool *sp, const char *id, struct buf *line, int sync)
{
	int fd = spool_open_log(sp, id, "events", O_RDWR | O_APPEND | O_CREAT), ret = 0;

	if (fd < 0)
		return -1;
	if (event_append(fd, line, sync))
		ret = error_errno("cannot write 'logs/%.*s/%s.events'", BUCKET_LEN, id, id);
	close(fd);
	return ret;
}

int spool_event_simple(struct spool *sp, const char *id, const char *ev, const char *key,
		       const char *val, int sync)
{
	struct buf b = BUF_INIT;
	struct jw w;
	int r;

	event_begin(&w, &b, ev);
	if (key) {
		jw_key(&w, key);
		jw_str(&w, val);
	}
	event_end(&w);
	r = spool_event(sp, id, &b, sync);
	buf_release(&b);
	return r;
}

int spool_fold_events_fd(int fd, const char *id, struct jobstate *st, off_t *size)
{
	struct buf b = BUF_INIT;

	jobstate_init(st);
	if (lseek(fd, 0, SEEK_SET) < 0 || f_read_all(fd, EVENTS_MAX_SIZE, &b)) {
		int e = errno;

		buf_release(&b);
		errno = e;
		if (e == EFBIG)
			return error("event log of job '%s' is larger than %d MiB", id,
				     EVENTS_MAX_SIZE >> 20);
		return error_errno("cannot read 'logs/%.*s/%s.events'", BUCKET_LEN, id, id);
	}
	if (size)
		*size = jobstate_fold(st, b.s ? b.s : "", b.len);
	else
		jobstate_fold(st, b.s ? b.s : "", b.len);
	buf_release(&b);
	return 0;
}

int spool_load_events(struct spool *sp, const char *id, struct jobstate *st)
{
	int fd = spool_open_log(sp, id, "events", O_RDONLY), r;

	jobstate_init(st);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	r = spool_fold_events_fd(fd, id, st, NULL);
	close(fd);
	return r;
}

int log_replace(int d, const char *id, const char *ext, const struct buf *text)
{
	char name[ID_LEN + 16], tmp[ID_LEN + 40];
	int fd, ret = -1;

	snprintf(name, sizeof(name), "%s.%s", id, ext);
	snprintf(tmp, sizeof(tmp), "%s.%s.%ld", id, ext, (long)getpid());
	/* Named by our pid: one left there is a dead process's, gone now. */
	fd = f_openat(d, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return error_errno("cannot create 'logs/%.*s/%s'", BUCKET_LEN, id, tmp);
	if (f_write_all(fd, text->s ? text->s : "", text->len) || f_fsync(fd) ||
	    f_rename(d, tmp, d, name, 0)) {
		error_errno("cannot write 'logs/%.*s/%s'", BUCKET_LEN, id, name);
		f_unlinkat(d, tmp, 0);
	} else {
		ret = 0;
	}
	close(fd);
	return ret;
}

int spool_events_rewrite(struct spool *sp, const char *id)
{
	int d = bucket(sp, id, 0), in = spool_open_log(sp, id, "events", O_RDONLY), ret = -1;
	struct buf b = BUF_INIT, keep = BUF_INIT;
	const char *p, *e;

	if (d < 0 || in < 0)
		return -1;
	if (f_read_all(in, EVENTS_MAX_SIZE, &b)) {
		error_errno("cannot read 'logs/%.*s/%s.events'", BUCKET_LEN, id, id);
		goto out;
	}
	/* Keep every line that is a JSON object; a last line without its newline is torn too. */
	for (p = b.s ? b.s : "", e = p + b.len; p < e;) {
		const char *nl = memchr(p, '\n', e - p);
		struct json j;
		const char *why;

		if (!nl)
			break;
		if (nl > p && !json_parse(&j, p, nl - p, &why)) {
			if (j.tok[0].type == JSON_OBJECT)
				buf_add(&keep, p, nl - p + 1);
			json_release(&j);
		}
		p = nl + 1;
	}
	if (log_replace(d, id, "events", &keep))
		goto out;
	if (f_fsync(d)) {
		error_errno("cannot sync 'logs/%.*s'", BUCKET_LEN, id);
		goto out;
	}
	ret = 0;
out:
	if (in >= 0)
		close(in);
	buf_release(&b);
	buf_release(&keep);
	return ret;
}

/* ---------------------------------------------------------- progress */

/* The last complete line of at most the last max bytes of fd, or NULL. */
static char *last_line(int fd, size_t max)
{
	struct stat st;
	char *buf, *end, *start;
	off_t from;
	ssize_t n;

	if (fstat(fd, &st) || st.st_size <= 0)
		return NULL;
	from = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
	buf = xmalloc(max + 1);
	n = pread(fd, buf, max, from);
	if (n <= 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	end = memrchr(buf, '\n', n);
	if (!end) {
		free(buf);
		return NULL;
	}
	*end = '\0';
	start = memrchr(buf, '\n', end - buf);
	start = start ? start + 1 : (from ? NULL : buf);
	if (!start) {
		free(buf);
		return NULL;
	}
	memmove(buf, start, end - start + 1);
	return buf;
}

int spool_progress_write(struct spool *sp, const char *id, int pct, const char *msg)
{
	int fd = spool_open_log(sp, id, "progress", O_RDWR | O_APPEND | O_CREAT), ret = 0;
	struct buf b = BUF_INIT;
	struct stat st;
	struct jw w;

	if (fd < 0)
		return -1;
	/* Only the last report counts: start over rather than grow without end. */
	if (!fstat(fd, &st) && st.st_size > PROGRESS_MAX_SIZE && ftruncate(fd, 0))
		ret = error_errno("cannot truncate 'logs/%.*s/%s.progress'", BUCKET_LEN, id, id);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "at");
	jw_time(&w, now_ms());
	jw_key(&w, "pct");
	if (pct >= 0)
		jw_int(&w, pct);
	else
		jw_null(&w); /* no percentage: a prompt's session reports what it does */
	jw_key(&w, "message");
	jw_str(&w, msg);
	jw_obj_end(&w);
	buf_addc(&b, '\n');
	if (!ret && f_write_all(fd, b.s, b.len))
		ret = error_errno("cannot write 'logs/%.*s/%s.progress'", BUCKET_LEN, id, id);
	buf_release(&b);
	close(fd);
	return ret;
}

int spool_progress_load(struct spool *sp, const char *id, struct jobstate *st)
{
	int fd = spool_open_log(sp, id, "progress", O_RDONLY), t;
	char *line;
	struct json j;
	const char *why;
	int64_t at = -1, pct = -1;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	line = last_line(fd, PROGRESS_LINE_MAX);
	close(fd);
	if (!line)
		return 0;
	if (!json_parse(&j, line, strlen(line), &why) && j.tok[0].type == JSON_OBJECT) {
		char *s = NULL;

		if ((t = json_get(&j, 0, "at")) >= 0 && !json_string(&j, t, &s))
			if (time_parse_rfc3339(s, &at))
				at = -1;
		free(s);
		s = NULL;
		int nopct = (t = json_get(&j, 0, "pct")) >= 0 && json_is_null(&j, t);

		if (t >= 0 && !nopct && (json_int(&j, t, &pct) || pct < 0 || pct > 100))
			pct = -1;
		/* A report newer than any in the event log (older q) wins. */
		if ((pct >= 0 || nopct) && at >= 0 && at >= st->progress_at) {
			st->progress_pct = (int)pct;
			st->progress_at = at;
			free(st->progress_msg);
			st->progress_msg = NULL;
			if ((t = json_get(&j, 0, "message")) >= 0 && !json_is_null(&j, t) &&
			    json_string(&j, t, &st->progress_msg))
				st->progress_msg = NULL;
		}
		json_release(&j);
	}
	free(line);
	return 0;
}

/* ------------------------------------------------------------ result */

int spool_result_load(struct spool *sp, const char *id, struct buf *out)
{
	int fd = spool_open_log(sp, id, "result", O_RDONLY), r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (f_read_all(fd, RESULT_MAX_SIZE, out)) {
		r = error_errno("cannot read 'logs/%.*s/%s.result'", BUCKET_LEN, id, id);
		buf_reset(out);
	}
	close(fd);
	return r;
}

const char *spool_result_staging(struct spool *sp, const char *id, struct buf *path)
{
	buf_reset(path);
	buf_addf(path, "%s/tmp/%s.result", sp->path, id);
	return path->s;
}

/*
 * Read the staged result the job left (tmp/ID.result): a regular file
 * of ours, at most RESULT_MAX_SIZE bytes of JSON.  0 with the text in
 * out (empty: no result), or -1 with why (the file is removed).
 */
int spool_result_take(struct spool *sp, const char *id, struct buf *out, char *why, size_t n)
{
	int td = TMP_FD(sp), fd, r = -1;
	char name[ID_LEN + 16];
	struct stat st;
	struct json j;
	const char *jwhy;

	buf_reset(out);
	if (td < 0)
		return snprintf(why, n, "cannot open 'tmp'"), -1;
	snprintf(name, sizeof(name), "%s.result", id);
	fd = f_openat(td, name, O_RDONLY, 0);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, n, "cannot open it: %s", strerror(errno));
		f_unlinkat(td, name, 0);
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(why, n, "not a regular file of ours");
	} else if (st.st_size > RESULT_MAX_SIZE) {
		snprintf(why, n, "larger than %d bytes (%lld)", RESULT_MAX_SIZE, (long long)st.st_size);
	} else if (f_read_all(fd, RESULT_MAX_SIZE, out)) {
		snprintf(why, n, errno == EFBIG ? "larger than %d bytes" : "cannot read it",
			 RESULT_MAX_SIZE);
	} else if (out->len && json_parse(&j, out->s, out->len, &jwhy)) {
		snprintf(why, n, "not JSON: %s", jwhy);
	} else {
		if (out->len)
			json_release(&j);
		r = 0;
	}
	close(fd);
	f_unlinkat(td, name, 0);
	if (r)
		buf_reset(out);
	return r;
}

int spool_result_store(struct spool *sp, const char *id, const struct buf *text)
{
	int d = bucket(sp, id, 1), fd = -1, ret = -1;
	char name[ID_LEN + 16];

	if (d < 0)
		return -1;
	/* An unnamed file, synced, then given its name: never half written. */
	fd = f_tmpfile(d, 0600);
	if (fd < 0) {
		error_errno("cannot create a file in 'logs/%.*s'", BUCKET_LEN, id);
		goto out;
	}
	snprintf(name, sizeof(name), "%s.result", id);
	if (f_write_all(fd, text->s, text->len) || f_fsync(fd)) {
		error_errno("cannot write the result of job '%s'", id);
		goto out;
	}
	if (f_unlinkat(d, name, 0) && errno != ENOENT) {
		error_errno("cannot replace 'logs/%.*s/%s'", BUCKET_LEN, id, name);
		goto out;
	}
	if (f_link_fd(fd, d, name) || f_fsync(d)) {
		error_errno("cannot store 'logs/%.*s/%s'", BUCKET_LEN, id, name);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

int spool_result_remove(struct spool *sp, const char *id)
{
	int d = bucket(sp, id, 0);
	char name[ID_LEN + 16];

	if (d < 0)
		return errno == ENOENT ? 0 : -1;
	snprintf(name, sizeof(name), "%s.result", id);
	if (f_unlinkat(d, name, 0) && errno != ENOENT)
		return error_errno("cannot remove 'logs/%.*s/%s'", BUCKET_LEN, id, name);
	return 0;
}

/* ------------------------------------------------------------- notes */

void spool_note(struct spool *sp, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	char t[TIME_LEN];
	struct stat st;
	va_list ap;
	int fd, n;

	if (sp->fd < 0)
		return;
	time_format(now_ms(), t);
	buf_addf(&b, "%s q[%ld]: ", t, (long)getpid());
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_grow(&b, n + 2);
	va_start(ap, fmt);
	vsnprintf(b.s + b.len, n + 1, fmt, ap);
	va_end(ap);
	b.len += n;
	buf_addc(&b, '\n');
	fd = f_openat(sp->fd, "spool.log", O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode)) {
		/* Keep one older file: the log never grows past twice its cap. */
		if (st.st_size > SPOOL_LOG_MAX)
			f_rename(sp->fd, "spool.log", sp->fd, "spool.log.1", 0);
		if (f_write_all(fd, b.s, b.len))
			warning("cannot write '%s/spool.log': %s", sp->path, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	buf_release(&b);
}
