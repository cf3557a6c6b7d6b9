/* SPDX-License-Identifier: MIT */
/* codec.c: one encoder and one total decoder, both walking the field tables of layout.c. */
#include "layout.h"

#include <errno.h>
#include <string.h>

/* Little-endian access on byte buffers; never cast a buffer to a struct. */
static void put_le(uint8_t *p, uint64_t v, size_t width)
{
	for (size_t i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, size_t width)
{
	uint64_t v = 0;

	for (size_t i = 0; i < width; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Bytes on the wire of a fixed-size field; 0 for strings and entries. */
static size_t fixed_width(enum field_kind kind)
{
	switch (kind) {
	case FK_U16:
	case FK_RSV16:
		return 2;
	case FK_U32:
	case FK_I32:
	case FK_RSV32:
		return 4;
	case FK_U64:
		return 8;
	case FK_END:
	case FK_STR:
	case FK_ENTRIES:
		break;
	}
	return 0;
}

/* The integer member of a fixed-size field, as a u64 (i32 as its bit pattern). */
static uint64_t load_int(const struct field *f, const uint8_t *base)
{
	const uint8_t *p = base + f->offset;
	uint16_t u16;
	uint32_t u32;
	int32_t i32;
	uint64_t u64;

	switch (f->kind) {
	case FK_U16:
		memcpy(&u16, p, sizeof(u16));
		return u16;
	case FK_U32:
		memcpy(&u32, p, sizeof(u32));
		return u32;
	case FK_I32:
		memcpy(&i32, p, sizeof(i32));
		return (uint32_t)i32; /* two's complement on every target we build for */
	case FK_U64:
		memcpy(&u64, p, sizeof(u64));
		return u64;
	case FK_END:
	case FK_RSV16:
	case FK_RSV32:
	case FK_STR:
	case FK_ENTRIES:
		break; /* reserved fields are zero on the wire */
	}
	return 0;
}

static void store_int(const struct field *f, uint8_t *base, uint64_t v)
{
	uint8_t *p = base + f->offset;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;
	int32_t i32 = (int32_t)u32;

	switch (f->kind) {
	case FK_U16:
		memcpy(p, &u16, sizeof(u16));
		break;
	case FK_U32:
		memcpy(p, &u32, sizeof(u32));
		break;
	case FK_I32:
		memcpy(p, &i32, sizeof(i32));
		break;
	case FK_U64:
		memcpy(p, &v, sizeof(v));
		break;
	case FK_END:
	case FK_RSV16:
	case FK_RSV32:
	case FK_STR:
	case FK_ENTRIES:
		break; /* reserved fields have no member */
	}
}

/* ---- decoding ---- */

/* A cursor over the payload, with the reasons of the layout it reads, so a
 * short or overlong payload is reported with the opcode's own reason. */
struct reader {
	const uint8_t *p;
	size_t left;
	const struct layout *layout;
};

static int fail(const char **why, int err, const char *reason)
{
	if (why)
		*why = reason;
	return err;
}

static int finish(const struct reader *r, const char **why)
{
	return r->left ? fail(why, -EBADMSG, r->layout->trailing_why) : 0;
}

/* A run of fixed-size fields, *fp onwards, read as one: the whole run must be
 * there. When the run ends the payload (ends_payload and the table), trailing
 * bytes are refused before its reserved fields are looked at. */
static int rd_run(struct reader *r, const struct field **fp, uint8_t *base, bool ends_payload, const char **why)
{
	const struct field *f = *fp, *end = f;
	size_t need = 0;
	bool reserved_set = false;

	for (; fixed_width(end->kind); end++)
		need += fixed_width(end->kind);
	if (r->left < need)
		return fail(why, -EBADMSG, r->layout->short_why);
	for (; f < end; f++) {
		size_t n = fixed_width(f->kind);
		uint64_t v = get_le(r->p, n);

		if (f->kind == FK_RSV16 || f->kind == FK_RSV32)
			reserved_set |= v != 0;
		else
			store_int(f, base, v);
		r->p += n;
		r->left -= n;
	}
	*fp = end;
	if (ends_payload && end->kind == FK_END && r->left)
		return finish(r, why);
	return reserved_set ? fail(why, -EBADMSG, r->layout->reserved_why) : 0;
}

/* A u16 length and that many bytes, copied NUL-terminated into dst (which
 * holds max + 1). When the field ends the payload (is_last), its length must
 * account for exactly the bytes left. Structure (truncation, trailing bytes,
 * NUL) is checked before the limit, so a request's -ENAMETOOLONG is only ever
 * returned for an otherwise well-formed message. */
static int rd_string(struct reader *r, const struct string_class *c, char *dst, bool is_last, const char **why)
{
	size_t n;

	if (r->left < 2 || r->left - 2 < (n = get_le(r->p, 2)))
		return fail(why, -EBADMSG, r->layout->short_why);
	r->p += 2;
	r->left -= 2;
	if (is_last && r->left > n)
		return finish(r, why);
	if (memchr(r->p, '\0', n))
		return fail(why, -EBADMSG, c->nul_why);
	if (n > c->max)
		return fail(why, c->decode_too_long, c->too_long_why);
	memcpy(dst, r->p, n);
	dst[n] = '\0';
	r->p += n;
	r->left -= n;
	return 0;
}

static int rd_fields(struct reader *r, const struct field *f, uint8_t *base, bool is_payload, const char **why);

/* A LIST page's entries: count (already read) of them, back to back. */
static int rd_entries(struct reader *r, const struct field *f, uint8_t *base, const char **why)
{
	uint32_t count;
	int err = 0;

	memcpy(&count, base + f->count_offset, sizeof(count));
	if (count > PROTO_LIST_PAGE) /* the entries array holds one page */
		return fail(why, -EBADMSG, "list reply with more than 16 entries");
	for (uint32_t i = 0; i < count && err == 0; i++)
		err = rd_fields(r, f->entry, base + f->offset + i * f->entry_size, false, why);
	return err;
}

/* The fields of table f into the struct at base. is_payload: the table is a
 * whole payload (not one LIST entry), so its last field must end it. */
static int rd_fields(struct reader *r, const struct field *f, uint8_t *base, bool is_payload, const char **why)
{
	int err = 0;

	while (f->kind != FK_END && err == 0) {
		if (fixed_width(f->kind)) {
			err = rd_run(r, &f, base, is_payload, why);
		} else if (f->kind == FK_STR) {
			err = rd_string(r, f->str, (char *)base + f->offset, is_payload && f[1].kind == FK_END, why);
			f++;
		} else {
			err = rd_entries(r, f, base, why);
			f++;
		}
	}
	if (err < 0)
		return err;
	return is_payload ? finish(r, why) : 0;
}

/* Zero the part of m->u that this layout's struct covers (its closing entry's offset). */
static void clear_payload(struct proto_msg *m, const struct field *f)
{
	while (f->kind != FK_END)
		f++;
	memset(&m->u, 0, f->offset);
}

int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *m, const char **why)
{
	const struct op_layouts *ops;
	struct reader r = { 0 };
	bool is_reply;
	int err;

	/* Not the whole struct: a listing page makes it 5 KiB, and every message
	 * would pay for that. The payload's own struct is cleared below. */
	m->op = m->status = 0;
	m->seq = 0;
	if (len < PROTO_HEADER_SIZE)
		return fail(why, -EBADMSG, "datagram shorter than the 16-byte header");
	m->op = (uint16_t)get_le(buf, 2);
	m->status = (uint16_t)get_le(buf + 2, 2);
	m->seq = (uint32_t)get_le(buf + 4, 4);
	if (get_le(buf + 8, 4) != len - PROTO_HEADER_SIZE)
		return fail(why, -EBADMSG, "header length does not match datagram size");
	if (get_le(buf + 12, 4) != 0)
		return fail(why, -EBADMSG, "reserved header field not zero");

	is_reply = m->op & PROTO_REPLY_BIT;
	if (!is_reply && m->status != PROTO_OK)
		return fail(why, -EBADMSG, "request with nonzero status");
	r.p = buf + PROTO_HEADER_SIZE;
	r.left = len - PROTO_HEADER_SIZE;

	/* An error reply has one layout whatever the opcode (even one this side
	 * does not know), and any status value: unknown ones map to -EPROTO. */
	if (is_reply && m->status != PROTO_OK)
		r.layout = &proto_error_layout;
	else if ((ops = proto_op_layouts(m->op)))
		r.layout = is_reply ? &ops->reply : &ops->request;
	if (!r.layout || !r.layout->fields) /* unknown, or EVENT as a request */
		return fail(why, -EOPNOTSUPP, "unknown opcode");
	clear_payload(m, r.layout->fields);
	if ((err = rd_fields(&r, r.layout->fields, (uint8_t *)&m->u, true, why)) < 0)
		return err;
	return proto_check_decoded(m, why);
}

/* ---- encoding ---- */

/* Writes only what fits but counts everything, so one check at the end
 * turns a small buffer into -EMSGSIZE. */
struct writer {
	uint8_t *p;
	size_t cap;
	size_t len;
};

static void wr_int(struct writer *w, uint64_t v, size_t width)
{
	if (w->len <= w->cap && width <= w->cap - w->len)
		put_le(w->p + w->len, v, width);
	w->len += width;
}

static void wr_bytes(struct writer *w, const char *s, size_t n)
{
	wr_int(w, n, 2);
	if (n && w->len <= w->cap && n <= w->cap - w->len)
		memcpy(w->p + w->len, s, n);
	w->len += n;
}

/* A string member, a char array of max + 1 bytes: anything but NUL, at most
 * max bytes (an array with no NUL in it is too long). Names in requests are
 * checked fully, so a client fails before sending. */
static int wr_string(struct writer *w, const struct string_class *c, const char *s)
{
	size_t n = strnlen(s, c->max + 1);

	if (c->encoding == STR_ENC_CUT) {
		n = n > c->max ? c->max : n;
	} else if (c->encoding == STR_ENC_OPTIONAL_NAME && n == 0) {
		/* "" lists everything */
	} else if (n > c->max) {
		return c->encoding == STR_ENC_PLAIN ? c->encode_too_long : -ENAMETOOLONG;
	} else if (c->encoding != STR_ENC_PLAIN && !proto_name_is_valid(s, n)) {
		return -EINVAL;
	}
	wr_bytes(w, s, n);
	return 0;
}

static int wr_fields(struct writer *w, const struct field *f, const uint8_t *base)
{
	for (; f->kind != FK_END; f++) {
		int err = 0;
		uint32_t count;

		if (fixed_width(f->kind)) {
			wr_int(w, load_int(f, base), fixed_width(f->kind));
		} else if (f->kind == FK_STR) {
			err = wr_string(w, f->str, (const char *)base + f->offset);
		} else {
			memcpy(&count, base + f->count_offset, sizeof(count));
			if (count > PROTO_LIST_PAGE)
				return -EINVAL;
			for (uint32_t i = 0; i < count && err == 0; i++)
				err = wr_fields(w, f->entry, base + f->offset + i * f->entry_size);
		}
		if (err < 0)
			return err;
	}
	return 0;
}

/* The layout m is encoded with, or NULL if m cannot be sent. */
static const struct layout *encode_layout(const struct proto_msg *m)
{
	const struct op_layouts *ops;

	if (!(m->op & PROTO_REPLY_BIT))
		return m->status == PROTO_OK && (ops = proto_op_layouts(m->op)) ? &ops->request : NULL;
	/* Error replies are valid for any opcode: the daemon must be able to
	 * answer a request whose opcode it does not know. */
	if (m->status != PROTO_OK)
		return m->status < PROTO_STATUS_COUNT ? &proto_error_layout : NULL;
	return (ops = proto_op_layouts(m->op)) ? &ops->reply : NULL;
}

int proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap)
{
	const struct layout *layout = encode_layout(m);
	struct writer w = { buf, cap, 0 };
	int err;

	if (!layout || !layout->fields)
		return -EINVAL;
	if (m->status == PROTO_OK && (err = proto_check_encode(m)) < 0)
		return err;
	wr_int(&w, m->op, 2);
	wr_int(&w, m->status, 2);
	wr_int(&w, m->seq, 4);
	wr_int(&w, 0, 4); /* length, filled in below */
	wr_int(&w, 0, 4); /* reserved */
	if ((err = wr_fields(&w, layout->fields, (const uint8_t *)&m->u)) < 0)
		return err;
	if (w.len > cap)
		return -EMSGSIZE;
	put_le(buf + 8, w.len - PROTO_HEADER_SIZE, 4);
	return (int)w.len;
}
