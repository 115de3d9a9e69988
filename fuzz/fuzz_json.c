/*
 * fuzz_json: json_parse on arbitrary bytes, then every token through
 * the getters, and what the reader and writer promise each other:
 *
 *  - an accepted document is one value: json_skip(0) is the token count,
 *    tokens lie inside the input, object keys are strings;
 *  - json_get finds every key of every object (the first of equal keys);
 *  - json_string returns NUL-free valid UTF-8, and json_quote of it
 *    reads back the same;
 *  - a document rebuilt with the jw_* writer from what the getters
 *    returned parses to the same tree.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_json: %s: ", #cond);            \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			abort();                                             \
		}                                                            \
	} while (0)

/* Is the subtree at t built the way valid JSON builds it? */
static int well_formed(const struct json *j, int t, int depth)
{
	const struct json_tok *k = &j->tok[t];
	int c = t + 1;

	if (depth > 30) /* struct jw nests 31 deep */
		return 0;
	if (k->type == JSON_STRING || k->type == JSON_PRIMITIVE)
		return k->size == 0;
	for (int m = 0; m < k->size; m++) {
		if (k->type == JSON_OBJECT) {
			if (j->tok[c].type != JSON_STRING || j->tok[c].size != 1)
				return 0;
			c++;
		}
		if (!well_formed(j, c, depth + 1))
			return 0;
		c = json_skip(j, c);
	}
	return 1;
}

/*
 * Write the subtree at t with jw_*; 0, or -1 if it holds what the
 * getters refuse (a string json_string rejects, a non-integer number).
 */
static int rewrite(const struct json *j, int t, struct jw *w)
{
	const struct json_tok *k = &j->tok[t];
	int c = t + 1, r = 0;
	int64_t v;
	int b;
	char *s;

	switch (k->type) {
	case JSON_STRING:
		if (json_string(j, t, &s))
			return -1; /* control characters, bad UTF-8, \u0000 */
		jw_str(w, s);
		free(s);
		return 0;
	case JSON_PRIMITIVE:
		if (json_is_null(j, t))
			jw_null(w);
		else if (json_bool(j, t, &b) == 0)
			jw_bool(w, b);
		else if (json_int(j, t, &v) == 0)
			jw_int(w, v);
		else
			return -1;
		return 0;
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (k->type == JSON_OBJECT)
			jw_obj(w);
		else
			jw_arr(w);
		for (int m = 0; m < k->size && !r; m++) {
			if (k->type == JSON_OBJECT) {
				if (json_string(j, c, &s)) {
					r = -1;
					break;
				}
				jw_key(w, s);
				free(s);
				c++;
			}
			r = rewrite(j, c, w);
			c = json_skip(j, c);
		}
		if (k->type == JSON_OBJECT)
			jw_obj_end(w);
		else
			jw_arr_end(w);
		return r;
	default:
		CHECK(0, "token %d has type %d", t, k->type);
	}
	return -1;
}

/* Do the trees of a and b have the same shape, strings and integers? */
static void same_tree(const struct json *a, const struct json *b)
{
	CHECK(a->ntok == b->ntok, "rewritten document has %d tokens, not %d", b->ntok, a->ntok);
	for (int t = 0; t < a->ntok; t++) {
		char *sa = NULL, *sb = NULL;
		int64_t va, vb;

		CHECK(a->tok[t].type == b->tok[t].type, "token %d changed type", t);
		CHECK(a->tok[t].size == b->tok[t].size, "token %d changed size", t);
		if (a->tok[t].type == JSON_STRING) {
			CHECK(json_string(a, t, &sa) == 0 && json_string(b, t, &sb) == 0,
			      "token %d does not unescape", t);
			CHECK(!strcmp(sa, sb), "token %d changed", t);
			free(sa);
			free(sb);
		} else if (a->tok[t].type == JSON_PRIMITIVE && json_int(a, t, &va) == 0) {
			CHECK(json_int(b, t, &vb) == 0 && va == vb, "integer token %d changed", t);
		}
	}
}

