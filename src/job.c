/* job.c: the job file.  See job.h and spool-format.md. */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";

void strv_push(struct strv *s, const char *str)
{
	s->v = xrealloc(s->v, (s->n + 2) * sizeof(*s->v));
	s->v[s->n++] = xstrdup(str);
	s->v[s->n] = NULL;
}

void strv_clear(struct strv *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

void job_init(struct job *job)
{
	memset(job, 0, sizeof(*job));
	job->type = job_type_find("exec");
	job->priority = PRIO_NORMAL;
	job->max_attempts = 1;
	job->max_interrupts = 3;
	job->queue_max = 1;
	job->version = JOB_VERSION;
	job->backoff_ms = 1000;
	job->backoff_max_ms = 300000;
	job->run_at = -1;
	job->deadline = -1;
}

void job_release(struct job *job)
{
	strv_clear(&job->argv);
	strv_clear(&job->env);
	strv_clear(&job->after);
	strv_clear(&job->secret_env);
	strv_clear(&job->env_dropped);
	strv_clear(&job->labels);
	free(job->type_name);
	free(job->args);
	free(job->cwd);
	free(job->key);
	free(job->queue);
	job_init(job);
}

int id_valid(const char *s)
{
	return strlen(s) == ID_LEN && id_prefix_valid(s);
}

int id_prefix_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > ID_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(b32, s[i]))
			return 0;
	return 1;
}

int64_t id_time(const char *id)
{
	int64_t ms = 0;

	if (!id_valid(id))
		return -1;
	for (int i = 0; i < 9; i++)
		ms = ms * 32 + (strchr(b32, id[i]) - b32);
	return ms;
}

void id_new(char out[ID_LEN + 1], int64_t ms)
{
	unsigned char r[4];
	uint32_t rnd;
	uint64_t t = (uint64_t)ms;

	for (int i = 8; i >= 0; i--) {
		out[i] = b32[t & 31];
		t >>= 5;
	}
	random_bytes(r, sizeof(r));
	rnd = (uint32_t)r[0] | (uint32_t)r[1] << 8 | (uint32_t)r[2] << 16 | (uint32_t)r[3] << 24;
	for (int i = 13; i >= 9; i--) {
		out[i] = b32[rnd & 31];
		rnd >>= 5;
	}
	out[ID_LEN] = '\0';
}

int queue_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > QUEUE_MAX_LEN || !utf8_valid(s, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

int job_has_label(const struct job *job, const char *label)
{
	for (int i = 0; i < job->labels.n; i++)
		if (!strcmp(job->labels.v[i], label))
			return 1;
	return 0;
}

int priority_parse(const char *s)
{
	if (!strcmp(s, "high"))
		return PRIO_HIGH;
	if (!strcmp(s, "normal"))
		return PRIO_NORMAL;
	if (!strcmp(s, "low"))
		return PRIO_LOW;
	if (s[0] >= '0' && s[0] <= '9' && !s[1])
		return s[0] - '0';
	return -1;
}

int env_is_secret(const struct job *job, const char *name, size_t len)
{
	static const char *const known[] = { "GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN",
					     "GITHUB_ENTERPRISE_TOKEN" };

	for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++)
		if (strlen(known[i]) == len && !memcmp(known[i], name, len))
			return 1;
	for (int i = 0; i < job->secret_env.n; i++)
		if (strlen(job->secret_env.v[i]) == len && !memcmp(job->secret_env.v[i], name, len))
			return 1;
	return 0;
}

/* ------------------------------------------------------------ parsing */

#define BAD(...) do { snprintf(why, whylen, __VA_ARGS__); goto fail; } while (0)

static int get_strv(const struct json *j, int t, struct strv *out)
{
	int c;

	if (j->tok[t].type != JSON_ARRAY || j->tok[t].size > JOB_MAX_ARGS)
		return -1;
	c = t + 1;
	for (int i = 0; i < j->tok[t].size; i++) {
		char *s;

		if (json_string(j, c, &s))
			return -1;
		out->v = xrealloc(out->v, (out->n + 2) * sizeof(*out->v));
		out->v[out->n++] = s;
		out->v[out->n] = NULL;
		c++;
	}
	return 0;
}

