/* SPDX-License-Identifier: MIT */
/* ctl_show.c: shmbufctl's commands that only look: status, list, leases, clients and watch,
 * each as an aligned table (or lines) for people and as JSON for scripts. */
#include "ctl.h"

#include <errno.h>
#include <string.h>

/* "3 of 4096", or just "3" when the daemon reports no limit. */
static void fmt_of(uint64_t n, uint64_t max, char *buf, size_t cap)
{
	if (max)
		snprintf(buf, cap, "%llu of %llu", (unsigned long long)n, (unsigned long long)max);
	else
		snprintf(buf, cap, "%llu", (unsigned long long)n);
}

static void json_user(struct json *j, uid_t uid)
{
	json_u64(j, "uid", uid);
	json_str(j, "user", user_name(uid));
}

/* ---- status ---- */

static void status_json(const shmbuf_server_status *s)
{
	struct json j;

	json_init(&j, stdout, true);
	json_open(&j, NULL, '{');
	json_str(&j, "version", s->version);
	json_i64(&j, "pid", s->pid);
	json_str(&j, "socket", s->socket_path);
	json_u64(&j, "started_ns", s->started_ns);
	json_u64(&j, "uptime_ns", s->uptime_ns);
	json_u64(&j, "segments", s->segments);
	json_u64(&j, "max_segments", s->max_segments);
	json_u64(&j, "bytes", s->bytes);
	json_u64(&j, "max_bytes", s->max_bytes);
	json_u64(&j, "read_leases", s->read_leases);
	json_u64(&j, "write_leases", s->write_leases);
	json_u64(&j, "waiters", s->waiters);
	json_u64(&j, "clients", s->clients);
	json_u64(&j, "max_clients", s->max_clients);
	json_u64(&j, "restarts", s->restarts);
	json_u64(&j, "grace_left_ms", s->grace_left_ms);
	json_u64(&j, "orphan_leases", s->orphans);
	json_u64(&j, "reclaimed_leases", s->reclaimed_leases);
	json_u64(&j, "lost_leases", s->lost_leases);
	json_close(&j, '}');
}

static void status_text(const shmbuf_server_status *s)
{
	char started[32], up[32], used[32], max[32], pct[32] = "", count[48];

	fmt_time(s->started_ns, false, started, sizeof(started));
	fmt_duration(s->uptime_ns, up, sizeof(up));
	fmt_size_approx(s->bytes, used, sizeof(used));
	fmt_size_approx(s->max_bytes, max, sizeof(max));
	if (s->max_bytes)
		snprintf(pct, sizeof(pct), " (%.1f%%)", 100.0 * (double)s->bytes / (double)s->max_bytes);
	printf("version:   shmbufd %s, pid %d\n", s->version, (int)s->pid);
	printf("socket:    %s\n", s->socket_path);
	printf("uptime:    %s, since %s\n", up, started);
	fmt_of(s->segments, s->max_segments, count, sizeof(count));
	printf("segments:  %s\n", count);
	printf("bytes:     %s of %s%s\n", used, max, pct);
	printf("leases:    %u read, %u write\n", s->read_leases, s->write_leases);
	printf("waiters:   %u\n", s->waiters);
	fmt_of(s->clients, s->max_clients, count, sizeof(count));
	printf("clients:   %s\n", count);
	printf("restarts:  %u", s->restarts);
	if (s->grace_left_ms)
		printf(", grace: %u ms left, %u leases not reclaimed yet", s->grace_left_ms, s->orphans);
	if (s->reclaimed_leases || s->lost_leases || s->grace_left_ms)
		printf(" (%u reclaimed, %u lost)", s->reclaimed_leases, s->lost_leases);
	printf("\n");
}

int cmd_status(const struct args *a)
{
	shmbuf_server_status s;
	shmbuf_client *c;
	int r, rc;

	rc = ctl_connect(a, &c);
	if (rc)
		return rc;
	r = shmbuf_server_status_get(c, &s, sizeof(s));
	if (r < 0) {
		rc = ctl_fail(a, NULL, r);
	} else if (a->json) {
		status_json(&s);
	} else {
		status_text(&s);
	}
	shmbuf_disconnect(c);
	return rc;
}

/* ---- list ---- */

