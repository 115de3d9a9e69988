/* move.c: locking and moving a job, and quarantine.  See spool.h. */
#include "spool/internal.h"

#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int move(struct spool *sp, struct jobref *ref, enum state to, int fd, int64_t until_ms,
		int sync)
{
	struct jobref dst = *ref;
	char from[NAME_LEN + 8], toname[NAME_LEN + 8];
	int sown = -1, down = -1, sd, dd, ret = -1, notified = 0;
	enum state was = ref->state;

	dst.state = to;
	/*
	 * A job becoming final owes its job.on_finish a call: noted before the
	 * move, so a crash right after it cannot lose the call (spool_notify).
	 */
	if (sp->cfg.on_finish[0] && state_final(to) && !state_final(ref->state)) {
		if (notify_mark(sp, ref->id, 1))
			return -1;
		notified = 1;
	}
	sd = ref_dir(sp, ref, 0, &sown, from, sizeof(from));
	if (sd < 0)
		return -1;
	dd = ref_dir(sp, &dst, 1, &down, toname, sizeof(toname));
	if (dd < 0)
		goto out;
	if (states[to].timed) {
		/*
		 * mtime: when it is due (deferred/) or its lease expires (leased/);
		 * atime: when that was decided (see promote.c).
		 */
		int64_t now = now_ms();
		struct timespec ts[2] = {
			{ now / 1000, now % 1000 * 1000000 },
			{ until_ms / 1000, until_ms % 1000 * 1000000 },
		};

		if ((fd >= 0 ? futimens(fd, ts) : utimensat(sd, from, ts, AT_SYMLINK_NOFOLLOW))) {
			error_errno("cannot set the time of '%s/%s'", states[ref->state].dir, from);
			goto out;
		}
	}
	for (int tries = 0;; tries++) {
		struct stat st;

		if (!f_rename(sd, from, dd, toname, RENAME_NOREPLACE))
			break;
		/*
		 * gc removes an empty bucket: if it did so just before our
		 * rename into it, make the bucket again.  Gone from the
		 * source is another matter (someone else moved it): quiet.
		 */
		if (errno == ENOENT && state_final(to) && tries < 5 &&
		    !fstatat(sd, from, &st, AT_SYMLINK_NOFOLLOW)) {
			close(down);
			dd = ref_dir(sp, &dst, 1, &down, toname, sizeof(toname));
			if (dd < 0)
				goto out;
			continue;
		}
		if (errno != ENOENT)
			error_errno("cannot rename '%s/%s' to '%s/%s'", states[ref->state].dir, from,
				    states[to].dir, toname);
		goto out;
	}
	/* A claim need not be durable: after a power loss the job is pending again. */
	if (sync && to != ST_RUNNING && f_fsync(dd)) {
		error_errno("cannot sync '%s'", states[to].dir);
		*ref = dst;
		goto out;
	}
	*ref = dst;
	ret = 0;
	if (notified)
		sp->notified = 1;
	/* Out of a final state again (retry, or an undone transition): no call owed. */
	if (sp->cfg.on_finish[0] && state_final(was) && !state_final(to))
		notify_mark(sp, ref->id, 0);
out:
	if (ret && notified)
		notify_mark(sp, ref->id, 0);
	if (sown >= 0)
		close(sown);
	if (down >= 0)
		close(down);
	return ret;
}

int spool_move(struct spool *sp, struct jobref *ref, enum state to, int fd, int64_t until_ms)
{
	return move(sp, ref, to, fd, until_ms, 1);
}

int spool_move_nosync(struct spool *sp, struct jobref *ref, enum state to, int fd,
		      int64_t until_ms)
{
	return move(sp, ref, to, fd, until_ms, 0);
}

int spool_lock(struct spool *sp, const struct jobref *ref)
{
	char name[NAME_LEN + 8];
	int owned, d = ref_dir(sp, ref, 0, &owned, name, sizeof(name)), fd;
	struct stat a, b;

	if (d < 0)
		return errno == ENOENT ? -2 : -1;
	fd = open_job_file(d, name);
	if (fd < 0) {
		int e = errno;

		if (owned >= 0)
			close(owned);
		if (e == ENOENT)
			return -2;
		errno = e;
		return error_errno("cannot open '%s/%s'", states[ref->state].dir, name);
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		if (owned >= 0)
			close(owned);
		close(fd);
		return -2;
	}
	/* Still the file at that name?  (It may have moved before we locked it.) */
	if (fstat(fd, &a) || fstatat(d, name, &b, AT_SYMLINK_NOFOLLOW) || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev) {
		if (owned >= 0)
			close(owned);
		close(fd);
		return -2;
	}
	if (owned >= 0)
		close(owned);
	return fd;
}

