/*
 * mirror.c: a job handed to the remote (forwarded/) and its verdict
 * coming back (spool-format.md, "Forwarded jobs").
 */
#include "spool/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "json.h"

/* The log's lines up to and including its last `forwarded` event (all if none): 1 if found. */
static int local_part(const struct buf *log, struct buf *out)
{
	const char *p = log->s ? log->s : "", *e = p + log->len;
	size_t keep = 0;

	for (const char *q = p; q < e;) {
		const char *nl = memchr(q, '\n', e - q);
		struct json j;
		const char *why;
		int t;

		if (!nl)
			break;
		if (nl > q && !json_parse(&j, q, nl - q, &why)) {
			t = json_get(&j, 0, "event");
			if (t > 0 && json_eq(&j, t, "forwarded"))
				keep = nl + 1 - p;
			json_release(&j);
		}
		q = nl + 1;
	}
	buf_add(out, p, keep ? keep : (size_t)(e - p));
	return keep > 0;
}

int spool_mirror(struct spool *sp, struct jobref *ref, int fd, enum state to,
		 const struct buf *events, const struct buf *out, const struct buf *result)
{
	struct buf log = BUF_INIT, text = BUF_INIT;
	int d, in, ret = -1;

	if (ref->state != ST_FORWARDED || !state_final(to))
		return error("job %s: cannot mirror a %s job to %s", ref->id, state_name(ref->state),
			     state_name(to));
	d = logs_bucket(sp, ref->id, 1);
	if (d < 0)
		return -1;
	in = spool_open_log(sp, ref->id, "events", O_RDONLY);
	if (in >= 0) {
		if (f_read_all(in, EVENTS_MAX_SIZE, &log)) {
			error_errno("cannot read 'logs/%.*s/%s.events'", BUCKET_LEN, ref->id, ref->id);
			close(in);
			goto out;
		}
		close(in);
	}
	/*
	 * What happened here, up to the `forwarded` event, then what the
	 * remote says: repeatable after a crash.  A log without that event (a
	 * crash cut the forward short of it) gets one, marking where the
	 * remote's part starts.
	 */
	if (!local_part(&log, &text)) {
		struct jw w;

		if (text.len && text.s[text.len - 1] != '\n')
			buf_addc(&text, '\n');
		event_begin(&w, &text, "forwarded");
		event_end(&w);
	}
	if (text.len && text.s[text.len - 1] != '\n')
		buf_addc(&text, '\n');
	buf_add(&text, events->s ? events->s : "", events->len);
	if (log_replace(d, ref->id, "out", out) || (result->len &&
	    spool_result_store(sp, ref->id, result)) || log_replace(d, ref->id, "events", &text))
		goto out;
	if (f_fsync(d)) {
		error_errno("cannot sync 'logs/%.*s'", BUCKET_LEN, ref->id);
		goto out;
	}
	ret = spool_move(sp, ref, to, fd, 0);
out:
	close(d);
	buf_release(&log);
	buf_release(&text);
	return ret;
}
