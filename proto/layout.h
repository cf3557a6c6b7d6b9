/* SPDX-License-Identifier: MIT */
/* layout.h: the field tables that proto/layout.c expands from proto.h's message lists, walked by codec.c. */
#ifndef SHMBUF_PROTO_LAYOUT_H
#define SHMBUF_PROTO_LAYOUT_H

#include "proto.h"

#define proto_op_layouts shmbuf__proto_op_layouts
#define proto_error_layout shmbuf__proto_error_layout
#define proto_check_encode shmbuf__proto_check_encode
#define proto_check_decoded shmbuf__proto_check_decoded

enum field_kind {
	FK_END, /* closes every table; its offset is the size of the struct the list describes */
	FK_U16,
	FK_U32,
	FK_U64,
	FK_I32,
	FK_RSV16,
	FK_RSV32,
	FK_STR,
	FK_ENTRIES,
};

/* How a string field is checked when encoded. */
enum string_encoding {
	STR_ENC_PLAIN,         /* at most max bytes, else encode_too_long */
	STR_ENC_NAME,          /* a segment name, checked fully: a client fails before sending */
	STR_ENC_OPTIONAL_NAME, /* "" or a segment name */
	STR_ENC_CUT,           /* cut to max bytes (error messages) */
};

/* A string field's class (PROTO_STR_MAX_<class> in proto.h): its limit, and
 * what is wrong when it is broken. */
struct string_class {
	size_t max;
	enum string_encoding encoding;
	int encode_too_long; /* STR_ENC_PLAIN */
	int decode_too_long; /* -ENAMETOOLONG for a request's name: the daemon answers it */
	const char *nul_why;
	const char *too_long_why;
};

struct field {
	enum field_kind kind;
	size_t offset;                   /* of the member, in the struct the list describes */
	const struct string_class *str;  /* FK_STR */
	const struct field *entry;       /* FK_ENTRIES: one entry's table */
	size_t entry_size;               /* FK_ENTRIES */
	size_t count_offset;             /* FK_ENTRIES: the page's count member */
};

/* One direction of one opcode: its fields (NULL: no such message) and the
 * reasons a decoder gives, which name the opcode. */
struct layout {
	const struct field *fields;
	const char *short_why;
	const char *trailing_why;
	const char *reserved_why;
};

struct op_layouts {
	const char *name; /* NULL: opcode unknown */
	struct layout request;
	struct layout reply;
};

/* The opcode's layouts (reply bit ignored), or NULL if it is unknown. */
const struct op_layouts *proto_op_layouts(uint16_t op);

/* An error reply's layout: the same whatever the opcode. */
extern const struct layout proto_error_layout;

/* Checks beyond layout. Before encoding m: 0, or -EINVAL for a message the
 * decoder or the daemon would refuse anyway (bad HELLO, CREATE mode, ACQUIRE
 * flags, event type ...). After decoding the fields of a well-formed message:
 * 0, or -EBADMSG with *why set (a HELLO with a wrong magic or versions). */
int proto_check_encode(const struct proto_msg *m);
int proto_check_decoded(const struct proto_msg *m, const char **why);

#endif
