/* SPDX-License-Identifier: MIT */
/* job.c: thread-pool jobs: their bookkeeping on the loop, their work on the pool. */
#define _GNU_SOURCE
#include "job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* What every job keeps: the segment it works on and whom to answer.
 * Embedded first in each kind of job. */
struct bg_job {
	uv_work_t work;       /* data: the whole job */
	struct server *srv;
	struct segment *seg;
	uint64_t client_id;   /* to answer, if the client is still there */
	uint16_t op;          /* of the request */
	uint32_t seq;
};

static void bg_job_init(struct bg_job *b, void *job, struct client *cl, const struct proto_msg *req,
			struct segment *seg)
{
	b->work.data = job;
	b->srv = cl->srv;
	b->seg = seg;
	b->client_id = cl->id;
	b->op = req->op;
	b->seq = req->seq;
}

/* The client that asked, or NULL if it has left; req becomes its request, to answer. */
static struct client *bg_job_client(const struct bg_job *b, struct proto_msg *req)
{
	*req = (struct proto_msg){ .op = b->op, .seq = b->seq };
	return client_find(b->srv, b->client_id);
}

/* A CREATE whose memory is reserved on the thread pool. Owned by the pool
 * until create_done(). Its segment is pending: in server->segments, counted,
 * not usable. */
struct create_job {
	struct bg_job b;
	TAILQ_ENTRY(create_job) link; /* server->creates */
	char prefix[sizeof(((struct server *)0)->shm_prefix)];
	uint64_t instance, first;  /* object names to try */
	bool prealloc;
	int err;
	job_create_done_fn *done;
};

static void create_work(uv_work_t *w)
{
	struct create_job *job = w->data;

	/* Only job and its segment: the loop does not touch a pending segment. */
	job->err = segment_open_fresh(job->b.seg, job->prefix, job->instance, job->first, job->prealloc);
}

static void create_done(uv_work_t *w, int status)
{
	struct create_job *job = w->data;
	struct server *srv = job->b.srv;
	struct segment *seg = job->b.seg;
	struct proto_msg req;
	struct client *cl;

	TAILQ_REMOVE(&srv->creates, job, link);
	HASH_DEL(srv->segments, seg);
	quota_segment(&srv->quota, seg->uid, seg->size, -1);
	seg->is_pending = false;
	if (srv->is_stopping || status < 0) {
		segment_free(seg);
		free(job);
		return;
	}
	cl = bg_job_client(&job->b, &req);
	job->done(srv, cl, &req, seg, job->err);
	free(job);
}

void job_cancel_creates(struct server *srv)
{
	struct create_job *job;

	/* Those already running finish; create_done() frees them all. */
	TAILQ_FOREACH(job, &srv->creates, link)
		uv_cancel((uv_req_t *)&job->b.work);
}

int job_create(struct client *cl, const struct proto_msg *req, struct segment *seg, job_create_done_fn *done)
{
	struct server *srv = cl->srv;
	struct create_job *job = calloc(1, sizeof(*job));
	int r;

	if (!job)
		return -ENOMEM;
	bg_job_init(&job->b, job, cl, req, seg);
	memcpy(job->prefix, srv->shm_prefix, sizeof(job->prefix));
	job->instance = srv->instance;
	job->first = srv->next_object;
	job->prealloc = srv->cfg.prealloc;
	job->done = done;
	r = uv_queue_work(srv->loop, &job->b.work, create_work, create_done);
	if (r < 0) {
		free(job);
		return r;
	}
	srv->next_object += SEGMENT_NAME_TRIES;
	TAILQ_INSERT_TAIL(&srv->creates, job, link);
	seg->is_pending = true;
	HASH_ADD_STR(srv->segments, name, seg);
	quota_segment(&srv->quota, seg->uid, seg->size, +1);
	return 0;
}

/* A RESIZE that grows a segment: see job_grow(). Owned by the pool until grow_done(). */
struct grow_job {
	struct bg_job b;      /* b.seg is counted in seg->refs while the job lives */
	int fd;               /* seg->fd_rw, valid while the reference is held */
	uint64_t from, to;
	int err;
	job_grow_done_fn *done;
};

static void grow_work(uv_work_t *w)
{
	struct grow_job *job = w->data;

	job->err = segment_reserve_beyond(job->fd, job->from, job->to);
}

static void grow_done(uv_work_t *w, int status)
{
	struct grow_job *job = w->data;
	struct server *srv = job->b.srv;
	struct segment *seg = job->b.seg;
	struct proto_msg req;
	struct client *cl = bg_job_client(&job->b, &req);

	seg->is_growing = false;
	seg->refs--;
	quota_bytes_change(&srv->quota, seg->uid, job->to, job->from); /* the reservation; counted for real by done */
	job->done(srv, cl, &req, seg, job->from, job->to, status < 0 ? status : job->err);
	free(job);
}

int job_grow(struct client *cl, const struct proto_msg *req, struct segment *seg, uint64_t to,
	     job_grow_done_fn *done)
{
	struct server *srv = cl->srv;
	struct grow_job *job = calloc(1, sizeof(*job));
	int r;

	if (!job)
		return -ENOMEM;
	bg_job_init(&job->b, job, cl, req, seg);
	job->fd = seg->fd_rw;
	job->from = seg->size;
	job->to = to;
	job->done = done;
	r = uv_queue_work(srv->loop, &job->b.work, grow_work, grow_done);
	if (r < 0) {
		free(job);
		return r;
	}
	seg->is_growing = true;
	seg->refs++;
	quota_bytes_change(&srv->quota, seg->uid, seg->size, to); /* reserved now, so concurrent creates see it */
	return 0;
}