static void list_json(const shmbuf_segment_info *v, size_t n)
{
	struct json j;

	json_init(&j, stdout, true);
	json_open(&j, NULL, '{');
	json_open(&j, "segments", '[');
	for (size_t i = 0; i < n; i++) {
		char mode[8];

		snprintf(mode, sizeof(mode), "%04o", v[i].mode);
		json_open(&j, NULL, '{');
		json_str(&j, "name", v[i].name);
		json_u64(&j, "id", v[i].id);
		json_u64(&j, "size", v[i].size);
		json_str(&j, "mode", mode);
		json_user(&j, v[i].uid);
		json_u64(&j, "gid", v[i].gid);
		json_i64(&j, "pid", v[i].pid);
		json_u64(&j, "created_ns", v[i].created_ns);
		json_u64(&j, "read_leases", v[i].read_leases);
		json_u64(&j, "write_leases", v[i].write_leases);
		json_u64(&j, "waiters", v[i].waiters);
		json_u64(&j, "generation", v[i].generation);
		json_str(&j, "state", (v[i].flags & SHMBUF_SEGMENT_DESTROYED) ? "destroyed" : "live");
		json_bool(&j, "sealed", (v[i].flags & SHMBUF_SEGMENT_SEALED) != 0);
		json_close(&j, '}');
	}
	json_close(&j, ']');
	json_close(&j, '}');
}


/* What keeps a destroyed segment's memory: its leases, or (with none left) clients
 * that mapped it and have not let go yet (libshmbuf lets go at its next call). */
static const char *segment_state(const shmbuf_segment_info *s)
{
	if (!(s->flags & SHMBUF_SEGMENT_DESTROYED))
		return "live";
	return s->read_leases || s->write_leases ? "destroyed, still leased" : "destroyed, still mapped";
}
static void list_text(const shmbuf_segment_info *v, size_t n)
{
	static const char *const heads[] = { "NAME", "SIZE", "MODE", "OWNER", "READ", "WRITE", "WAIT", "GEN", "STATE" };
	struct table t;

	table_init(&t, 9, heads, "lrllrrrrl");
	for (size_t i = 0; i < n; i++) {
		char size[32], owner[64];

		fmt_size(v[i].size, size, sizeof(size));
		table_cell(&t, "%s", v[i].name);
		table_cell(&t, "%s", size);
		table_cell(&t, "%04o", v[i].mode);
		table_cell(&t, "%s", user_label(v[i].uid, owner, sizeof(owner)));
		table_cell(&t, "%u", v[i].read_leases);
		table_cell(&t, "%u", v[i].write_leases);
		table_cell(&t, "%u", v[i].waiters);
		table_cell(&t, "%llu", (unsigned long long)v[i].generation);
		table_cell(&t, "%s%s", segment_state(&v[i]), (v[i].flags & SHMBUF_SEGMENT_SEALED) ? ", sealed" : "");
	}
	table_print(&t, stdout);
	table_deinit(&t);
}

int cmd_list(const struct args *a)
{
	shmbuf_segment_info *v;
	shmbuf_client *c;
	size_t n;
	int r, rc;

	rc = ctl_connect(a, &c);
	if (rc)
		return rc;
	r = shmbuf_list_segments(c, &v, &n, sizeof(*v));
	if (r < 0) {
		rc = ctl_fail(a, NULL, r);
	} else {
		if (a->json)
			list_json(v, n);
		else
			list_text(v, n);
		shmbuf_free(v);
	}
	shmbuf_disconnect(c);
	return rc;
}

/* ---- leases ---- */

static void leases_json(const shmbuf_lease_info *v, size_t n)
{
	struct json j;

	json_init(&j, stdout, true);
	json_open(&j, NULL, '{');
	json_open(&j, "leases", '[');
	for (size_t i = 0; i < n; i++) {
		json_open(&j, NULL, '{');
		json_u64(&j, "id", v[i].lease_id);
		json_str(&j, "segment", v[i].segment);
		json_bool(&j, "segment_destroyed", (v[i].flags & SHMBUF_LEASE_SEGMENT_DESTROYED) != 0);
		json_u64(&j, "offset", v[i].offset);
		json_u64(&j, "length", v[i].length);
		json_str(&j, "mode", (v[i].flags & SHMBUF_LEASE_WRITE) ? "write" : "read");
		json_str(&j, "state", (v[i].flags & SHMBUF_LEASE_WAITING) ? "waiting" : "held");
		json_u64(&j, "client_id", v[i].client_id);
		json_i64(&j, "pid", v[i].pid);
		json_user(&j, v[i].uid);
		json_str(&j, "comm", v[i].comm);
		json_u64(&j, "age_ns", v[i].age_ns);
		json_u64(&j, "blocked_by", v[i].blocked_by); /* 0 for held leases */
		json_close(&j, '}');
	}
	json_close(&j, ']');
	json_close(&j, '}');
}

