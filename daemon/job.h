/* SPDX-License-Identifier: MIT */
/* job.h: requests whose slow part runs on libuv's thread pool: reserving the memory of a
 * large CREATE, or of what a large RESIZE adds. */
#ifndef SHMBUFD_JOB_H
#define SHMBUFD_JOB_H

#include <stdint.h>

#include "client.h"
#include "proto.h"
#include "segment.h"
#include "server.h"

/* Reserving this much memory or more (a CREATE, or what a RESIZE adds) happens
 * on libuv's thread pool: tmpfs takes some 0.2 s per GiB to hand out the
 * pages, and the loop must not make every other client wait for that. */
#define JOB_BACKGROUND_BYTES (16u << 20)

/* Back on the loop when a create job is done: cl is NULL when the client left
 * meanwhile; req is its request (op and seq) to answer; err from segment_open_fresh().
 * Takes seg. Not called when the server is stopping (seg is freed). */
typedef void job_create_done_fn(struct server *srv, struct client *cl, const struct proto_msg *req,
				struct segment *seg, int err);
/* Back on the loop when a grow job is done: err is 0 when [from, to) is
 * reserved. seg is no longer held by the job. */
typedef void job_grow_done_fn(struct server *srv, struct client *cl, const struct proto_msg *req,
			      struct segment *seg, uint64_t from, uint64_t to, int err);

/* Open seg's object on the thread pool. Returns 0 when the job was queued, or
 * a negative errno to do it on the loop after all. Until it is done the name
 * is taken and its bytes counted, but the segment is pending (not there for
 * other requests). */
int job_create(struct client *cl, const struct proto_msg *req, struct segment *seg, job_create_done_fn *done);

/* Reserve the memory from seg's size to `to` on the thread pool (beyond the
 * current end); done sets the size. Meanwhile the segment works at its old size
 * and is marked growing; the job holds a reference, so a DESTROY can go ahead. */
int job_grow(struct client *cl, const struct proto_msg *req, struct segment *seg, uint64_t to,
	     job_grow_done_fn *done);

/* Shutting down: CREATEs not yet started on the thread pool are not started. */
void job_cancel_creates(struct server *srv);

#endif
