/* config.c: settings.  See config.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "util.h"

#define CONFIG_MAX_SIZE (64 << 10)

enum ktype { K_MODE, K_INT, K_POS, K_DUR, K_BACKOFF, K_STR, K_BOOL, K_URL, K_VERSION };

static const struct key {
	const char *name;
	enum ktype type;
	size_t off;
} keys[] = {
	{ "sync.mode", K_MODE, offsetof(struct config, mode) },
	{ "job.attempts", K_POS, offsetof(struct config, attempts) },
	{ "job.max_interrupts", K_POS, offsetof(struct config, max_interrupts) },
	{ "job.backoff", K_BACKOFF, offsetof(struct config, backoff_ms) },
	{ "job.timeout", K_DUR, offsetof(struct config, timeout_ms) },
	{ "job.kill_grace", K_DUR, offsetof(struct config, kill_grace_ms) },
	{ "job.on_finish", K_STR, offsetof(struct config, on_finish) },
	{ "job.on_finish_timeout", K_DUR, offsetof(struct config, on_finish_timeout_ms) },
	{ "queue.max_pending", K_INT, offsetof(struct config, max_pending) },
	{ "worker.max", K_POS, offsetof(struct config, worker_max) },
	{ "worker.jobs", K_POS, offsetof(struct config, worker_jobs) },
	{ "worker.linger", K_DUR, offsetof(struct config, linger_ms) },
	{ "worker.idle", K_DUR, offsetof(struct config, idle_ms) },
	{ "worker.stay", K_DUR, offsetof(struct config, stay_ms) },
	{ "gc.completed", K_DUR, offsetof(struct config, gc_completed_ms) },
	{ "gc.failed", K_DUR, offsetof(struct config, gc_failed_ms) },
	{ "gc.interval", K_DUR, offsetof(struct config, gc_interval_ms) },
	{ "agent.lease", K_DUR, offsetof(struct config, lease_ms) },
	{ "agent.autoclaim", K_BOOL, offsetof(struct config, autoclaim) },
	{ "agent.drain", K_BOOL, offsetof(struct config, drain) },
	{ "agent.attempts", K_POS, offsetof(struct config, agent_attempts) },
	{ "sync.max_retries", K_INT, offsetof(struct config, sync_max_retries) },
	{ "sync.batch_size", K_POS, offsetof(struct config, sync_batch_size) },
	{ "sync.auto_retry", K_BOOL, offsetof(struct config, sync_auto_retry) },
	{ "github.api_url", K_URL, offsetof(struct config, github_api_url) },
	{ "github.api_version", K_VERSION, offsetof(struct config, github_api_version) },
	{ "github.timeout", K_DUR, offsetof(struct config, github_timeout_ms) },
	{ "github.connect_timeout", K_DUR, offsetof(struct config, github_connect_timeout_ms) },
	{ "github.write_interval", K_DUR, offsetof(struct config, github_write_interval_ms) },
	{ "mcp.exec", K_STR, offsetof(struct config, mcp_exec) },
	{ "remote.url", K_STR, offsetof(struct config, remote_url) },
	{ "remote.detect", K_DUR, offsetof(struct config, remote_detect_ms) },
	{ "remote.output_max", K_INT, offsetof(struct config, remote_output_max) },
};

void config_defaults(struct config *c)
{
	c->mode = MODE_ASYNC;
	c->attempts = 1;
	c->max_interrupts = 3;
	c->backoff_ms = 1000;
	c->backoff_max_ms = 300000;
	c->timeout_ms = 0;
	c->kill_grace_ms = 5000;
	c->on_finish[0] = '\0';
	c->on_finish_timeout_ms = 60000;
	c->max_pending = 0;
	c->worker_max = 4;
	c->worker_jobs = 1;
	c->linger_ms = 60000;
	c->idle_ms = 300000;
	c->stay_ms = 1000;
	c->gc_completed_ms = 86400000;
	c->gc_failed_ms = 7 * 86400000LL;
	c->gc_interval_ms = 3600000;
	c->lease_ms = 600000;
	c->autoclaim = 0;
	c->drain = 0;
	c->agent_attempts = 3;
	c->sync_max_retries = 3;
	c->sync_batch_size = 10;
	c->sync_auto_retry = 1;
	snprintf(c->github_api_url, sizeof(c->github_api_url), "https://api.github.com");
	snprintf(c->github_api_version, sizeof(c->github_api_version), "2022-11-28");
	c->github_timeout_ms = 30000;
	c->github_connect_timeout_ms = 10000;
	c->github_write_interval_ms = 1000;
	snprintf(c->mcp_exec, sizeof(c->mcp_exec), "none");
	c->remote_url[0] = '\0';
	c->remote_detect_ms = 10000;
	c->remote_output_max = 1 << 20;
}

/* git-config booleans: 1, 0, or -1 when value is not one. */
static int bool_parse(const char *v)
{
	static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no",
									       "off", "0", "" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		if (!strcasecmp(v, yes[i]))
			return 1;
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		if (!strcasecmp(v, no[i]))
			return 0;
	return -1;
}