static int get_time(const struct json *j, int t, int64_t *ms)
{
	char *s;
	int r;

	if (json_is_null(j, t)) {
		*ms = -1;
		return 0;
	}
	if (json_string(j, t, &s))
		return -1;
	r = time_parse_rfc3339(s, ms);
	free(s);
	return r;
}

static int get_ms(const struct json *j, int t, int64_t *ms)
{
	return json_int(j, t, ms) || *ms < 0 ? -1 : 0;
}

/* The fields every type shares, after id and type. */
static int parse_common(struct job *job, const struct json *j, char *why, size_t whylen)
{
	int64_t v;
	int t;

	if ((t = json_get(j, 0, "cwd")) < 0 || json_string(j, t, &job->cwd) || job->cwd[0] != '/')
		BAD("'cwd' is not an absolute path");
	if ((t = json_get(j, 0, "created_at")) < 0 || get_time(j, t, &job->created_at) ||
	    job->created_at < 0)
		BAD("missing or invalid 'created_at'");
	if ((t = json_get(j, 0, "env")) >= 0) {
		int c = t + 1;

		if (j->tok[t].type != JSON_OBJECT)
			BAD("'env' is not an object of strings");
		for (int i = 0; i < j->tok[t].size; i++) {
			char *k, *val;

			if (json_string(j, c, &k))
				BAD("'env' has an invalid name");
			if (!*k || strchr(k, '=') || json_string(j, c + 1, &val)) {
				free(k);
				BAD("'env' is not an object of strings");
			}
			{
				struct buf kv = BUF_INIT;

				buf_addf(&kv, "%s=%s", k, val);
				job->env.v = xrealloc(job->env.v, (job->env.n + 2) * sizeof(char *));
				job->env.v[job->env.n++] = buf_detach(&kv);
				job->env.v[job->env.n] = NULL;
			}
			free(k);
			free(val);
			c += 2;
		}
	}
	if ((t = json_get(j, 0, "env_dropped")) >= 0 && get_strv(j, t, &job->env_dropped))
		BAD("'env_dropped' is not an array of strings");
	if ((t = json_get(j, 0, "priority")) >= 0 &&
	    (json_int(j, t, &v) || v < 0 || v > 9 || ((job->priority = v), 0)))
		BAD("'priority' is not 0-9");
	if ((t = json_get(j, 0, "max_attempts")) >= 0 &&
	    (json_int(j, t, &v) || v < 1 || v > 1000000 || ((job->max_attempts = v), 0)))
		BAD("'max_attempts' is not a positive integer");
	if ((t = json_get(j, 0, "max_interrupts")) >= 0 &&
	    (json_int(j, t, &v) || v < 1 || v > 1000000 || ((job->max_interrupts = v), 0)))
		BAD("'max_interrupts' is not a positive integer");
	if ((t = json_get(j, 0, "backoff_ms")) >= 0 && get_ms(j, t, &job->backoff_ms))
		BAD("invalid 'backoff_ms'");
	if ((t = json_get(j, 0, "backoff_max_ms")) >= 0 && get_ms(j, t, &job->backoff_max_ms))
		BAD("invalid 'backoff_max_ms'");
	if ((t = json_get(j, 0, "timeout_ms")) >= 0 && get_ms(j, t, &job->timeout_ms))
		BAD("invalid 'timeout_ms'");
	if ((t = json_get(j, 0, "retry_timeout")) >= 0 && json_bool(j, t, &job->retry_timeout))
		BAD("invalid 'retry_timeout'");
	if ((t = json_get(j, 0, "run_at")) >= 0 && get_time(j, t, &job->run_at))
		BAD("invalid 'run_at'");
	if ((t = json_get(j, 0, "deadline")) >= 0 && get_time(j, t, &job->deadline))
		BAD("invalid 'deadline'");
	if ((t = json_get(j, 0, "after")) >= 0) {
		if (get_strv(j, t, &job->after))
			BAD("'after' is not an array of ids");
		for (int i = 0; i < job->after.n; i++)
			if (!id_valid(job->after.v[i]))
				BAD("'after' is not an array of ids");
	}
	if ((t = json_get(j, 0, "key")) >= 0 && !json_is_null(j, t) &&
	    (json_string(j, t, &job->key) || !*job->key || strlen(job->key) > KEY_MAX))
		BAD("invalid 'key'");
	if ((t = json_get(j, 0, "secret_env")) >= 0 && get_strv(j, t, &job->secret_env))
		BAD("'secret_env' is not an array of strings");
	if ((t = json_get(j, 0, "labels")) >= 0) {
		if (get_strv(j, t, &job->labels))
			BAD("'labels' is not an array of strings");
		for (int i = 0; i < job->labels.n; i++)
			if (!queue_valid(job->labels.v[i]))
				BAD("'labels' has an invalid label");
	}
	if ((t = json_get(j, 0, "queue")) >= 0 && !json_is_null(j, t) &&
	    (json_string(j, t, &job->queue) || !queue_valid(job->queue)))
		BAD("invalid 'queue'");
	if ((t = json_get(j, 0, "queue_max")) >= 0 &&
	    (json_int(j, t, &v) || v < 1 || v > 1000 || ((job->queue_max = v), 0)))
		BAD("'queue_max' is not 1-1000");
	return 0;
fail:
	return -1;
}

