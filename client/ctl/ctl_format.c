/* SPDX-License-Identifier: MIT */
/* ctl_format.c: shmbufctl's output helpers: sizes, durations, times, user names, aligned
 * tables, a JSON writer that always emits valid UTF-8, and hex dumps. */
#define _GNU_SOURCE
#include "ctl.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "size.h"

void fmt_size(uint64_t n, char *buf, size_t cap)
{
	size_format(n, buf, cap);
	/* size_format() leaves a count that is no multiple of 1024 bare. */
	if (!strchr(buf, ' ')) {
		size_t len = strlen(buf);

		snprintf(buf + len, cap - len, " B");
	}
}

void fmt_size_approx(uint64_t n, char *buf, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	uint64_t unit = 1;
	int i = 0;

	while (i < 6 && n / unit >= 1024) {
		unit *= 1024;
		i++;
	}
	if (n % unit == 0)
		snprintf(buf, cap, "%llu %s", (unsigned long long)(n / unit), units[i]);
	else
		snprintf(buf, cap, "%.1f %s", (double)n / (double)unit, units[i]);
}

void fmt_duration(uint64_t ns, char *buf, size_t cap)
{
	uint64_t s = ns / 1000000000u;

	if (ns < 1000000000u)
		snprintf(buf, cap, "%llums", (unsigned long long)(ns / 1000000u));
	else if (s < 60)
		snprintf(buf, cap, "%.1fs", (double)(ns / 100000000u) / 10.0);
	else if (s < 3600)
		snprintf(buf, cap, "%llum%02llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, cap, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60));
	else
		snprintf(buf, cap, "%llud%02lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s % 86400 / 3600));
}

void fmt_time(uint64_t realtime_ns, bool short_form, char *buf, size_t cap)
{
	time_t t = (time_t)(realtime_ns / 1000000000u);
	struct tm tm;
	size_t n;

	if (!localtime_r(&t, &tm)) {
		snprintf(buf, cap, "?");
		return;
	}
	n = strftime(buf, cap, short_form ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
	if (short_form && n > 0)
		snprintf(buf + n, cap - n, ".%03u", (unsigned)(realtime_ns / 1000000u % 1000u));
}

/* Listings name the same few users over and over; look each up once. */
#define USER_CACHE 32

const char *user_name(uid_t uid)
{
	static struct {
		uid_t uid;
		char *name; /* NULL: no such user */
	} cache[USER_CACHE];
	static int used;
	struct passwd pw, *res = NULL;
	char buf[4096];
	char *name = NULL;

	for (int i = 0; i < used; i++)
		if (cache[i].uid == uid)
			return cache[i].name;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		name = strdup(res->pw_name);
	if (used < USER_CACHE) {
		cache[used].uid = uid;
		cache[used].name = name;
		used++;
	}
	/* A full cache leaks the odd name: a CLI's lifetime is short. */
	return name;
}

const char *user_label(uid_t uid, char *buf, size_t cap)
{
	const char *name = user_name(uid);

	if (name)
		snprintf(buf, cap, "%s", name);
	else
		snprintf(buf, cap, "%u", (unsigned)uid);
	return buf;
}

void printable(const char *s, char *buf, size_t cap)
{
	size_t i = 0;

	if (cap == 0)
		return;
	for (; *s && i + 1 < cap; s++)
		buf[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	buf[i] = '\0';
}

/* ---- tables ---- */

void table_init(struct table *t, int ncols, const char *const *heads, const char *align)
{
	*t = (struct table){ .ncols = ncols, .heads = heads, .align = align };
}

void table_cell(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (t->ncells == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **cells = realloc(t->cells, cap * sizeof(*cells));

		if (!cells) {
			free(s);
			fputs("shmbufctl: out of memory\n", stderr);
			exit(EXIT_FAILED);
		}
		t->cells = cells;
		t->cap = cap;
	}
	t->cells[t->ncells++] = s ? s : strdup("?");
}

static void table_line(const struct table *t, const char *const *row, const size_t *width, FILE *f)
{
	for (int i = 0; i < t->ncols; i++) {
		const char *s = row[i] ? row[i] : "";
		int pad = (int)(width[i] - strlen(s));
		bool last = i == t->ncols - 1;

		if (t->align[i] == 'r')
			fprintf(f, "%*s%s", pad, "", s);
		else
			fprintf(f, "%s%*s", s, last ? 0 : pad, "");
		fputs(last ? "\n" : "  ", f);
	}
}

void table_print(const struct table *t, FILE *f)
{
	size_t width[16] = { 0 };

	for (int i = 0; i < t->ncols && i < 16; i++)
		width[i] = strlen(t->heads[i]);
	for (size_t k = 0; k < t->ncells; k++) {
		size_t len = t->cells[k] ? strlen(t->cells[k]) : 0;

		if (len > width[k % (size_t)t->ncols])
			width[k % (size_t)t->ncols] = len;
	}
	table_line(t, t->heads, width, f);
	for (size_t k = 0; k + (size_t)t->ncols <= t->ncells; k += (size_t)t->ncols)
		table_line(t, (const char *const *)&t->cells[k], width, f);
}

void table_deinit(struct table *t)
{
	for (size_t k = 0; k < t->ncells; k++)
		free(t->cells[k]);
	free(t->cells);
	*t = (struct table){ 0 };
}

/* ---- JSON ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not one. */
static int utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	int n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF are not UTF-8. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Command names come from /proc/<pid>/comm and may hold any byte: invalid
 * UTF-8 becomes U+FFFD so the document stays valid JSON. */
static void json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		int n;

		switch (*p) {
		case '"':
			fputs("\\\"", f);
			p++;
			continue;
		case '\\':
			fputs("\\\\", f);
			p++;
			continue;
		case '\n':
			fputs("\\n", f);
			p++;
			continue;
		case '\t':
			fputs("\\t", f);
			p++;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p);
			p++;
			continue;
		}
		n = utf8_len(p);
		if (n == 0) {
			fputs("\\ufffd", f);
			p++;
			continue;
		}
		fwrite(p, 1, (size_t)n, f);
		p += n;
	}
	fputc('"', f);
}

void json_init(struct json *j, FILE *f, bool pretty)
{
	*j = (struct json){ .f = f, .pretty = pretty };
}

static void json_indent(struct json *j)
{
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* Separator, indentation and key before a value. */
static void json_member(struct json *j, const char *key)
{
	if (j->has_members)
		fputc(',', j->f);
	if (j->pretty && j->depth > 0)
		json_indent(j);
	if (key) {
		json_string(j->f, key);
		fputs(j->pretty ? ": " : ":", j->f);
	}
	j->has_members = true;
}

void json_open(struct json *j, const char *key, char bracket)
{
	json_member(j, key);
	fputc(bracket, j->f);
	j->depth++;
	j->has_members = false;
}

void json_close(struct json *j, char bracket)
{
	j->depth--;
	if (j->pretty && j->has_members)
		json_indent(j);
	fputc(bracket, j->f);
	j->has_members = true;
	if (j->depth == 0) {
		fputc('\n', j->f);
		j->has_members = false;
	}
}

void json_str(struct json *j, const char *key, const char *s)
{
	json_member(j, key);
	if (s)
		json_string(j->f, s);
	else
		fputs("null", j->f);
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
	json_member(j, key);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
	json_member(j, key);
	fprintf(j->f, "%lld", (long long)v);
}

void json_bool(struct json *j, const char *key, bool v)
{
	json_member(j, key);
	fputs(v ? "true" : "false", j->f);
}

/* ---- hex dump ---- */

void hexdump(FILE *f, const uint8_t *p, size_t len, uint64_t base)
{
	bool squeezing = false;

	for (size_t at = 0; at < len; at += 16) {
		size_t n = len - at < 16 ? len - at : 16;

		/* Like hexdump -C: a full line equal to the one before is shown
		 * once as '*', so a mostly-zero segment stays readable. */
		if (at > 0 && n == 16 && memcmp(p + at, p + at - 16, 16) == 0) {
			if (!squeezing)
				fputs("*\n", f);
			squeezing = true;
			continue;
		}
		squeezing = false;
		fprintf(f, "%08llx ", (unsigned long long)(base + at));
		for (size_t i = 0; i < 16; i++) {
			if (i == 8)
				fputc(' ', f);
			if (i < n)
				fprintf(f, " %02x", p[at + i]);
			else
				fputs("   ", f);
		}
		fputs("  |", f);
		for (size_t i = 0; i < n; i++)
			fputc(p[at + i] >= 0x20 && p[at + i] < 0x7f ? p[at + i] : '.', f);
		fputs("|\n", f);
	}
	fprintf(f, "%08llx\n", (unsigned long long)(base + len));
}
