/* SPDX-License-Identifier: MIT */
/* json.c: a small, strict JSON parser for the tests: it checks that a program's output is
 * valid JSON (RFC 8259, UTF-8) and reads fields out of it, failing the test otherwise. */
#define _GNU_SOURCE
#include "json.h"

#include <stdlib.h>
#include <string.h>

struct jp {
	const char *p;
	const char *why; /* set on the first error */
};

static bool jp_fail(struct jp *jp, const char *why)
{
	if (!jp->why)
		jp->why = why;
	return false;
}

/* The next character, consumed; never steps past the terminating NUL. */
static char jp_next(struct jp *jp)
{
	return *jp->p ? *jp->p++ : '\0';
}

static void jp_space(struct jp *jp)
{
	while (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r')
		jp->p++;
}

static void put_utf8(char **o, unsigned cp)
{
	unsigned char *q = (unsigned char *)*o;

	if (cp < 0x80) {
		*q++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*q++ = (unsigned char)(0xc0 | cp >> 6);
		*q++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*q++ = (unsigned char)(0xe0 | cp >> 12);
		*q++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*q++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*q++ = (unsigned char)(0xf0 | cp >> 18);
		*q++ = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		*q++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*q++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	*o = (char *)q;
}

static bool jp_hex4(struct jp *jp, unsigned *out)
{
	*out = 0;
	for (int i = 0; i < 4; i++) {
		char c = jp_next(jp);

		*out <<= 4;
		if (c >= '0' && c <= '9')
			*out |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*out |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*out |= (unsigned)(c - 'A' + 10);
		else
			return jp_fail(jp, "bad \\u escape");
	}
	return true;
}

/* Length of a valid UTF-8 sequence at s, 0 if there is none. */
static int utf8_seq(const unsigned char *s)
{
	int n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : 0;

	for (int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)))
		return 0; /* overlong, surrogate */
	if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90)))
		return 0;
	return n;
}

static bool jp_string(struct jp *jp, char **out)
{
	size_t cap = strlen(jp->p) + 1;
	char *o = malloc(cap), *start = o;

	cr_assert_not_null(o);
	if (jp_next(jp) != '"') {
		free(start);
		return jp_fail(jp, "expected a string");
	}
	for (;;) {
		unsigned char c = (unsigned char)*jp->p;

		if (c == '"') {
			jp->p++;
			break;
		}
		if (c < 0x20) {
			free(start);
			return jp_fail(jp, c ? "control character in a string" : "unterminated string");
		}
		if (c == '\\') {
			unsigned cp;

			jp->p++;
			switch (jp_next(jp)) {
			case '"': *o++ = '"'; break;
			case '\\': *o++ = '\\'; break;
			case '/': *o++ = '/'; break;
			case 'b': *o++ = '\b'; break;
			case 'f': *o++ = '\f'; break;
			case 'n': *o++ = '\n'; break;
			case 'r': *o++ = '\r'; break;
			case 't': *o++ = '\t'; break;
			case 'u':
				if (!jp_hex4(jp, &cp)) {
					free(start);
					return false;
				}
				if (cp >= 0xd800 && cp <= 0xdbff) {
					unsigned lo;

					if (jp->p[0] != '\\' || jp->p[1] != 'u') {
						free(start);
						return jp_fail(jp, "lone high surrogate");
					}
					jp->p += 2;
					if (!jp_hex4(jp, &lo) || lo < 0xdc00 || lo > 0xdfff) {
						free(start);
						return jp_fail(jp, "bad low surrogate");
					}
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				} else if (cp >= 0xdc00 && cp <= 0xdfff) {
					free(start);
					return jp_fail(jp, "lone low surrogate");
				}
				put_utf8(&o, cp);
				break;
			default:
				free(start);
				return jp_fail(jp, "bad escape");
			}
			continue;
		}
		if (c < 0x80) {
			*o++ = (char)c;
			jp->p++;
		} else {
			int n = utf8_seq((const unsigned char *)jp->p);

			if (n == 0) {
				free(start);
				return jp_fail(jp, "invalid UTF-8");
			}
			memcpy(o, jp->p, (size_t)n);
			o += n;
			jp->p += n;
		}
	}
	*o = '\0';
	*out = start;
	return true;
}

static bool jp_digits(struct jp *jp)
{
	if (*jp->p < '0' || *jp->p > '9')
		return false;
	while (*jp->p >= '0' && *jp->p <= '9')
		jp->p++;
	return true;
}

static bool jp_value(struct jp *jp, struct jv *v, int depth);

