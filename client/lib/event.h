/* SPDX-License-Identifier: MIT */
/* event.h: what the reply reader calls when an event arrives. Private. */
#ifndef SHMBUF_EVENT_H
#define SHMBUF_EVENT_H

#define event_push shmbuf__event_push

#include "client.h"

/* Called with c->lock held: queue an event for shmbuf_next_event(), dropping
 * the oldest when EVENT_QUEUE_MAX are waiting. */
void event_push(struct shmbuf_client *c, const struct proto_event *e);

#endif
