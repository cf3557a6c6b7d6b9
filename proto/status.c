/* SPDX-License-Identifier: MIT */
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

/* Each status is its own row; a gap (a number another branch holds) is a row with no name,
 * treated as an unknown status. */
static bool is_known(uint16_t status)
{
	return status < PROTO_STATUS_COUNT && statuses[status].name;
}

int proto_status_to_errno(uint16_t status)
{
	return is_known(status) ? statuses[status].err : -EPROTO;
}

enum proto_status proto_errno_to_status(int err)
{
	/* Out of memory for a shm object looks the same to a client as the byte limit. */
	if (err == -ENOMEM)
		return PROTO_E_NOSPC;
	for (int s = 0; s < PROTO_STATUS_COUNT; s++)
		if (statuses[s].name && statuses[s].err == err)
			return (enum proto_status)s;
	return PROTO_E_INTERNAL;
}

const char *proto_status_name(uint16_t status)
{
	return is_known(status) ? statuses[status].name : "EUNKNOWN";
}

const char *proto_status_text(uint16_t status)
{
	return is_known(status) ? statuses[status].text : "unknown status";
}

const char *proto_errno_text(int err)
{
	for (int s = 0; s < PROTO_STATUS_COUNT; s++)
		if (statuses[s].name && statuses[s].err == err)
			return statuses[s].text;
	return NULL;
}
