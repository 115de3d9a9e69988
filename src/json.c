/* json.c: jsmn-based reader and a small writer.  See json.h. */
#define JSMN_STRICT
#define JSMN_STATIC
#include <jsmn.h>

#include "json.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Deeper nesting than this is refused: no job needs it. */
#define JSON_MAX_TOKENS (1 << 20)

static int number_ok(const char *s, int n)
{
	int i = 0;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n || !isdigit((unsigned char)s[i]))
		return 0;
	if (s[i] == '0')
		i++;
	else
		while (i < n && isdigit((unsigned char)s[i]))
			i++;
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || !isdigit((unsigned char)s[i]))
			return 0;
		while (i < n && isdigit((unsigned char)s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !isdigit((unsigned char)s[i]))
			return 0;
		while (i < n && isdigit((unsigned char)s[i]))
			i++;
	}
	return i == n;
}

static int primitive_ok(const char *s, int n)
{
	return (n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5)) ||
	       (n == 4 && !memcmp(s, "null", 4)) || number_ok(s, n);
}

/*
 * The JSON grammar (RFC 8259), checked before jsmn tokenises: jsmn does
 * not check commas and colons, so "[1 2]" or ["a":1] would pass it.
 * Returns the position after the value at p, or NULL.
 */
#define JSON_MAX_DEPTH 64

static const char *skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *syntax_value(const char *p, const char *e, int depth);

static const char *syntax_string(const char *p, const char *e)
{
	if (p >= e || *p != '"')
		return NULL;
	for (p++; p < e; p++) {
		if (*p == '"')
			return p + 1;
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			if (++p >= e)
				return NULL;
			if (*p == 'u') {
				for (int i = 0; i < 4; i++)
					if (++p >= e || !isxdigit((unsigned char)*p))
						return NULL;
			} else if (!strchr("\"\\/bfnrt", *p) || !*p) {
				return NULL;
			}
		}
	}
	return NULL;
}

static const char *syntax_container(const char *p, const char *e, int depth, char close)
{
	p = skip_ws(p + 1, e);
	if (p < e && *p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			if (!(p = syntax_string(p, e)))
				return NULL;
			p = skip_ws(p, e);
			if (p >= e || *p != ':')
				return NULL;
			p = skip_ws(p + 1, e);
		}
		if (!(p = syntax_value(p, e, depth + 1)))
			return NULL;
		p = skip_ws(p, e);
		if (p < e && *p == close)
			return p + 1;
		if (p >= e || *p != ',')
			return NULL;
		p = skip_ws(p + 1, e);
	}
}

static const char *syntax_value(const char *p, const char *e, int depth)
{
	const char *start = p;

	if (p >= e || depth > JSON_MAX_DEPTH)
		return NULL;
	if (*p == '{')
		return syntax_container(p, e, depth, '}');
	if (*p == '[')
		return syntax_container(p, e, depth, ']');
	if (*p == '"')
		return syntax_string(p, e);
	while (p < e && (isalnum((unsigned char)*p) || *p == '-' || *p == '+' || *p == '.'))
		p++;
	return p > start && primitive_ok(start, p - start) ? p : NULL;
}