/*
 * An API base URL: http or https, a host, an optional path (GitHub
 * Enterprise Server: /api/v3), printable ASCII without blanks, no
 * query, fragment or user name (a URL never carries a credential).
 */
static int url_ok(const char *v, size_t size)
{
	const char *host;

	if (strlen(v) >= size)
		return 0;
	if (!strncmp(v, "https://", 8))
		host = v + 8;
	else if (!strncmp(v, "http://", 7))
		host = v + 7;
	else
		return 0;
	if (!*host || *host == '/')
		return 0;
	for (const char *p = v; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("?#@\\\"<>", *p))
			return 0;
	return 1;
}

int mode_parse(const char *s)
{
	if (!strcmp(s, "async"))
		return MODE_ASYNC;
	if (!strcmp(s, "sync"))
		return MODE_SYNC;
	if (!strcmp(s, "manual"))
		return MODE_MANUAL;
	return -1;
}

int backoff_parse(const char *s, int64_t *base, int64_t *max)
{
	const char *colon = strchr(s, ':');
	char tmp[64];

	if (!colon)
		return duration_parse(s, base);
	if ((size_t)(colon - s) >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, colon - s);
	tmp[colon - s] = '\0';
	if (duration_parse(tmp, base) || duration_parse(colon + 1, max) || *max < *base)
		return -1;
	return 0;
}

int config_set(struct config *c, const char *key, const char *value, const char *where)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		const struct key *k = &keys[i];
		int64_t *p = (int64_t *)((char *)c + k->off);
		long long v;
		int m;

		if (strcasecmp(key, k->name))
			continue;
		switch (k->type) {
		case K_MODE:
			if ((m = mode_parse(value)) < 0)
				return error("%s: bad value '%s' for '%s': want sync, async or manual",
					     where, value, k->name);
			c->mode = m;
			return 0;
		case K_INT:
		case K_POS:
			if (parse_int(value, k->type == K_POS ? 1 : 0, 1000000000, &v))
				return error("%s: bad value '%s' for '%s': want %s integer", where,
					     value, k->name, k->type == K_POS ? "a positive" : "an");
			*p = v;
			return 0;
		case K_DUR:
			if (duration_parse(value, p))
				return error("%s: bad duration '%s' for '%s'", where, value, k->name);
			return 0;
		case K_STR:
			if (strlen(value) >= CONFIG_STR_MAX || !utf8_valid(value, strlen(value)))
				return error("%s: value for '%s' is longer than %d bytes or not UTF-8",
					     where, k->name, CONFIG_STR_MAX - 1);
			snprintf((char *)p, CONFIG_STR_MAX, "%s", value);
			return 0;
		case K_BACKOFF:
			if (backoff_parse(value, &c->backoff_ms, &c->backoff_max_ms))
				return error("%s: bad value '%s' for '%s': want BASE[:MAX]", where,
					     value, k->name);
			return 0;
		case K_BOOL:
			if ((m = bool_parse(value)) < 0)
				return error("%s: bad value '%s' for '%s': want true or false", where,
					     value, k->name);
			*p = m;
			return 0;
		case K_URL: {
			char *dst = (char *)c + k->off;
			size_t n;

			if (!url_ok(value, sizeof(c->github_api_url)))
				return error("%s: bad value '%s' for '%s': want http(s)://HOST[/PATH]",
					     where, value, k->name);
			n = strlen(value);
			while (n > 8 && value[n - 1] == '/')
				n--;
			memcpy(dst, value, n);
			dst[n] = '\0';
			return 0;
		}
		case K_VERSION:
			if (!*value || strlen(value) >= sizeof(c->github_api_version) ||
			    strspn(value, "0123456789-") != strlen(value))
				return error("%s: bad value '%s' for '%s': want a date like 2022-11-28",
					     where, value, k->name);
			memcpy((char *)c + k->off, value, strlen(value) + 1);
			return 0;
		}
	}
	/* [queues] NAME = N: the concurrency of the named queue. */
	if (!strncasecmp(key, "queues.", 7) && key[7]) {
		long long v;

		if (parse_int(value, 1, 1000, &v))
			return error("%s: bad value '%s' for '%s': want 1-1000", where, value, key);
		for (int i = 0; i < c->nqueues; i++)
			if (!strcmp(c->queues[i].name, key + 7)) {
				c->queues[i].max = (int)v;
				return 0;
			}
		if (c->nqueues < CONFIG_MAX_QUEUES && strlen(key + 7) < sizeof(c->queues[0].name)) {
			snprintf(c->queues[c->nqueues].name, sizeof(c->queues[0].name), "%s", key + 7);
			c->queues[c->nqueues++].max = (int)v;
		}
		return 0;
	}
	return 0; /* unknown keys are ignored */
}

