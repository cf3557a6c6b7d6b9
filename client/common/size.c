/* SPDX-License-Identifier: MIT */
/* size.c: byte counts as people write them, shared by shmbufd and shmbufctl. */
#include "size.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <strings.h>

int size_parse(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTPE";
	uint64_t n = 0, mult = 1;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++)
		if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, (uint64_t)(*p - '0'), &n))
			return -ERANGE;
	if (*p) {
		int i;

		for (i = 0; units[i] && toupper((unsigned char)*p) != units[i]; i++)
			;
		if (!units[i])
			return -EINVAL;
		for (int k = 0; k <= i; k++)
			mult *= 1024;
		p++;
		if (strcasecmp(p, "") != 0 && strcasecmp(p, "iB") != 0 && strcasecmp(p, "B") != 0)
			return -EINVAL;
	}
	if (__builtin_mul_overflow(n, mult, &n))
		return -ERANGE;
	*out = n;
	return 0;
}

void size_human(uint64_t n, char *buf, size_t cap)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	uint64_t unit = 1024;
	int i = 0;

	if (n < 1024) {
		snprintf(buf, cap, "%llu bytes", (unsigned long long)n);
		return;
	}
	while (i < 5 && n / unit >= 1024) {
		unit *= 1024;
		i++;
	}
	if (n % unit == 0)
		snprintf(buf, cap, "%llu %s", (unsigned long long)(n / unit), units[i]);
	else
		snprintf(buf, cap, "%.1f %s (%llu bytes)", (double)n / (double)unit, units[i], (unsigned long long)n);
}

void size_format(uint64_t n, char *buf, size_t cap)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	int i = -1;

	while (n >= 1024 && n % 1024 == 0 && i < 5) {
		n /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(buf, cap, "%llu", (unsigned long long)n);
	else
		snprintf(buf, cap, "%llu %s", (unsigned long long)n, units[i]);
}