int spool_quarantine(struct spool *sp, int dirfd, const char *label, const char *name,
		     const char *reason)
{
	int q = QUAR_FD(sp), fd;
	char qname[NAME_LEN * 2 + 160], rname[sizeof(qname) + 8];
	struct buf b = BUF_INIT;
	char clean[NAME_LEN * 2], where[64];
	size_t i;

	if (q < 0)
		return -1;
	/* Make the names safe to show and to use as one path component. */
	for (i = 0; name[i] && i < sizeof(clean) - 1; i++)
		clean[i] = (name[i] == '/' || (unsigned char)name[i] < 0x20) ? '_' : name[i];
	clean[i] = '\0';
	for (i = 0; label[i] && i < sizeof(where) - 1; i++)
		where[i] = label[i] == '/' ? '.' : label[i];
	where[i] = '\0';
	label = where;
	for (int n = 0;; n++) {
		if (n)
			snprintf(qname, sizeof(qname), "%s.%s.%d", label, clean, n);
		else
			snprintf(qname, sizeof(qname), "%s.%s", label, clean);
		if (!f_rename(dirfd, name, q, qname, RENAME_NOREPLACE))
			break;
		if (errno != EEXIST || n > 100)
			return error_errno("cannot quarantine '%s/%s'", label, clean);
	}
	snprintf(rname, sizeof(rname), "%s.reason", qname);
	fd = f_openat(q, rname, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return error_errno("cannot create 'quarantine/%s'", rname);
	{
		char t[TIME_LEN];

		time_format(now_ms(), t);
		buf_addf(&b, "%s %s/%s: %s\n", t, label, clean, reason);
	}
	if (f_write_all(fd, b.s, b.len) || f_fsync(fd)) {
		error_errno("cannot write 'quarantine/%s'", rname);
		close(fd);
		buf_release(&b);
		return -1;
	}
	close(fd);
	buf_release(&b);
	if (f_fsync(q))
		return error_errno("cannot sync 'quarantine'");
	warning("quarantined '%s/%s': %s", label, clean, reason);
	return 0;
}

int transition_line(struct spool *sp, struct jobref *ref, int fd, enum state to, int64_t until,
		    struct buf *line, int sync)
{
	enum state from = ref->state;
	struct jobref back;
	struct stat st;
	int64_t was = 0;

	/* An undo gives a lease its expiry back, and a deferred job its due time. */
	if (states[from].timed && fd >= 0 && !fstat(fd, &st))
		was = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	if (move(sp, ref, to, fd, until, sync)) {
		/* Renamed but not synced: undo it rather than half-do it. */
		if (ref->state != from) {
			back = *ref;
			if (spool_move(sp, &back, from, fd, was) == 0)
				*ref = back;
		}
		return -1;
	}
	if (!spool_event(sp, ref->id, line, sync))
		return 0;
	/* Wholly or not at all: we still hold the lock, so put it back. */
	back = *ref;
	if (move(sp, &back, from, fd, was, sync) == 0)
		*ref = back;
	return -1;
}

int spool_transition(struct spool *sp, struct jobref *ref, int fd, enum state to, int64_t until,
		     const char *ev, const char *err)
{
	struct buf b = BUF_INIT;
	struct jw w;
	int r;

	event_begin(&w, &b, ev);
	if (err) {
		jw_key(&w, "error");
		jw_str(&w, err);
	}
	event_end(&w);
	r = transition_line(sp, ref, fd, to, until, &b, 1);
	buf_release(&b);
	return r;
}

int expire(struct spool *sp, struct jobref *ref, int fd)
{
	int r = spool_reconcile(sp, ref, fd);

	if (r)
		return r < 0 ? -1 : 0;
	return spool_transition(sp, ref, fd, ST_EXPIRED, 0, "expired", "expired");
}
