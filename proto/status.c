/* status.c: the wire's status codes mapped to errno, names and text, all expanded from PROTO_STATUS_MAP. */
#include "proto.h"

#include <errno.h>

static const struct {
	int err;
	const char *name;
	const char *text;
} statuses[PROTO_STATUS_COUNT] = {
#define STATUS_ROW(name, value, errnum, token, text) [PROTO_##name] = { -(errnum), token, text },
	PROTO_STATUS_MAP(STATUS_ROW)
#undef STATUS_ROW
};

/* Statuses are numbered from 0 without gaps, so each one is its own row. */
#define STATUS_IN_ORDER(name, value, errnum, token, text) +1
_Static_assert(0 PROTO_STATUS_MAP(STATUS_IN_ORDER) == PROTO_STATUS_COUNT, "a gap in PROTO_STATUS_MAP");
#undef STATUS_IN_ORDER

int proto_status_to_errno(uint16_t status)
{
	return status < PROTO_STATUS_COUNT ? statuses[status].err : -EPROTO;
}

enum proto_status proto_errno_to_status(int err)
{
	/* Out of memory for a shm object looks the same to a client as the byte limit. */
	if (err == -ENOMEM)
		return PROTO_E_NOSPC;
	for (int s = 0; s < PROTO_STATUS_COUNT; s++)
		if (statuses[s].err == err)
			return (enum proto_status)s;
	return PROTO_E_INTERNAL;
}

const char *proto_status_name(uint16_t status)
{
	return status < PROTO_STATUS_COUNT ? statuses[status].name : "EUNKNOWN";
}

const char *proto_status_text(uint16_t status)
{
	return status < PROTO_STATUS_COUNT ? statuses[status].text : "unknown status";
}

const char *proto_errno_text(int err)
{
	for (int s = 0; s < PROTO_STATUS_COUNT; s++)
		if (statuses[s].err == err)
			return statuses[s].text;
	return NULL;
}
