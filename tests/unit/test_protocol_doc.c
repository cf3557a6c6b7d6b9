/* SPDX-License-Identifier: MIT */
/* test_protocol_doc.c: the hex datagrams of docs/protocol.md's worked examples, checked against the codec. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define DOC_PATH SHMBUF_SOURCE_DIR "/docs/protocol.md"
#define EXAMPLES_START "## 13. Worked examples"
#define EXAMPLES_END "## 14."
/* The document has this many today; the check refuses to pass on fewer, so
 * a parser or document that lost its examples cannot pass unnoticed. */
#define MIN_CAPTURES 26
#define MAX_CAPTURES 64

struct capture {
	int line; /* of the opening fence, for messages */
	size_t len;
	uint8_t bytes[PROTO_MAX_MESSAGE];
};

static struct capture captures[MAX_CAPTURES];
static size_t n_captures;
static size_t n_blocks; /* code blocks in the worked examples, each a datagram */
static struct proto_msg msg;
static uint8_t encoded[PROTO_MAX_MESSAGE];

/* One line of a capture: two-digit hex bytes, single- or double-spaced;
 * whatever follows a wider gap or a word that is not a byte is a comment.
 * Returns the bytes found, or -1 if the line has something else first. */
static int parse_line(const char *line, struct capture *c)
{
	const char *p = line;
	int found = 0;

	while (isxdigit((unsigned char)p[0]) && isxdigit((unsigned char)p[1]) && (!p[2] || isspace((unsigned char)p[2]))) {
		unsigned v;

		cr_assert(c->len < sizeof(c->bytes));
		sscanf(p, "%2x", &v);
		c->bytes[c->len++] = (uint8_t)v;
		found++;
		p += 2;
		if (strncmp(p, "   ", 3) == 0 || *p == '\n' || !*p)
			break;
		p += strspn(p, " ");
	}
	return found ? found : -1;
}

/* Reads every fenced block of the document. In the worked examples each one
 * must be a datagram; elsewhere a block that is all hex bytes is one too. */
static void load_captures(void)
{
	FILE *f = fopen(DOC_PATH, "r");
	char line[1024];
	bool in_examples = false, in_block = false, is_hex = false;
	int lineno = 0;

	cr_assert_not_null(f, "cannot open %s", DOC_PATH);
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (strncmp(line, EXAMPLES_START, strlen(EXAMPLES_START)) == 0)
			in_examples = true;
		else if (strncmp(line, EXAMPLES_END, strlen(EXAMPLES_END)) == 0)
			in_examples = false;
		if (strncmp(line, "```", 3) == 0) {
			in_block = !in_block;
			if (in_block) {
				n_blocks += in_examples;
				cr_assert_lt(n_captures, MAX_CAPTURES);
				captures[n_captures] = (struct capture){ .line = lineno };
				is_hex = true;
			} else if (captures[n_captures].len && is_hex) {
				n_captures++;
			}
		} else if (in_block && is_hex && parse_line(line, &captures[n_captures]) < 0) {
			cr_assert(!in_examples, "%s:%d: not a line of hex bytes: %s", DOC_PATH, lineno, line);
			is_hex = false;
		}
	}
	fclose(f);
	cr_assert(!in_block, "an unclosed code block in %s", DOC_PATH);
}

Test(protocol_doc, every_worked_example_is_a_datagram_the_codec_reproduces)
{
	load_captures();
	cr_assert_geq(n_captures, n_blocks, "every code block of section 13 is a datagram");
	cr_assert_geq(n_captures, MIN_CAPTURES, "found %zu datagrams in %s", n_captures, DOC_PATH);
	for (size_t i = 0; i < n_captures; i++) {
		const struct capture *c = &captures[i];
		const char *why = "";
		int r = proto_decode(c->bytes, c->len, &msg, &why);
		int len;

		cr_assert_eq(r, 0, "protocol.md:%d: does not decode (%d): %s", c->line, r, why);
		len = proto_encode(&msg, encoded, sizeof(encoded));
		cr_assert_eq(len, (int)c->len, "protocol.md:%d: encodes to %d bytes, the document has %zu", c->line, len,
			     c->len);
		for (size_t b = 0; b < c->len; b++)
			cr_assert_eq(encoded[b], c->bytes[b], "protocol.md:%d: byte %zu is %02x, the document has %02x",
				     c->line, b, encoded[b], c->bytes[b]);
	}
}

/* Every request and reply layout has an example: the document shows them all. */
Test(protocol_doc, every_message_layout_has_a_worked_example)
{
	load_captures();
	for (uint16_t op = PROTO_OP_HELLO; op <= PROTO_OP_EVENT; op++) {
		for (int reply = 0; reply < 2; reply++) {
			uint16_t want = (uint16_t)(op | (reply ? PROTO_REPLY_BIT : 0));
			bool found = false;

			if (strcmp(proto_op_name(op), "?") == 0 || (op == PROTO_OP_EVENT && !reply))
				continue;
			for (size_t i = 0; i < n_captures && !found; i++)
				found = (captures[i].bytes[0] | captures[i].bytes[1] << 8) == want &&
					captures[i].bytes[2] == 0 && captures[i].bytes[3] == 0;
			cr_assert(found, "protocol.md has no example of op 0x%04x (%s%s)", want, proto_op_name(op),
				  reply ? " reply" : "");
		}
	}
}
