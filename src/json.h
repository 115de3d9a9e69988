#ifndef Q_JSON_H
#define Q_JSON_H
/*
 * JSON: a reader over jsmn (strict mode; the only includer of jsmn.h)
 * and a small writer.
 *
 * Reading: json_parse tokenises a whole document, checks that it is
 * exactly one value with nothing after it, and that every primitive is
 * true, false, null or a well-formed number.  Tokens are addressed by
 * index; json_get finds a key in an object; the typed getters convert
 * and validate one token.
 *
 * Writing: struct jw appends to a struct buf and places the commas;
 * strings are escaped (control characters as \u00XX); the caller passes
 * valid UTF-8.
 */
#include <stdint.h>

#include "util.h"

enum json_type { JSON_OTHER, JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_PRIMITIVE };

struct json_tok {
	enum json_type type;
	int start, end, size;
};

struct json {
	const char *text;
	struct json_tok *tok;
	int ntok;
};

/* Parse text[0..len); on error return -1 and set *why (static string). */
int json_parse(struct json *j, const char *text, size_t len, const char **why);
/*
 * Parse a JSON object of any size for its top-level members: the whole
 * text is checked, but only members whose values are not objects or
 * arrays are kept (those read as null), in copy, which j then reads.
 * A hook's payload carries a tool's whole output; this never tokenises it.
 */
int json_parse_top(struct json *j, struct buf *copy, const char *text, size_t len,
		   const char **why);
void json_release(struct json *j);

/* Index of the token after the subtree rooted at t. */
int json_skip(const struct json *j, int t);
/* Value of key in object obj, or -1. */
int json_get(const struct json *j, int obj, const char *key);
/* Does string token t equal s? */
int json_eq(const struct json *j, int t, const char *s);

int json_is_null(const struct json *j, int t);
/* Unescaped string (malloc'd, NUL-free, valid UTF-8) or -1. */
int json_string(const struct json *j, int t, char **out);
int json_int(const struct json *j, int t, int64_t *out);
int json_bool(const struct json *j, int t, int *out);

struct jw {
	struct buf *b;
	int depth;
	unsigned char need_comma[32];
};
void jw_init(struct jw *w, struct buf *b);
void jw_obj(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr(struct jw *w);
void jw_arr_end(struct jw *w);
void jw_key(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, int64_t v);
/* v, or null when is_null. */
void jw_int_or_null(struct jw *w, int64_t v, int is_null);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* A time in RFC 3339, or null when ms < 0. */
void jw_time(struct jw *w, int64_t ms);
/* A value already in JSON (checked by the caller), without its insignificant
 * whitespace; null when text is NULL. */
void jw_raw(struct jw *w, const char *text, size_t n);

/* Append s as a quoted JSON string to b. */
void json_quote(struct buf *b, const char *s, size_t n);

#endif