static void leases_text(const shmbuf_lease_info *v, size_t n)
{
	static const char *const heads[] = { "ID",  "SEGMENT", "OFFSET",  "LENGTH", "MODE",      "STATE",
					     "PID", "USER",    "COMMAND", "AGE",    "BLOCKED-BY" };
	struct table t;

	table_init(&t, 11, heads, "rlrrllrllrr");
	for (size_t i = 0; i < n; i++) {
		char user[64], comm[SHMBUF_COMM_MAX + 1], age[32];

		printable(v[i].comm, comm, sizeof(comm));
		fmt_duration(v[i].age_ns, age, sizeof(age));
		table_cell(&t, "%llu", (unsigned long long)v[i].lease_id);
		table_cell(&t, "%s%s", v[i].segment, (v[i].flags & SHMBUF_LEASE_SEGMENT_DESTROYED) != 0 ? " (destroyed)" : "");
		table_cell(&t, "%llu", (unsigned long long)v[i].offset);
		table_cell(&t, "%llu", (unsigned long long)v[i].length);
		table_cell(&t, "%s", (v[i].flags & SHMBUF_LEASE_WRITE) ? "write" : "read");
		table_cell(&t, "%s", (v[i].flags & SHMBUF_LEASE_WAITING) ? "waiting" : "held");
		table_cell(&t, "%d", (int)v[i].pid);
		table_cell(&t, "%s", user_label(v[i].uid, user, sizeof(user)));
		table_cell(&t, "%s", comm);
		table_cell(&t, "%s", age);
		/* A waiter's blocker: a lease held, or a request queued ahead of it. 0: the
		 * daemon is settling it right now, or is older and does not say. */
		if ((v[i].flags & SHMBUF_LEASE_WAITING) && v[i].blocked_by)
			table_cell(&t, "%llu", (unsigned long long)v[i].blocked_by);
		else
			table_cell(&t, "%s", "-");
	}
	table_print(&t, stdout);
	table_deinit(&t);
}

int cmd_leases(const struct args *a)
{
	const char *name = a->npos > 0 ? a->pos[0] : NULL;
	shmbuf_lease_info *v;
	shmbuf_client *c;
	size_t n;
	int r, rc;

	rc = ctl_connect(a, &c);
	if (rc)
		return rc;
	r = shmbuf_list_leases(c, name, &v, &n, sizeof(*v));
	if (r < 0) {
		rc = ctl_fail(a, name, r);
	} else {
		if (a->json)
			leases_json(v, n);
		else
			leases_text(v, n);
		shmbuf_free(v);
	}
	shmbuf_disconnect(c);
	return rc;
}

/* ---- clients ---- */

static const char *client_flags(const shmbuf_client_info *k)
{
	if ((k->flags & SHMBUF_CLIENT_SELF) && (k->flags & SHMBUF_CLIENT_SUBSCRIBED))
		return "self,subscribed";
	if (k->flags & SHMBUF_CLIENT_SELF)
		return "self";
	return (k->flags & SHMBUF_CLIENT_SUBSCRIBED) ? "subscribed" : "-";
}

static void clients_json(const shmbuf_client_info *v, size_t n)
{
	struct json j;

	json_init(&j, stdout, true);
	json_open(&j, NULL, '{');
	json_open(&j, "clients", '[');
	for (size_t i = 0; i < n; i++) {
		json_open(&j, NULL, '{');
		json_u64(&j, "id", v[i].client_id);
		json_i64(&j, "pid", v[i].pid);
		json_user(&j, v[i].uid);
		json_u64(&j, "gid", v[i].gid);
		json_str(&j, "comm", v[i].comm);
		json_u64(&j, "leases", v[i].leases);
		json_u64(&j, "waiting", v[i].waiting);
		json_u64(&j, "age_ns", v[i].age_ns);
		json_bool(&j, "self", (v[i].flags & SHMBUF_CLIENT_SELF) != 0);
		json_bool(&j, "subscribed", (v[i].flags & SHMBUF_CLIENT_SUBSCRIBED) != 0);
		json_close(&j, '}');
	}
	json_close(&j, ']');
	json_close(&j, '}');
}