int job_parse(struct job *job, const char *text, size_t len, char *why, size_t whylen)
{
	struct json j;
	const char *jwhy;
	int64_t v, version;
	int t, ret = 0;
	char *s = NULL;

	job_init(job);
	job->type = NULL;
	if (len > JOB_MAX_SIZE) {
		snprintf(why, whylen, "job file larger than %d bytes", JOB_MAX_SIZE);
		return -1;
	}
	if (json_parse(&j, text, len, &jwhy)) {
		snprintf(why, whylen, "%s", jwhy);
		return -1;
	}
	if (j.tok[0].type != JSON_OBJECT)
		BAD("job file is not a JSON object");
	if ((t = json_get(&j, 0, "version")) < 0 || json_int(&j, t, &v) || v < 1)
		BAD("missing or invalid 'version'");
	if ((t = json_get(&j, 0, "id")) < 0 || json_string(&j, t, &s) || !id_valid(s))
		BAD("missing or invalid 'id'");
	memcpy(job->id, s, ID_LEN + 1);
	free(s);
	s = NULL;
	if ((t = json_get(&j, 0, "type")) < 0 || json_string(&j, t, &job->type_name) ||
	    !*job->type_name || strlen(job->type_name) > 40)
		BAD("missing or invalid 'type'");
	version = v;
	job->version = v > 1000000 ? 1000000 : (int)v;
	if (v > JOB_VERSION) {
		/* A newer q wrote it: keep it for that q, whatever else it holds. */
		if (parse_common(job, &j, why, whylen)) {
			char id[ID_LEN + 1], *type = job->type_name;

			memcpy(id, job->id, sizeof(id));
			job->type_name = NULL;
			job_release(job);
			job->type = NULL;
			memcpy(job->id, id, sizeof(id));
			job->type_name = type;
			job->version = version > 1000000 ? 1000000 : (int)version;
			job->partial = 1;
			if ((t = json_get(&j, 0, "priority")) >= 0 && !json_int(&j, t, &v) && v >= 0 &&
			    v <= 9)
				job->priority = v;
		}
		snprintf(why, whylen, "job file version %lld is newer than this q (%d)",
			 (long long)version, JOB_VERSION);
		json_release(&j);
		return JOB_FOREIGN;
	}
	if (parse_common(job, &j, why, whylen))
		goto fail;
	job->type = job_type_find(job->type_name);
	if ((t = json_get(&j, 0, "argv")) >= 0 && get_strv(&j, t, &job->argv))
		BAD("'argv' is not a non-empty array of strings");
	if ((t = json_get(&j, 0, "args")) >= 0) {
		const struct json_tok *k = &j.tok[t];

		if (k->type != JSON_OBJECT)
			BAD("'args' is not an object");
		if (k->end - k->start > JOB_ARGS_MAX)
			BAD("'args' larger than %d bytes", JOB_ARGS_MAX);
		job->args = xstrndup(text + k->start, k->end - k->start);
	}
	if (!job->type) {
		snprintf(why, whylen, "job type '%s' is unknown to this q", job->type_name);
		ret = JOB_FOREIGN;
	} else if (job->type->run == RUN_EXEC) {
		if (!job->argv.n)
			BAD("'argv' is not a non-empty array of strings");
	} else {
		if (t < 0)
			BAD("'args' is missing (type '%s')", job->type_name);
		if (job->type->check && job->type->check(&j, t, why, whylen))
			goto fail;
	}
	json_release(&j);
	return ret;
fail:
	free(s);
	json_release(&j);
	job_release(job);
	return -1;
}

