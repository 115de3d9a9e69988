/* util.c: errors, buffers, allocation, times and durations. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void (*error_hook)(const char *msg);

static void vreport(const char *fmt, va_list ap, const char *suffix)
{
	char msg[1024];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (n < 0)
		msg[0] = '\0';
	if (suffix) {
		size_t len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s", suffix);
	}
	if (error_hook) {
		error_hook(msg);
		return;
	}
	fprintf(stderr, "q: %s\n", msg);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap, NULL);
	va_end(ap);
	return -1;
}

int error_errno(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap, strerror(e));
	va_end(ap);
	errno = e;
	return -1;
}

void warning(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	memcpy(msg, "warning: ", 9);
	va_start(ap, fmt);
	vsnprintf(msg + 9, sizeof(msg) - 9, fmt, ap);
	va_end(ap);
	if (error_hook)
		error_hook(msg);
	else
		fprintf(stderr, "q: %s\n", msg);
}

void die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap, NULL);
	va_end(ap);
	exit(status);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die(EXIT_RUNTIME, "out of memory allocating %zu bytes", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die(EXIT_RUNTIME, "out of memory");
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die(EXIT_RUNTIME, "out of memory allocating %zu bytes", n);
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *path_join(const char *a, const char *b)
{
	struct buf p = BUF_INIT;

	buf_adds(&p, a);
	if (p.len && p.s[p.len - 1] != '/')
		buf_addc(&p, '/');
	buf_adds(&p, b);
	return buf_detach(&p);
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* ---------------------------------------------------------------- buf */

void buf_grow(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	b->cap = b->cap ? b->cap : 64;
	while (b->cap < need)
		b->cap *= 2;
	b->s = xrealloc(b->s, b->cap);
	b->s[b->len] = '\0';
}

void buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_grow(b, n);
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

void buf_add_visible(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c < 0x20 || c == 0x7f) {
			char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };

			buf_add(b, e, 4);
		} else {
			buf_addc(b, c);
		}
	}
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

void buf_release(struct buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

char *buf_detach(struct buf *b)
{
	char *s = b->s ? b->s : xstrdup("");

	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

int xsnprintf(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(dst, n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= n)
		return error("name too long: '%.40s...'", dst);
	return 0;
}

/* -------------------------------------------------------------- times */

int64_t now_ms(void)
{
	static int64_t offset = -1;
	struct timespec ts;

	/* Q_CLOCK_OFFSET: a test seam, so that tests of time need not sleep. */
	if (offset == -1) {
		const char *o = getenv("Q_CLOCK_OFFSET");
		long long v;

		offset = o && !parse_int(o, -DURATION_MAX_MS, DURATION_MAX_MS, &v) ? v : 0;
		if (offset == -1)
			offset = 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset;
}

int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };

	while (ms > 0 && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void time_format(int64_t ms, char out[TIME_LEN])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms < 0) {
		t = 0;
		ms = 0;
	}
	gmtime_r(&t, &tm);
	snprintf(out, TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

int time_parse_rfc3339(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, frac = 0, off = 0;
	const char *p = s;

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
	    *p++ != '-' || digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		return -1;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) ||
	    *p++ != ':' || digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		int n = 0;

		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			if (n < 3)
				frac = frac * 10 + (*p - '0');
			n++;
			p++;
		}
		for (; n < 3; n++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;

		p++;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om))
			return -1;
		if (oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 60 + om);
	} else {
		return -1;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
		return -1;
	{
		static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

		if (d > mdays[mo - 1] + (mo == 2 && leap))
			return -1;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ms = ((int64_t)timegm(&tm) - (int64_t)off * 60) * 1000 + frac;
	return *ms < 0 || *ms > TIME_MAX_MS ? -1 : 0;
}

int time_parse_user(const char *s, int64_t *ms)
{
	long long v;

	if (s[0] == '@') {
		if (parse_int(s + 1, 0, TIME_MAX_MS / 1000, &v))
			return -1;
		*ms = v * 1000;
		return 0;
	}
	if (strchr(s, 'T') || strchr(s, 't'))
		return time_parse_rfc3339(s, ms);
	{
		/* HH:MM[:SS], local time, the next time it occurs. */
		const char *p = s;
		int h, mi, sec = 0;
		time_t now = time(NULL), t;
		struct tm tm;

		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				return -1;
		}
		if (*p || h > 23 || mi > 59 || sec > 59)
			return -1;
		localtime_r(&now, &tm);
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec;
		tm.tm_isdst = -1;
		t = mktime(&tm);
		if (t <= now) {
			tm.tm_mday++;
			tm.tm_isdst = -1;
			t = mktime(&tm);
		}
		*ms = (int64_t)t * 1000;
		return 0;
	}
}

int duration_parse(const char *s, int64_t *ms)
{
	const char *p = s;
	double v = 0, unit, scale = 1;
	int digits_seen = 0;

	/* Decimal only: no signs, exponents or hex (strtod would take them). */
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (*p++ - '0');
		digits_seen++;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			scale /= 10;
			v += (*p++ - '0') * scale;
			digits_seen++;
		}
	}
	if (!digits_seen)
		return -1;
	if (!strcmp(p, "ms"))
		unit = 1;
	else if (!strcmp(p, "s") || !*p)
		unit = 1000;
	else if (!strcmp(p, "m"))
		unit = 60e3;
	else if (!strcmp(p, "h"))
		unit = 3600e3;
	else if (!strcmp(p, "d"))
		unit = 86400e3;
	else
		return -1;
	v *= unit;
	if (!isfinite(v) || v > (double)DURATION_MAX_MS)
		return -1;
	*ms = (int64_t)(v + 0.5);
	return 0;
}

void duration_format(int64_t ms, char *out, size_t n)
{
	int64_t sec = (ms + 500) / 1000, min = (ms + 30000) / 60000, hr = (ms + 1800000) / 3600000;

	if (ms < 0)
		ms = sec = min = hr = 0;
	/* Each unit rounds, and hands over when rounding would reach its limit. */
	if (ms < 1000)
		snprintf(out, n, "%dms", (int)ms);
	else if (ms < 59950)
		snprintf(out, n, "%.1fs", ms / 1000.0);
	else if (sec < 3600)
		snprintf(out, n, "%dm%02ds", (int)(sec / 60), (int)(sec % 60));
	else if (min < 1440)
		snprintf(out, n, "%dh%02dm", (int)(min / 60), (int)(min % 60));
	else
		snprintf(out, n, "%dd%02dh", (int)(hr / 24), (int)(hr % 24));
}

int parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (!*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + n;

	while (p < e) {
		unsigned c = *p;
		int len;
		unsigned cp;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (e - p < len)
			return 0;
		for (int i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		p += len;
	}
	return 1;
}

void random_bytes(void *p, size_t n)
{
	unsigned char *c = p;

	while (n) {
		ssize_t r = getrandom(c, n, GRND_NONBLOCK);

		if (r < 0) {
			/* Early boot without entropy: time and pid will do. */
			uint64_t x = (uint64_t)mono_ms() * 6364136223846793005ULL ^
				     (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)c;
			while (n) {
				x ^= x >> 33;
				x *= 0xff51afd7ed558ccdULL;
				*c++ = (unsigned char)x;
				n--;
			}
			return;
		}
		c += r;
		n -= r;
	}
}
