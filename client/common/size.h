/* SPDX-License-Identifier: MIT */
/* size.h: byte counts as people write them ("4096", "4K", "64MiB", "1G"), shared by shmbufd and shmbufctl. */
#ifndef SHMBUF_SIZE_H
#define SHMBUF_SIZE_H

/* Prefixed for the sake of programs linking libshmbuf.a, as in proto.h. */
#define size_parse shmbuf__size_parse
#define size_format shmbuf__size_format
#define size_human shmbuf__size_human

#include <stddef.h>
#include <stdint.h>

/* Parse a decimal count with an optional binary suffix: K, M, G, T (also KiB,
 * MiB, ... and KB, MB, ..., all meaning powers of 1024; case-insensitive).
 * Returns 0, -EINVAL for anything else (empty, sign, junk), -ERANGE on overflow. */
int size_parse(const char *s, uint64_t *out);

/* Format n as "64 MiB"-style text when it is an exact multiple, else as plain bytes. */
void size_format(uint64_t n, char *buf, size_t cap);

/* For messages, in the largest unit that fits: "64 MiB" when exact, "512
 * bytes" below 1 KiB, else rounded with the exact count after it:
 * "11.8 GiB (12637995008 bytes)". */
void size_human(uint64_t n, char *buf, size_t cap);

#endif