int json_parse(struct json *j, const char *text, size_t len, const char **why)
{
	const char *end;

	jsmn_parser p;
	jsmntok_t *t;
	int n;

	j->text = text;
	j->tok = NULL;
	j->ntok = 0;
	if (memchr(text, '\0', len)) {
		*why = "NUL byte in JSON";
		return -1;
	}
	if (skip_ws(text, text + len) == text + len) {
		*why = "empty JSON";
		return -1;
	}
	end = syntax_value(skip_ws(text, text + len), text + len, 0);
	if (!end || skip_ws(end, text + len) != text + len) {
		*why = "malformed JSON";
		return -1;
	}
	jsmn_init(&p);
	n = jsmn_parse(&p, text, len, NULL, 0);
	if (n <= 0 || n > JSON_MAX_TOKENS) {
		*why = n == 0 ? "empty JSON" : n > 0 ? "JSON too large" : "malformed JSON";
		return -1;
	}
	t = calloc(n, sizeof(*t));
	if (!t)
		die(EXIT_RUNTIME, "out of memory");
	jsmn_init(&p);
	if (jsmn_parse(&p, text, len, t, n) != n) {
		free(t);
		*why = "malformed JSON";
		return -1;
	}
	j->tok = xcalloc(n, sizeof(*j->tok));
	for (int i = 0; i < n; i++) {
		j->tok[i].type = t[i].type == JSMN_OBJECT ? JSON_OBJECT :
				 t[i].type == JSMN_ARRAY ? JSON_ARRAY :
				 t[i].type == JSMN_STRING ? JSON_STRING :
				 t[i].type == JSMN_PRIMITIVE ? JSON_PRIMITIVE : JSON_OTHER;
		j->tok[i].start = t[i].start;
		j->tok[i].end = t[i].end;
		j->tok[i].size = t[i].size;
	}
	free(t);
	j->ntok = n;
	/* Exactly one value, every object key a string, primitives valid. */
	if (json_skip(j, 0) != n) {
		*why = "trailing data after JSON value";
		goto fail;
	}
	for (size_t i = j->tok[0].end; i < len; i++)
		if (!isspace((unsigned char)text[i])) {
			*why = "trailing data after JSON value";
			goto fail;
		}
	for (int i = 0; i < n; i++) {
		struct json_tok *k = &j->tok[i];

		if (k->start < 0 || k->end < k->start || k->type == JSON_OTHER) {
			*why = "malformed JSON";
			goto fail;
		}
		if (k->type == JSON_PRIMITIVE && !primitive_ok(text + k->start, k->end - k->start)) {
			*why = "invalid JSON literal";
			goto fail;
		}
		if (k->type == JSON_OBJECT) {
			int c = i + 1;

			for (int m = 0; m < k->size; m++) {
				if (c >= n || j->tok[c].type != JSON_STRING || j->tok[c].size != 1) {
					*why = "object key is not a string";
					goto fail;
				}
				c = json_skip(j, c + 1);
			}
		}
	}
	return 0;
fail:
	json_release(j);
	return -1;
}

int json_parse_top(struct json *j, struct buf *copy, const char *text, size_t len,
		   const char **why)
{
	const char *p = skip_ws(text, text + len), *e = text + len;
	int n = 0;

	buf_reset(copy);
	j->tok = NULL;
	j->ntok = 0;
	if (memchr(text, '\0', len) || p >= e || *p != '{')
		goto bad;
	buf_addc(copy, '{');
	p = skip_ws(p + 1, e);
	if (p < e && *p == '}') {
		p++;
	} else {
		for (;;) {
			const char *key = p, *val;

			if (!(p = syntax_string(p, e)))
				goto bad;
			if (n++)
				buf_addc(copy, ',');
			buf_add(copy, key, p - key);
			buf_addc(copy, ':');
			p = skip_ws(p, e);
			if (p >= e || *p != ':')
				goto bad;
			val = skip_ws(p + 1, e);
			if (!(p = syntax_value(val, e, 1)))
				goto bad;
			/* A container (a tool's whole output) is checked, not kept. */
			if (*val == '{' || *val == '[')
				buf_adds(copy, "null");
			else
				buf_add(copy, val, p - val);
			p = skip_ws(p, e);
			if (p < e && *p == '}') {
				p++;
				break;
			}
			if (p >= e || *p != ',')
				goto bad;
			p = skip_ws(p + 1, e);
		}
	}
	if (skip_ws(p, e) != e)
		goto bad;
	buf_addc(copy, '}');
	return json_parse(j, copy->s, copy->len, why);
bad:
	*why = "malformed JSON";
	return -1;
}