/* json_quote(s) read back is s. */
static void quote_round_trip(const char *s)
{
	struct buf b = BUF_INIT;
	struct json j;
	const char *why;
	char *back;

	buf_addc(&b, '[');
	json_quote(&b, s, strlen(s));
	buf_addc(&b, ']');
	CHECK(json_parse(&j, b.s, b.len, &why) == 0, "json_quote output does not parse: %s", why);
	CHECK(j.ntok == 2 && json_string(&j, 1, &back) == 0, "json_quote output is not a string");
	CHECK(!strcmp(back, s), "json_quote round trip changed the string");
	free(back);
	json_release(&j);
	buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct json j;
	const char *why = NULL;

	if (json_parse(&j, text, size, &why)) {
		CHECK(why && *why, "json_parse failed without a reason");
		CHECK(j.tok == NULL && j.ntok == 0, "json_parse failed but kept tokens");
		return 0;
	}
	CHECK(j.ntok > 0, "no tokens");
	CHECK(json_skip(&j, 0) == j.ntok, "more than one value");
	for (int t = 0; t < j.ntok; t++) {
		const struct json_tok *k = &j.tok[t];
		char *s;
		int64_t v;
		int b;

		CHECK(k->start >= 0 && k->end >= k->start && (size_t)k->end <= size,
		      "token %d is outside the input", t);
		CHECK(json_skip(&j, t) > t && json_skip(&j, t) <= j.ntok, "json_skip out of range");
		if (json_string(&j, t, &s) == 0) {
			CHECK(k->type == JSON_STRING, "json_string accepted token type %d", k->type);
			CHECK(utf8_valid(s, strlen(s)), "json_string returned invalid UTF-8");
			quote_round_trip(s);
			free(s);
		}
		if (json_int(&j, t, &v) == 0)
			CHECK(k->type == JSON_PRIMITIVE, "json_int accepted token type %d", k->type);
		if (json_bool(&j, t, &b) == 0)
			CHECK(k->type == JSON_PRIMITIVE && (b == 0 || b == 1), "json_bool");
		if (json_is_null(&j, t))
			CHECK(k->type == JSON_PRIMITIVE && k->end - k->start == 4, "json_is_null");
		if (k->type == JSON_OBJECT || k->type == JSON_ARRAY) {
			int c = t + 1;

			for (int m = 0; m < k->size; m++) {
				CHECK(c < j.ntok, "member %d of token %d is past the end", m, t);
				if (k->type == JSON_OBJECT) {
					char *raw = strndup(text + j.tok[c].start,
							    j.tok[c].end - j.tok[c].start);
					int g = json_get(&j, t, raw);

					CHECK(j.tok[c].type == JSON_STRING, "object key is not a string");
					/* json_get matches the raw key: the first equal one. */
					CHECK(g > t && g <= c + 1 && json_eq(&j, g - 1, raw),
					      "json_get of key %d of token %d gave %d", c, t, g);
					/* No raw key is a lone quote: it would end the string. */
					CHECK(json_get(&j, t, "\"") == -1, "json_get invented a key");
					free(raw);
					c++;
				}
				c = json_skip(&j, c);
			}
			CHECK(c == json_skip(&j, t), "members of token %d do not end where it does", t);
		} else {
			CHECK(json_get(&j, t, "") == -1, "json_get on a non-object");
		}
	}
	/* A bare scalar is not rewritten: json_parse wants a delimiter after one. */
	if ((j.tok[0].type == JSON_OBJECT || j.tok[0].type == JSON_ARRAY) && well_formed(&j, 0, 0)) {
		struct buf out = BUF_INIT;
		struct jw w;
		struct json back;

		jw_init(&w, &out);
		if (rewrite(&j, 0, &w) == 0) {
			CHECK(json_parse(&back, out.s, out.len, &why) == 0,
			      "jw output does not parse: %s: %s", why, out.s);
			same_tree(&j, &back);
			json_release(&back);
		}
		buf_release(&out);
	}
	json_release(&j);
	return 0;
}