static bool jp_members(struct jp *jp, struct jv *v, int depth, char close)
{
	size_t cap = 0;

	jp->p++;
	jp_space(jp);
	if (*jp->p == close) {
		jp->p++;
		return true;
	}
	for (;;) {
		char *key = NULL;

		if (v->n == cap) {
			cap = cap ? cap * 2 : 8;
			v->items = realloc(v->items, cap * sizeof(*v->items));
			v->keys = realloc(v->keys, cap * sizeof(*v->keys));
			cr_assert(v->items && v->keys);
		}
		jp_space(jp);
		if (close == '}') {
			if (!jp_string(jp, &key))
				return false;
			jp_space(jp);
			if (jp_next(jp) != ':') {
				free(key);
				return jp_fail(jp, "expected ':'");
			}
		}
		v->keys[v->n] = key;
		if (!jp_value(jp, &v->items[v->n], depth + 1))
			return false;
		v->n++;
		jp_space(jp);
		if (*jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp_next(jp) == close)
			return true;
		return jp_fail(jp, "expected ',' or a closing bracket");
	}
}

static bool jp_value(struct jp *jp, struct jv *v, int depth)
{
	const char *start;

	*v = (struct jv){ 0 };
	if (depth > 32)
		return jp_fail(jp, "nested too deep");
	jp_space(jp);
	switch (*jp->p) {
	case '{':
		v->type = JV_OBJ;
		return jp_members(jp, v, depth, '}');
	case '[':
		v->type = JV_ARR;
		return jp_members(jp, v, depth, ']');
	case '"':
		v->type = JV_STR;
		return jp_string(jp, &v->s);
	}
	if (strncmp(jp->p, "true", 4) == 0 || strncmp(jp->p, "false", 5) == 0) {
		v->type = JV_BOOL;
		v->b = *jp->p == 't';
		jp->p += v->b ? 4 : 5;
		return true;
	}
	if (strncmp(jp->p, "null", 4) == 0) {
		jp->p += 4;
		return true;
	}
	start = jp->p;
	if (*jp->p == '-')
		jp->p++;
	if (*jp->p == '0')
		jp->p++;
	else if (!jp_digits(jp))
		return jp_fail(jp, "expected a value");
	if (*jp->p == '.') {
		jp->p++;
		if (!jp_digits(jp))
			return jp_fail(jp, "bad fraction");
	}
	if (*jp->p == 'e' || *jp->p == 'E') {
		jp->p++;
		if (*jp->p == '+' || *jp->p == '-')
			jp->p++;
		if (!jp_digits(jp))
			return jp_fail(jp, "bad exponent");
	}
	v->type = JV_NUM;
	v->s = strndup(start, (size_t)(jp->p - start));
	return true;
}

static void jv_free(struct jv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		jv_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->s);
}

/* True when text is exactly one JSON document (surrounding white space allowed). */
bool json_valid(const char *text)
{
	struct jv v;
	struct jp jp = { .p = text };
	bool ok = jp_value(&jp, &v, 0);

	jp_space(&jp);
	jv_free(&v);
	return ok && !*jp.p;
}

/* Parse text as exactly one JSON document; fails the test otherwise. */
struct jv *json_parse(const char *text)
{
	struct jv *v = calloc(1, sizeof(*v));
	struct jp jp = { .p = text };
	bool ok;

	cr_assert_not_null(v);
	ok = jp_value(&jp, v, 0);
	jp_space(&jp);
	if (ok && *jp.p)
		ok = jp_fail(&jp, "trailing text after the document");
	cr_assert(ok, "invalid JSON (%s) at offset %zu of:\n%s", jp.why, (size_t)(jp.p - text), text);
	return v;
}

void json_free(struct jv *v)
{
	jv_free(v);
	free(v);
}

const struct jv *jv_get(const struct jv *o, const char *key)
{
	cr_assert_eq(o->type, JV_OBJ, "looking up '%s' in something that is no object", key);
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return &o->items[i];
	cr_assert_fail("no member '%s'", key);
	return NULL;
}

const struct jv *jv_array(const struct jv *o, const char *key)
{
	const struct jv *a = jv_get(o, key);

	cr_assert_eq(a->type, JV_ARR, "'%s' is no array", key);
	return a;
}

uint64_t jv_u64(const struct jv *o, const char *key)
{
	const struct jv *v = jv_get(o, key);

	cr_assert_eq(v->type, JV_NUM, "'%s' is no number", key);
	return strtoull(v->s, NULL, 10);
}

const char *jv_str(const struct jv *o, const char *key)
{
	const struct jv *v = jv_get(o, key);

	cr_assert_eq(v->type, JV_STR, "'%s' is no string", key);
	return v->s;
}

bool jv_bool(const struct jv *o, const char *key)
{
	const struct jv *v = jv_get(o, key);

	cr_assert_eq(v->type, JV_BOOL, "'%s' is no boolean", key);
	return v->b;
}

/* The member of array a whose key equals the string want, or NULL. */
const struct jv *jv_find(const struct jv *a, const char *key, const char *want)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(jv_str(&a->items[i], key), want) == 0)
			return &a->items[i];
	return NULL;
}
