/* SPDX-License-Identifier: MIT */
/* segment.c: creating, destroying, resizing, describing and changing the owner and mode of segments by name. */
#include "shmbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "demux.h"
#include "error.h"

/* One request on a segment name: m's op and other fields are set, and the name goes
 * to dst, its place in m. Returns 0 or the failure as a negative errno. */
static int named_call(shmbuf_client *c, struct proto_msg *m, char *dst, const char *name)
{
	int r;

	if (!c)
		return -EINVAL;
	r = client_copy_name(dst, name);
	if (r < 0)
		return r;
	return demux_request(c, m);
}

/* CREATE, DESTROY, RESIZE and STAT: a name and maybe a size and mode. */
static int segment_call(shmbuf_client *c, struct proto_msg *m, const char *name)
{
	return named_call(c, m, m->u.segment.name, name);
}

int shmbuf_create(shmbuf_client *c, const char *name, uint64_t size, unsigned mode)
{
	struct proto_msg m = { .op = PROTO_OP_CREATE };

	error_clear();
	if (size == 0)
		return error_local(-EINVAL, "segment size must be at least 1 byte");
	if (mode & ~(0777u | SHMBUF_SEALED))
		return error_local(-EINVAL, "mode %#o has bits besides 0777 and SHMBUF_SEALED", mode);
	m.u.segment.size = size;
	m.u.segment.mode = mode & 0777;
	m.u.segment.flags = mode & SHMBUF_SEALED ? PROTO_CREATE_SEALED : 0;
	return segment_call(c, &m, name);
}

int shmbuf_destroy(shmbuf_client *c, const char *name)
{
	struct proto_msg m = { .op = PROTO_OP_DESTROY };
	int r;

	error_clear();
	r = segment_call(c, &m, name);
	if (r < 0)
		return r;
	/* Our kept mappings of it go with their last views (UNMAP sent then),
	 * before the RELEASE that may end the segment's last lease: so the
	 * memory is freed, and counted free, as soon as the leases end. */
	pthread_mutex_lock(&c->lock);
	mapcache_name_gone(&c->cache, name);
	pthread_mutex_unlock(&c->lock);
	demux_flush(c);
	return 0;
}

int shmbuf_resize(shmbuf_client *c, const char *name, uint64_t size)
{
	struct proto_msg m = { .op = PROTO_OP_RESIZE };

	error_clear();
	m.u.segment.size = size;
	return segment_call(c, &m, name);
}

int shmbuf_stat(shmbuf_client *c, const char *name, shmbuf_stat_info *out, size_t size)
{
	struct proto_msg m = { .op = PROTO_OP_STAT };
	int r;

	error_clear();
	if (!out || size == 0)
		return -EINVAL;
	r = segment_call(c, &m, name);
	if (r < 0)
		return r;
	client_copy_out(out, size, &(shmbuf_stat_info){
		.size = m.u.stat_reply.size,
		.mode = m.u.stat_reply.mode,
		.uid = (uid_t)m.u.stat_reply.uid,
		.gid = (gid_t)m.u.stat_reply.gid,
		.read_leases = m.u.stat_reply.read_leases,
		.write_leases = m.u.stat_reply.write_leases,
		.waiters = m.u.stat_reply.waiters,
		.generation = m.u.stat_reply.generation,
	}, sizeof(shmbuf_stat_info));
	return 0;
}

int shmbuf_chmod(shmbuf_client *c, const char *name, unsigned mode)
{
	struct proto_msg m = { .op = PROTO_OP_CHMOD };

	error_clear();
	if (mode > 0777)
		return error_local(-EINVAL, "mode %#o is above 0777", mode);
	m.u.chmod.mode = mode;
	return named_call(c, &m, m.u.chmod.name, name);
}

int shmbuf_chown(shmbuf_client *c, const char *name, uid_t uid, gid_t gid)
{
	struct proto_msg m = { .op = PROTO_OP_CHOWN };

	error_clear();
	m.u.chown.uid = (uint32_t)uid;
	m.u.chown.gid = (uint32_t)gid;
	return named_call(c, &m, m.u.chown.name, name);
}