static void clients_text(const shmbuf_client_info *v, size_t n)
{
	static const char *const heads[] = { "ID", "PID", "USER", "COMMAND", "LEASES", "WAITING", "AGE", "FLAGS" };
	struct table t;

	table_init(&t, 8, heads, "rrllrrrl");
	for (size_t i = 0; i < n; i++) {
		char user[64], comm[SHMBUF_COMM_MAX + 1], age[32];

		printable(v[i].comm, comm, sizeof(comm));
		fmt_duration(v[i].age_ns, age, sizeof(age));
		table_cell(&t, "%llu", (unsigned long long)v[i].client_id);
		table_cell(&t, "%d", (int)v[i].pid);
		table_cell(&t, "%s", user_label(v[i].uid, user, sizeof(user)));
		table_cell(&t, "%s", comm);
		table_cell(&t, "%u", v[i].leases);
		table_cell(&t, "%u", v[i].waiting);
		table_cell(&t, "%s", age);
		table_cell(&t, "%s", client_flags(&v[i]));
	}
	table_print(&t, stdout);
	table_deinit(&t);
}

int cmd_clients(const struct args *a)
{
	shmbuf_client_info *v;
	shmbuf_client *c;
	size_t n;
	int r, rc;

	rc = ctl_connect(a, &c);
	if (rc)
		return rc;
	r = shmbuf_list_clients(c, &v, &n, sizeof(*v));
	if (r < 0) {
		rc = ctl_fail(a, NULL, r);
	} else {
		if (a->json)
			clients_json(v, n);
		else
			clients_text(v, n);
		shmbuf_free(v);
	}
	shmbuf_disconnect(c);
	return rc;
}

/* ---- watch ---- */

enum event_kind { EV_SEGMENT, EV_LEASE, EV_CLIENT, EV_UNKNOWN };

static enum event_kind event_kind(int type)
{
	switch (type) {
	case SHMBUF_EVENT_SEGMENT_CREATED:
	case SHMBUF_EVENT_SEGMENT_RESIZED:
	case SHMBUF_EVENT_SEGMENT_DESTROYED:
	case SHMBUF_EVENT_SEGMENT_FREED:
		return EV_SEGMENT;
	case SHMBUF_EVENT_LEASE_ACQUIRED:
	case SHMBUF_EVENT_LEASE_RELEASED:
	case SHMBUF_EVENT_LEASE_WAITING:
	case SHMBUF_EVENT_LEASE_CANCELLED:
		return EV_LEASE;
	case SHMBUF_EVENT_CLIENT_CONNECTED:
	case SHMBUF_EVENT_CLIENT_DISCONNECTED:
		return EV_CLIENT;
	}
	return EV_UNKNOWN;
}

/* Why a wait ended (shmbuf_event.reason), NULL when the daemon did not say. */
static const char *cancel_reason(uint32_t reason)
{
	switch (reason) {
	case SHMBUF_CANCEL_TIMEOUT:
		return "timeout";
	case SHMBUF_CANCEL_DESTROY:
		return "destroy";
	case SHMBUF_CANCEL_SHRINK:
		return "shrink";
	case SHMBUF_CANCEL_DISCONNECT:
		return "disconnect";
	case SHMBUF_CANCEL_CANCEL:
		return "cancel";
	}
	return reason ? "unknown" : NULL;
}