int config_queue_max(const struct config *c, const char *name)
{
	/* Keys of q.conf are case-insensitive, as in git: so are queue names there. */
	for (int i = 0; i < c->nqueues; i++)
		if (!strcasecmp(c->queues[i].name, name))
			return c->queues[i].max;
	return 1;
}

static int name_char(int ch)
{
	return isalnum(ch) || ch == '-' || ch == '_';
}

/* Parse a value from p up to the end of the logical line. */
static int parse_value(const char **pp, const char *e, struct buf *out, const char **why)
{
	const char *p = *pp;
	int quoted = 0;
	size_t trim = 0; /* length up to the last non-space outside quotes */

	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	for (; p < e; p++) {
		char ch = *p;

		if (ch == '\n' && !quoted)
			break;
		if (ch == '\n') {
			*why = "unterminated quoted value";
			return -1;
		}
		if (!quoted && (ch == '#' || ch == ';'))
			break;
		if (ch == '"') {
			quoted = !quoted;
			trim = out->len;
			continue;
		}
		if (ch == '\\') {
			if (++p >= e) {
				*why = "backslash at end of file";
				return -1;
			}
			switch (*p) {
			case '\n': continue; /* continuation */
			case 'n': buf_addc(out, '\n'); break;
			case 't': buf_addc(out, '\t'); break;
			case 'b': buf_addc(out, '\b'); break;
			case '"': buf_addc(out, '"'); break;
			case '\\': buf_addc(out, '\\'); break;
			default:
				*why = "unknown escape in value";
				return -1;
			}
			trim = out->len;
			continue;
		}
		if (ch == '\0') {
			*why = "NUL byte in value";
			return -1;
		}
		/* Blanks before the value starts go, even after a continuation (as in git). */
		if (!quoted && !out->len && (ch == ' ' || ch == '\t' || ch == '\r'))
			continue;
		buf_addc(out, ch);
		if (quoted || (ch != ' ' && ch != '\t' && ch != '\r'))
			trim = out->len;
	}
	if (quoted) {
		*why = "unterminated quoted value";
		return -1;
	}
	out->len = trim;
	if (out->s)
		out->s[trim] = '\0';
	/* skip the rest of the line (a comment) */
	while (p < e && *p != '\n')
		p++;
	*pp = p;
	return 0;
}

