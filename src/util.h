#ifndef Q_UTIL_H
#define Q_UTIL_H
/*
 * Small helpers shared by every module: error reporting, growable
 * buffers, allocation that dies on exhaustion, times and durations.
 *
 * Error convention: library code prints one line with error() and
 * returns -1; only src/cmd/ and main() exit.  Messages follow
 *   q: cannot rename 'pending/X' to 'running/X': No space left on device
 * lower case, what failed first, the object in quotes, no full stop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses: an interface, documented in q.1. */
enum {
	EXIT_OK = 0,
	EXIT_NO = 1,       /* job failed/cancelled/expired, fsck problems */
	EXIT_USAGE = 2,    /* bad flag or argument */
	EXIT_RUNTIME = 3,  /* I/O error, unusable spool, bad settings */
	EXIT_NOJOB = 4,    /* unknown or ambiguous id */
	EXIT_PENDING = 5,  /* job not finished yet */
	EXIT_FULL = 6,     /* queue.max_pending reached */
};

/* Print "q: MSG" to stderr; return -1. */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, followed by ": strerror(errno)". */
int error_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print and exit(status). */
void die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* When set, error() writes its messages here instead of stderr. */
extern void (*error_hook)(const char *msg);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/*
 * A growable NUL-terminated byte buffer.  BUF_INIT is an empty buffer
 * that owns no memory; buf_release frees and reinitialises it.
 */
struct buf {
	char *s;
	size_t len, cap;
};
#define BUF_INIT { NULL, 0, 0 }
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Append s (n bytes) for a terminal: control characters (ESC, CR, ...)
 * become \xHH, so text from a job or a file cannot move the cursor,
 * recolour or retitle the terminal of whoever reads it.
 */
void buf_add_visible(struct buf *b, const char *s, size_t n);
void buf_reset(struct buf *b);
void buf_release(struct buf *b);
/* Return the string (never NULL) and hand its ownership to the caller. */
char *buf_detach(struct buf *b);
/* a/b (malloc'd), with one slash between them. */
char *path_join(const char *a, const char *b);

/* snprintf that reports truncation: 0 on success, -1 (with error()). */
int xsnprintf(char *dst, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Times are int64 milliseconds since the Unix epoch. */
int64_t now_ms(void);
int64_t mono_ms(void);
/* Sleep ms milliseconds (nothing when ms <= 0), through signals. */
void sleep_ms(int64_t ms);
/* Times q stores lie in [0, TIME_MAX_MS]: 1970 to the end of 9999. */
#define TIME_MAX_MS 253402300799999LL
/* Durations are at most a century. */
#define DURATION_MAX_MS 3155760000000LL
/* RFC 3339 UTC with milliseconds: 2026-11-23T19:20:00.123Z (24 bytes). */
#define TIME_LEN 80
void time_format(int64_t ms, char out[TIME_LEN]);
/* Parse RFC 3339 (Z or +hh:mm offsets, optional fraction) within range; 0 or -1. */
int time_parse_rfc3339(const char *s, int64_t *ms);
/* Parse a user TIME: RFC 3339, @UNIXSECONDS, or HH:MM[:SS] local. */
int time_parse_user(const char *s, int64_t *ms);
/* Parse DUR: number with unit ms, s, m, h, d (none = seconds). */
int duration_parse(const char *s, int64_t *ms);
/* Format a duration for people: 850ms, 1.2s, 3m04s, 2h05m, 3d04h. */
void duration_format(int64_t ms, char *out, size_t n);

/* Parse a whole decimal integer in [min, max]; 0 or -1 (no message). */
int parse_int(const char *s, long long min, long long max, long long *out);

/* Is s valid UTF-8 of length n? */
int utf8_valid(const char *s, size_t n);

/* Fill p with n random bytes (getrandom, never blocking for long). */
void random_bytes(void *p, size_t n);

#endif