/* ---------------------------------------------------------- formatting */

static void put_strv(struct jw *w, const char *key, const struct strv *s)
{
	jw_key(w, key);
	jw_arr(w);
	for (int i = 0; i < s->n; i++)
		jw_str(w, s->v[i]);
	jw_arr_end(w);
}

void job_format(const struct job *job, struct buf *out)
{
	struct jw w;

	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "version");
	jw_int(&w, JOB_VERSION);
	jw_key(&w, "id");
	jw_str(&w, job->id);
	jw_key(&w, "type");
	jw_str(&w, job->type ? job->type->name : job->type_name);
	if (job->argv.n)
		put_strv(&w, "argv", &job->argv);
	if (job->args) {
		jw_key(&w, "args");
		jw_raw(&w, job->args, strlen(job->args));
	}
	jw_key(&w, "cwd");
	jw_str(&w, job->cwd);
	jw_key(&w, "env");
	jw_obj(&w);
	for (int i = 0; i < job->env.n; i++) {
		const char *eq = strchr(job->env.v[i], '=');
		char *name;

		if (!eq)
			continue;
		name = xstrndup(job->env.v[i], eq - job->env.v[i]);
		jw_key(&w, name);
		jw_str(&w, eq + 1);
		free(name);
	}
	jw_obj_end(&w);
	if (job->env_dropped.n)
		put_strv(&w, "env_dropped", &job->env_dropped);
	jw_key(&w, "created_at");
	jw_time(&w, job->created_at);
	jw_key(&w, "priority");
	jw_int(&w, job->priority);
	jw_key(&w, "max_attempts");
	jw_int(&w, job->max_attempts);
	jw_key(&w, "max_interrupts");
	jw_int(&w, job->max_interrupts);
	jw_key(&w, "backoff_ms");
	jw_int(&w, job->backoff_ms);
	jw_key(&w, "backoff_max_ms");
	jw_int(&w, job->backoff_max_ms);
	jw_key(&w, "timeout_ms");
	jw_int(&w, job->timeout_ms);
	jw_key(&w, "retry_timeout");
	jw_bool(&w, job->retry_timeout);
	jw_key(&w, "run_at");
	jw_time(&w, job->run_at);
	jw_key(&w, "deadline");
	jw_time(&w, job->deadline);
	put_strv(&w, "after", &job->after);
	jw_key(&w, "key");
	jw_str(&w, job->key);
	put_strv(&w, "secret_env", &job->secret_env);
	if (job->labels.n)
		put_strv(&w, "labels", &job->labels);
	if (job->queue) {
		jw_key(&w, "queue");
		jw_str(&w, job->queue);
		jw_key(&w, "queue_max");
		jw_int(&w, job->queue_max);
	}
	jw_obj_end(&w);
	buf_addc(out, '\n');
}

void shell_quote(struct buf *b, const char *a)
{
	int plain = *a != '\0';

	for (const char *p = a; *p && plain; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%", *p) &&
		    (unsigned char)*p < 0x80)
			plain = 0;
	if (plain) {
		buf_adds(b, a);
		return;
	}
	buf_addc(b, '\'');
	for (; *a; a++) {
		if (*a == '\'')
			buf_adds(b, "'\\''");
		else if (*a == '\n')
			buf_adds(b, "\\n");
		else
			buf_add_visible(b, a, 1);
	}
	buf_addc(b, '\'');
}

void job_describe(struct buf *b, const struct job *job, size_t max)
{
	size_t start = b->len;

	if (job->type && job->type->describe)
		job->type->describe(b, job);
	else if (job->version > JOB_VERSION)
		buf_addf(b, "%s job (version %d, for a newer q)", job->type_name, job->version);
	else
		buf_addf(b, "%s job (a type this q does not know)", job->type_name ? job->type_name : "?");
	if (max && b->len - start > max) {
		size_t cut = start + max - 3;

		/* Never cut a UTF-8 character in two. */
		while (cut > start && ((unsigned char)b->s[cut] & 0xc0) == 0x80)
			cut--;
		b->len = cut;
		buf_adds(b, "...");
	}
}
