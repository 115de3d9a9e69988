/* log.c: a job's event log and output log.  See spool.h. */
#include "spool/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int spool_open_log(struct spool *sp, const char *id, const char *ext, int flags)
{
	int d = logs_bucket(sp, id, (flags & O_CREAT) != 0), fd;
	char name[ID_LEN + 16];

	if (d < 0)
		return -1;
	snprintf(name, sizeof(name), "%s.%s", id, ext);
	fd = f_openat(d, name, flags, 0600);
	if (fd < 0 && (errno != ENOENT || (flags & O_CREAT)))
		error_errno("cannot open 'logs/%.*s/%s'", BUCKET_LEN, id, name);
	close(d);
	return fd;
}

int spool_event(struct spool *sp, const char *id, struct buf *line, int sync)
{
	int d = logs_bucket(sp, id, 1), fd, ret = 0;
	char name[ID_LEN + 8];

	if (d < 0)
		return -1;
	snprintf(name, sizeof(name), "%s.events", id);
	fd = f_openat(d, name, O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (fd < 0) {
		ret = error_errno("cannot open 'logs/%.*s/%s'", BUCKET_LEN, id, name);
	} else {
		if (line->len > EVENT_MAX_LINE)
			ret = error("event for job '%s' too long", id);
		else if (f_write_all(fd, line->s, line->len))
			ret = error_errno("cannot write 'logs/%.*s/%s'", BUCKET_LEN, id, name);
		else if (sync && f_fdatasync(fd))
			ret = error_errno("cannot sync 'logs/%.*s/%s'", BUCKET_LEN, id, name);
		close(fd);
	}
	close(d);
	return ret;
}

int spool_load_events(struct spool *sp, const char *id, struct jobstate *st)
{
	int d = logs_bucket(sp, id, 0), fd;
	char name[ID_LEN + 8];
	struct buf b = BUF_INIT;

	jobstate_init(st);
	if (d < 0)
		return errno == ENOENT ? 0 : -1;
	snprintf(name, sizeof(name), "%s.events", id);
	fd = f_openat(d, name, O_RDONLY, 0);
	close(d);
	if (fd < 0)
		return errno == ENOENT ? 0 : error_errno("cannot open 'logs/%.*s/%s'", BUCKET_LEN, id, name);
	if (f_read_all(fd, EVENTS_MAX_SIZE, &b) && errno != EFBIG) {
		close(fd);
		buf_release(&b);
		return error_errno("cannot read 'logs/%.*s/%s'", BUCKET_LEN, id, name);
	}
	close(fd);
	jobstate_fold(st, b.s ? b.s : "", b.len);
	buf_release(&b);
	return 0;
}

int event_simple(struct spool *sp, const char *id, const char *ev, const char *key,
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