static void event_json(const shmbuf_event *e)
{
	enum event_kind kind = event_kind(e->type);
	struct json j;

	json_init(&j, stdout, false);
	json_open(&j, NULL, '{');
	json_str(&j, "event", shmbuf_event_name(e->type));
	json_i64(&j, "type", e->type);
	json_u64(&j, "time_ns", e->time_ns);
	json_u64(&j, "client_id", e->client_id);
	json_i64(&j, "pid", e->pid);
	json_user(&j, e->uid);
	json_str(&j, "comm", e->comm);
	if (kind != EV_CLIENT)
		json_str(&j, "segment", e->segment);
	if (kind == EV_SEGMENT || kind == EV_UNKNOWN)
		json_u64(&j, "size", e->size);
	if (kind == EV_LEASE || kind == EV_UNKNOWN) {
		json_u64(&j, "lease_id", e->lease_id);
		json_u64(&j, "offset", e->offset);
		json_u64(&j, "length", e->length);
		json_str(&j, "mode", (e->flags & SHMBUF_LEASE_WRITE) ? "write" : "read");
	}
	if (e->type == SHMBUF_EVENT_LEASE_CANCELLED && cancel_reason(e->reason))
		json_str(&j, "reason", cancel_reason(e->reason));
	json_close(&j, '}');
}

static void event_text(const shmbuf_event *e)
{
	char when[32], who[96], user[64], comm[SHMBUF_COMM_MAX + 1], size[32];

	fmt_time(e->time_ns, true, when, sizeof(when));
	printable(e->comm, comm, sizeof(comm));
	/* pid 0: shmbufd itself did it (a destroyed segment's memory freed). */
	if (e->pid == 0)
		snprintf(who, sizeof(who), "by shmbufd");
	else
		snprintf(who, sizeof(who), "by pid %d (%s, %s)", (int)e->pid, comm,
			 user_label(e->uid, user, sizeof(user)));
	printf("%s  %-19s  ", when, shmbuf_event_name(e->type));
	switch (event_kind(e->type)) {
	case EV_SEGMENT:
		fmt_size(e->size, size, sizeof(size));
		printf("%s, %s, %s\n", e->segment, size, who);
		break;
	case EV_LEASE:
		printf("%s, %s lease %llu, offset %llu, length %llu, %s", e->segment, (e->flags & SHMBUF_LEASE_WRITE) ? "write" : "read",
		       (unsigned long long)e->lease_id, (unsigned long long)e->offset,
		       (unsigned long long)e->length, who);
		if (e->type == SHMBUF_EVENT_LEASE_CANCELLED && cancel_reason(e->reason))
			printf(", reason: %s", cancel_reason(e->reason));
		putchar('\n');
		break;
	case EV_CLIENT:
		printf("client %llu, %s\n", (unsigned long long)e->client_id, who);
		break;
	case EV_UNKNOWN:
		printf("type %d, client %llu, %s\n", e->type, (unsigned long long)e->client_id, who);
		break;
	}
}

int cmd_watch(const struct args *a)
{
	shmbuf_client *c;
	shmbuf_event e;
	uint64_t reported = 0, dropped;
	int r, rc;

	rc = ctl_connect(a, &c);
	if (rc)
		return rc;
	r = shmbuf_subscribe(c);
	if (r < 0) {
		rc = ctl_fail(a, NULL, r);
		goto out;
	}
	/* Runs until a signal ends the process (the default action is right:
	 * nothing is held) or the daemon goes away: events are read as the
	 * client's descriptor turns readable (ctl_wait() dispatches). */
	for (;;) {
		r = shmbuf_next_event(c, &e, sizeof(e), 0);
		if (r == -ETIMEDOUT) {
			r = ctl_wait(c, NULL, -1.0, true);
			if (r >= 0)
				continue;
		}
		if (r < 0)
			break;
		dropped = shmbuf_events_dropped(c);
		if (dropped != reported) {
			fprintf(stderr, "shmbufctl: watch: %llu events lost: output is slower than the daemon\n",
				(unsigned long long)(dropped - reported));
			reported = dropped;
		}
		if ((a->event_types && !(e.type >= 0 && e.type < 32 && (a->event_types & (1u << e.type)))) ||
		    (a->segment && strcmp(a->segment, e.segment) != 0))
			continue;
		if (a->json)
			event_json(&e);
		else
			event_text(&e);
		if (fflush(stdout) != 0) {
			rc = ctl_failf(a, "cannot write to standard output: %s", strerror(errno));
			goto out;
		}
	}
	rc = ctl_fail(a, NULL, r);
out:
	shmbuf_disconnect(c);
	return rc;
}
