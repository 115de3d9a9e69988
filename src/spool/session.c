/*
 * session.c: the directories of agent sessions (sessions/NAME/).  See
 * spool.h; what the state says is the hooks' business (src/session.c).
 */
#include "spool/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* A session idle this long is removed by gc (a lease it left has long expired). */
#define SESSION_IDLE_MAX (7 * 86400000LL)

/* The directory name of a session: its id escaped as keys are. */
static int session_dirname(const char *session, char *out, size_t n)
{
	if (!*session || strlen(session) > KEY_MAX || !utf8_valid(session, strlen(session)))
		return error("bad session id: want 1 to %d bytes of UTF-8", KEY_MAX);
	key_name(session, out, n);
	return 0;
}

int spool_session_open(struct spool *sp, const char *session, int create)
{
	char name[KEY_NAME_MAX + 8], what[KEY_NAME_MAX + 24];
	int d, sd;

	if (session_dirname(session, name, sizeof(name)) || (d = SESSIONS_FD(sp)) < 0)
		return -1;
	snprintf(what, sizeof(what), "sessions/%s", name);
	if (create && f_mkdirat(d, name, 0700) && errno != EEXIST)
		return error_errno("cannot create '%s'", what);
	sd = f_openat(d, name, O_RDONLY | O_DIRECTORY, 0);
	if (sd < 0) {
		if (errno == ENOENT && !create)
			return -2;
		return error_errno("cannot open '%s'", what);
	}
	if (dir_trusted(sd, what) || lock_wait(sd, what, 1000)) {
		close(sd);
		return -1;
	}
	return sd;
}

int spool_session_read(int sd, const char *file, off_t off, size_t max, struct buf *out)
{
	int fd = f_openat(sd, file, O_RDONLY, 0), r = 0;
	struct stat st;

	if (fd < 0)
		return errno == ENOENT ? 0 : error_errno("cannot open session file '%s'", file);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		close(fd);
		return error("refusing session file '%s': not a regular file of ours alone", file);
	}
	if (lseek(fd, off, SEEK_SET) < 0 || f_read_all(fd, max, out))
		r = error_errno("cannot read session file '%s'", file);
	close(fd);
	return r;
}

/* The new state, before its rename: one name, as its writer holds the directory's lock. */
#define STATE_NEW ".state.new"

int spool_session_write(int sd, const struct buf *state)
{
	const char *tmp = STATE_NEW;
	int fd = f_openat(sd, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		return error_errno("cannot create session file '%s'", tmp);
	if (f_write_all(fd, state->s, state->len) || f_rename(sd, tmp, sd, "state", 0)) {
		error_errno("cannot write session file 'state'");
		close(fd);
		f_unlinkat(sd, tmp, 0);
		return -1;
	}
	close(fd);
	return 0;
}

/* Remove a new state a crash left before its rename (.state.new; .state.PID from older q). */
static int remove_new_states(int sd, const char *name)
{
	int fd = dup(sd), r = 0;
	struct dirent *de;
	DIR *dir;

	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return error_errno("cannot read 'sessions/%s'", name);
	}
	rewinddir(dir);
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, ".state.", 7) && f_unlinkat(sd, de->d_name, 0) &&
		    errno != ENOENT)
			r = error_errno("cannot remove 'sessions/%s/%s'", name, de->d_name);
	closedir(dir);
	return r;
}

/* Remove the files of session directory sd (locked), then the directory. */
static int remove_session(int d, const char *name, int sd)
{
	static const char *const files[] = { "state", "jobs" };
	int r = remove_new_states(sd, name);

	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++)
		if (f_unlinkat(sd, files[i], 0) && errno != ENOENT)
			r = error_errno("cannot remove 'sessions/%s/%s'", name, files[i]);
	if (!r && f_unlinkat(d, name, AT_REMOVEDIR) && errno != ENOENT)
		r = error_errno("cannot remove 'sessions/%s'", name);
	close(sd);
	return r;
}

int spool_session_remove(struct spool *sp, const char *session, int sd)
{
	char name[KEY_NAME_MAX + 8];
	int d;

	if (session_dirname(session, name, sizeof(name)) || (d = SESSIONS_FD(sp)) < 0) {
		close(sd);
		return -1;
	}
	return remove_session(d, name, sd);
}

void spool_session_job(struct spool *sp, const char *id)
{
	const char *session = getenv("Q_SESSION");
	char name[KEY_NAME_MAX + 8], line[ID_LEN + 2];
	int d, sd, fd;

	/* Only for a session a hook registered: its directory exists. */
	if (!session || !*session || strlen(session) > KEY_MAX ||
	    !utf8_valid(session, strlen(session)))
		return;
	key_name(session, name, sizeof(name));
	d = f_openat(sp->fd, "sessions", O_RDONLY | O_DIRECTORY, 0);
	if (d < 0)
		return;
	sd = f_openat(d, name, O_RDONLY | O_DIRECTORY, 0);
	close(d);
	if (sd < 0)
		return;
	fd = f_openat(sd, "jobs", O_WRONLY | O_APPEND | O_CREAT, 0600);
	close(sd);
	if (fd < 0)
		return;
	snprintf(line, sizeof(line), "%s\n", id);
	/* One write(2) with O_APPEND: lines never interleave. */
	if (f_write_all(fd, line, ID_LEN + 1))
		warning("cannot note job %s for session '%s': %s", id, session, strerror(errno));
	close(fd);
}

struct sgc {
	int d, errors;
	int64_t cutoff;
};

static int gc_session(const char *name, void *arg)
{
	struct sgc *g = arg;
	struct stat st;
	int sd;

	/* A new state is renamed into the directory: its mtime is the session's last change. */
	if (fstatat(g->d, name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode) ||
	    (int64_t)st.st_mtim.tv_sec * 1000 > g->cutoff)
		return 0;
	sd = f_openat(g->d, name, O_RDONLY | O_DIRECTORY, 0);
	if (sd < 0)
		return 0;
	if (flock(sd, LOCK_EX | LOCK_NB)) {
		close(sd);
		return 0; /* a hook is at it: not idle */
	}
	g->errors += remove_session(g->d, name, sd) != 0;
	return 0;
}

int spool_sessions_gc(struct spool *sp)
{
	struct sgc g = { -1, 0, now_ms() - SESSION_IDLE_MAX };

	g.d = f_openat(sp->fd, "sessions", O_RDONLY | O_DIRECTORY, 0);
	if (g.d < 0)
		return errno == ENOENT ? 0 : error_errno("cannot open 'sessions'");
	if (dir_each(g.d, "sessions", 1, gc_session, &g) < 0)
		g.errors++;
	close(g.d);
	return g.errors ? -1 : 0;
}