int config_parse_each(const char *text, size_t len, const char *name,
		      int (*fn)(const char *key, const char *value, const char *where, void *arg),
		      void *arg)
{
	const char *p = text, *e = text + len;
	char section[64] = "";
	int line = 1, ret = 0;
	struct buf val = BUF_INIT;

	/* Editors on some systems start UTF-8 files with a byte order mark. */
	if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3;
	while (p < e) {
		const char *why = NULL;
		int start_line = line;

		while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p >= e)
			break;
		if (*p == '\n') {
			p++;
			line++;
			continue;
		}
		if (*p == '#' || *p == ';') {
			while (p < e && *p != '\n')
				p++;
			continue;
		}
		if (*p == '[') {
			size_t n = 0;

			p++;
			while (p < e && (name_char((unsigned char)*p) || *p == '.')) {
				if (n + 1 >= sizeof(section)) {
					why = "section name too long";
					goto bad;
				}
				section[n++] = tolower((unsigned char)*p++);
			}
			section[n] = '\0';
			if (!n) {
				why = "bad section name";
				goto bad;
			}
			if (p < e && *p == ' ') {
				/* [section "subsection"]: kept as section.subsection */
				p++;
				if (p >= e || *p != '"') {
					why = "bad section header";
					goto bad;
				}
				p++;
				if (n + 1 >= sizeof(section)) {
					why = "section name too long";
					goto bad;
				}
				section[n++] = '.';
				while (p < e && *p != '"' && *p != '\n') {
					if (n + 1 >= sizeof(section)) {
						why = "section name too long";
						goto bad;
					}
					section[n++] = *p++;
				}
				section[n] = '\0';
				if (p >= e || *p != '"') {
					why = "unterminated subsection name";
					goto bad;
				}
				p++;
			}
			if (p >= e || *p != ']') {
				why = "missing ']' in section header";
				goto bad;
			}
			p++;
			while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
				p++;
			if (p < e && *p != '\n' && *p != '#' && *p != ';') {
				why = "junk after section header";
				goto bad;
			}
			while (p < e && *p != '\n')
				p++;
			continue;
		}
		if (isalpha((unsigned char)*p)) {
			char key[160];
			size_t n = 0;

			if (!section[0]) {
				why = "key outside any section";
				goto bad;
			}
			n = (size_t)snprintf(key, sizeof(key), "%s.", section);
			while (p < e && name_char((unsigned char)*p)) {
				if (n + 1 >= sizeof(key)) {
					why = "key name too long";
					goto bad;
				}
				key[n++] = tolower((unsigned char)*p++);
			}
			key[n] = '\0';
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			buf_reset(&val);
			if (p >= e || *p == '\n' || *p == '#' || *p == ';' || *p == '\r') {
				buf_adds(&val, "true");
				while (p < e && *p != '\n')
					p++;
			} else if (*p == '=') {
				const char *q = ++p;

				if (parse_value(&p, e, &val, &why))
					goto bad;
				for (; q < p; q++)
					if (*q == '\n')
						line++;
			} else {
				why = "expected '=' after key";
				goto bad;
			}
			{
				char where[300];

				snprintf(where, sizeof(where), "%s:%d", name, start_line);
				if (fn(key, val.s ? val.s : "", where, arg))
					ret = -1;
			}
			if (ret)
				break;
			continue;
		}
		why = "syntax error";
bad:
		ret = error("%s:%d: %s", name, start_line, why);
		break;
	}
	buf_release(&val);
	return ret;
}

static int set_fn(const char *key, const char *value, const char *where, void *arg)
{
	return config_set(arg, key, value, where);
}

int config_parse(struct config *c, const char *text, size_t len, const char *name)
{
	return config_parse_each(text, len, name, set_fn, c);
}

static int config_env(struct config *c)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		char var[64], *d = var;
		const char *v;

		d += snprintf(var, sizeof(var), "Q_");
		for (const char *s = keys[i].name; *s && d < var + sizeof(var) - 1; s++)
			*d++ = *s == '.' ? '_' : toupper((unsigned char)*s);
		*d = '\0';
		v = getenv(var);
		if (v && config_set(c, keys[i].name, v, var))
			return -1;
	}
	return 0;
}

int config_load(struct config *c, const char *path)
{
	int fd = f_openat(AT_FDCWD, path, O_RDONLY, 0);
	struct stat st;

	if (fd < 0 && errno != ENOENT && errno != ELOOP)
		return error_errno("cannot open '%s'", path);
	if (fd < 0 && errno == ELOOP)
		warning("ignoring '%s': a symbolic link", path);
	/*
	 * Settings decide what runs and what is deleted: only a file of
	 * ours that nobody else can write counts (a q.conf beside a spool
	 * in /tmp could be anyone's).  A FIFO must not hang us either.
	 */
	if (fd >= 0 && fstat(fd, &st)) {
		close(fd);
		return error_errno("cannot stat '%s'", path);
	}
	if (fd >= 0 && (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))) {
		if (!S_ISREG(st.st_mode))
			warning("ignoring '%s': not a regular file", path);
		else if (st.st_uid != geteuid())
			warning("ignoring '%s': owned by uid %u, not %u", path, (unsigned)st.st_uid,
				(unsigned)geteuid());
		else
			warning("ignoring '%s': writable by group or others (mode %03o)", path,
				(unsigned)(st.st_mode & 0777));
		close(fd);
		fd = -1;
	}
	if (fd >= 0) {
		struct buf b = BUF_INIT;
		int r = f_read_all(fd, CONFIG_MAX_SIZE, &b);

		close(fd);
		if (r) {
			buf_release(&b);
			return error_errno("cannot read '%s'", path);
		}
		r = config_parse(c, b.s ? b.s : "", b.len, path);
		buf_release(&b);
		if (r)
			return -1;
	}
	return config_env(c);
}
