/* SPDX-License-Identifier: MIT */
/* json.h: a small, strict JSON parser for the tests (shmbufctl's --json output, or any other):
 * parse a document, then read its members; every reader fails the test on a wrong type or a
 * missing member, so a test reads as the fields it expects. */
#ifndef SHMBUF_TEST_JSON_H
#define SHMBUF_TEST_JSON_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jv_type { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ };

/* One JSON value; a parsed document is a tree of them, owned by its root. */
struct jv {
	enum jv_type type;
	bool b;
	char *s;          /* JV_STR: the decoded string; JV_NUM: the literal */
	size_t n;         /* members of JV_ARR, JV_OBJ */
	struct jv *items;
	char **keys;      /* JV_OBJ */
};

/* Parse text as exactly one JSON document; fails the test otherwise. Free with json_free(). */
struct jv *json_parse(const char *text);
void json_free(struct jv *v);

/* True when text is exactly one JSON document (white space around it allowed); never fails
 * the test. */
bool json_valid(const char *text);

/* The member key of object o; fails the test when o is no object or has no such member. */
const struct jv *jv_get(const struct jv *o, const char *key);
/* Member key of o as an array, a number, a string, a boolean; fails the test on another type. */
const struct jv *jv_array(const struct jv *o, const char *key);
uint64_t jv_u64(const struct jv *o, const char *key);
const char *jv_str(const struct jv *o, const char *key);
bool jv_bool(const struct jv *o, const char *key);

/* The member of array a whose key equals the string want, or NULL. */
const struct jv *jv_find(const struct jv *a, const char *key, const char *want);

#endif
