/* SPDX-License-Identifier: MIT */
/* mapper.c: the clients each segment's fds were sent to, and telling them to let go. */
#define _GNU_SOURCE
#include "mapper.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

int mapper_add(struct client *cl, struct segment *seg, uint32_t mode)
{
	struct server *srv = cl->srv;
	struct mapper *m = mapper_find(cl, seg->id);

	if (m) {
		if (m->modes & mode)
			return 0;
		m->modes |= mode;
		return 1;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->key = (struct mapper_key){ .segment_id = seg->id, .client_id = cl->id };
	m->seg = seg;
	m->cl = cl;
	m->modes = mode;
	TAILQ_INSERT_TAIL(&seg->mappers, m, seg_link);
	TAILQ_INSERT_TAIL(&cl->mappers, m, client_link);
	seg->n_mappers++;
	HASH_ADD(hh, srv->mappers, key, sizeof(m->key), m);
	return 1;
}

struct mapper *mapper_find(struct client *cl, uint64_t segment_id)
{
	struct mapper_key key = { .segment_id = segment_id, .client_id = cl->id };
	struct mapper *m = NULL;

	HASH_FIND(hh, cl->srv->mappers, &key, sizeof(key), m);
	return m;
}

struct segment *mapper_drop(struct mapper *m, uint32_t modes)
{
	struct segment *seg = m->seg;

	m->modes &= ~modes;
	if (m->modes)
		return NULL;
	HASH_DEL(m->cl->srv->mappers, m);
	TAILQ_REMOVE(&seg->mappers, m, seg_link);
	TAILQ_REMOVE(&m->cl->mappers, m, client_link);
	seg->n_mappers--;
	free(m);
	return seg;
}

struct segment *mapper_drop_first(struct client *cl)
{
	struct mapper *m = TAILQ_FIRST(&cl->mappers);

	return m ? mapper_drop(m, m->modes) : NULL;
}

void mapper_send_unmap(struct segment *seg)
{
	struct proto_msg msg = { .op = PROTO_OP_UNMAP | PROTO_REPLY_BIT, .seq = 0 };
	struct mapper *m;

	if (seg->has_sent_unmap)
		return;
	seg->has_sent_unmap = true;
	log_debug("segment '%s' (%s): no lease left; asking %u clients to unmap it", seg->name, seg->shm_name,
		  seg->n_mappers);
	msg.u.unmap_reply.segment_id = seg->id;
	TAILQ_FOREACH(m, &seg->mappers, seg_link)
		client_send_msg(m->cl, &msg);
}

void mapper_ask_unmap_lost(struct segment *seg)
{
	struct proto_msg msg = { .op = PROTO_OP_UNMAP | PROTO_REPLY_BIT, .seq = 0 };
	struct mapper *m;

	msg.u.unmap_reply.segment_id = seg->id;
	TAILQ_FOREACH(m, &seg->mappers, seg_link) {
		uint32_t lost = (client_may(m->cl, seg, ACCESS_READ) < 0 ? PROTO_ACQ_READ : 0) |
				(client_may(m->cl, seg, ACCESS_WRITE) < 0 ? PROTO_ACQ_WRITE : 0);

		if ((m->modes & lost) && !m->cl->is_dead)
			client_send_msg(m->cl, &msg);
	}
}

/* Names (in buf) the clients the daemon sent seg's O_RDWR fd that have not
 * said they closed it: one of them, or a process it passed the fd to, did it. */
void mapper_describe_writers(const struct segment *seg, char *buf, size_t cap)
{
	const struct mapper *m;
	size_t len = 0;
	int n = 0;

	buf[0] = '\0';
	TAILQ_FOREACH(m, &seg->mappers, seg_link) {
		if (!(m->modes & PROTO_ACQ_WRITE) || len >= cap)
			continue;
		if (n++ == 4) {
			snprintf(buf + len, cap - len, ", ...");
			break;
		}
		len += (size_t)snprintf(buf + len, cap - len, "%sclient %d (%s, uid %d)", n > 1 ? ", " : "",
					(int)m->cl->conn->cred.pid, m->cl->conn->comm, (int)m->cl->conn->cred.uid);
	}
	if (n == 0)
		snprintf(buf, cap, "no client holds one now (a client that kept it past UNMAP, or passed it on)");
}