void json_release(struct json *j)
{
	free(j->tok);
	j->tok = NULL;
	j->ntok = 0;
}

int json_skip(const struct json *j, int t)
{
	int left = 1;

	while (left > 0 && t < j->ntok) {
		struct json_tok *k = &j->tok[t];

		left--;
		/* An object's children are its keys; each key's child is its value. */
		left += k->size;
		t++;
	}
	return t;
}

int json_eq(const struct json *j, int t, const char *s)
{
	const struct json_tok *k = &j->tok[t];
	size_t n = strlen(s);

	return k->type == JSON_STRING && (size_t)(k->end - k->start) == n &&
	       !memcmp(j->text + k->start, s, n);
}

int json_get(const struct json *j, int obj, const char *key)
{
	int c;

	if (obj < 0 || obj >= j->ntok || j->tok[obj].type != JSON_OBJECT)
		return -1;
	c = obj + 1;
	for (int m = 0; m < j->tok[obj].size; m++) {
		if (json_eq(j, c, key))
			return c + 1;
		c = json_skip(j, c + 1);
	}
	return -1;
}

int json_is_null(const struct json *j, int t)
{
	const struct json_tok *k = &j->tok[t];

	return k->type == JSON_PRIMITIVE && j->text[k->start] == 'n';
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		int c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static void put_utf8(struct buf *b, unsigned cp)
{
	char u[4];
	int n;

	if (cp < 0x80) {
		u[0] = cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = 0xc0 | cp >> 6;
		u[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = 0xe0 | cp >> 12;
		u[1] = 0x80 | (cp >> 6 & 0x3f);
		u[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		u[0] = 0xf0 | cp >> 18;
		u[1] = 0x80 | (cp >> 12 & 0x3f);
		u[2] = 0x80 | (cp >> 6 & 0x3f);
		u[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	buf_add(b, u, n);
}

int json_string(const struct json *j, int t, char **out)
{
	const struct json_tok *k = &j->tok[t];
	const char *s = j->text + k->start, *e = j->text + k->end;
	struct buf b = BUF_INIT;

	if (k->type != JSON_STRING)
		return -1;
	buf_grow(&b, e - s);
	while (s < e) {
		unsigned cp, lo;

		if ((unsigned char)*s < 0x20)
			goto bad;
		if (*s != '\\') {
			buf_addc(&b, *s++);
			continue;
		}
		if (++s >= e)
			goto bad;
		switch (*s++) {
		case '"': buf_addc(&b, '"'); break;
		case '\\': buf_addc(&b, '\\'); break;
		case '/': buf_addc(&b, '/'); break;
		case 'b': buf_addc(&b, '\b'); break;
		case 'f': buf_addc(&b, '\f'); break;
		case 'n': buf_addc(&b, '\n'); break;
		case 'r': buf_addc(&b, '\r'); break;
		case 't': buf_addc(&b, '\t'); break;
		case 'u':
			if (e - s < 4 || hex4(s, &cp))
				goto bad;
			s += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (e - s < 6 || s[0] != '\\' || s[1] != 'u' || hex4(s + 2, &lo) ||
				    lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				s += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				goto bad;
			}
			if (cp == 0)
				goto bad; /* strings become C strings */
			put_utf8(&b, cp);
			break;
		default:
			goto bad;
		}
	}
	if (!utf8_valid(b.s ? b.s : "", b.len))
		goto bad;
	*out = buf_detach(&b);
	return 0;
bad:
	buf_release(&b);
	return -1;
}

int json_int(const struct json *j, int t, int64_t *out)
{
	const struct json_tok *k = &j->tok[t];
	char tmp[32];
	int n = k->end - k->start;
	long long v;

	if (k->type != JSON_PRIMITIVE || n <= 0 || n >= (int)sizeof(tmp))
		return -1;
	memcpy(tmp, j->text + k->start, n);
	tmp[n] = '\0';
	if (parse_int(tmp, INT64_MIN, INT64_MAX, &v))
		return -1;
	*out = v;
	return 0;
}

int json_bool(const struct json *j, int t, int *out)
{
	const struct json_tok *k = &j->tok[t];

	if (k->type != JSON_PRIMITIVE)
		return -1;
	if (j->text[k->start] == 't')
		*out = 1;
	else if (j->text[k->start] == 'f')
		*out = 0;
	else
		return -1;
	return 0;
}

/* ------------------------------------------------------------- writer */

void json_quote(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	buf_grow(b, n + 2);
	buf_addc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		switch (c) {
		case '"': buf_adds(b, "\\\""); break;
		case '\\': buf_adds(b, "\\\\"); break;
		case '\n': buf_adds(b, "\\n"); break;
		case '\r': buf_adds(b, "\\r"); break;
		case '\t': buf_adds(b, "\\t"); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				char u[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
				buf_adds(b, u);
			} else {
				buf_addc(b, c);
			}
		}
	}
	buf_addc(b, '"');
}

void jw_init(struct jw *w, struct buf *b)
{
	w->b = b;
	w->depth = 0;
	w->need_comma[0] = 0;
}

static void jw_value(struct jw *w)
{
	if (w->need_comma[w->depth])
		buf_addc(w->b, ',');
	w->need_comma[w->depth] = 1;
}

static void jw_open(struct jw *w, char c)
{
	jw_value(w);
	buf_addc(w->b, c);
	if (w->depth < (int)sizeof(w->need_comma) - 1)
		w->depth++;
	w->need_comma[w->depth] = 0;
}

static void jw_close(struct jw *w, char c)
{
	buf_addc(w->b, c);
	if (w->depth > 0)
		w->depth--;
}

void jw_obj(struct jw *w) { jw_open(w, '{'); }
void jw_obj_end(struct jw *w) { jw_close(w, '}'); }
void jw_arr(struct jw *w) { jw_open(w, '['); }
void jw_arr_end(struct jw *w) { jw_close(w, ']'); }

void jw_key(struct jw *w, const char *key)
{
	jw_value(w);
	json_quote(w->b, key, strlen(key));
	buf_addc(w->b, ':');
	w->need_comma[w->depth] = 0;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	jw_value(w);
	json_quote(w->b, s, n);
}

void jw_str(struct jw *w, const char *s)
{
	if (!s) {
		jw_null(w);
		return;
	}
	jw_strn(w, s, strlen(s));
}

void jw_int(struct jw *w, int64_t v)
{
	jw_value(w);
	buf_addf(w->b, "%lld", (long long)v);
}

void jw_int_or_null(struct jw *w, int64_t v, int is_null)
{
	if (is_null)
		jw_null(w);
	else
		jw_int(w, v);
}

void jw_bool(struct jw *w, int v)
{
	jw_value(w);
	buf_adds(w->b, v ? "true" : "false");
}

void jw_null(struct jw *w)
{
	jw_value(w);
	buf_adds(w->b, "null");
}

void jw_raw(struct jw *w, const char *text, size_t n)
{
	if (!text) {
		jw_null(w);
		return;
	}
	jw_value(w);
	/* Valid JSON, so whitespace outside strings is insignificant: drop
	 * it, and the output stays one line whatever the text looked like. */
	for (size_t i = 0, in_str = 0; i < n; i++) {
		char c = text[i];

		if (in_str) {
			if (c == '\\' && i + 1 < n) {
				buf_add(w->b, &c, 1);
				c = text[++i];
			} else if (c == '"') {
				in_str = 0;
			}
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			continue;
		} else if (c == '"') {
			in_str = 1;
		}
		buf_add(w->b, &c, 1);
	}
}

void jw_time(struct jw *w, int64_t ms)
{
	char t[TIME_LEN];

	if (ms < 0) {
		jw_null(w);
		return;
	}
	time_format(ms, t);
	jw_str(w, t);
}
