/* SPDX-License-Identifier: MIT */
/* persist.c: the state record of live segments: its text format, atomic writes, total reads.
 *
 * The record is text, one line per segment, closed by a line with the count and a
 * checksum of everything before it, so a torn or foreign file is told from ours:
 *
 *   shmbufd-state 1
 *   starts 3
 *   next-segment-id 42
 *   segment <id> <shm object> <size> <mode, octal> <uid> <gid> <created ns> <name to end of line>
 *   end <segments> <FNV-1a 64 of every byte above, hex>
 *
 * followed by a journal of the changes since, one appended line each, each closed by the
 * FNV-1a 64 of its text, so a line cut short by a crash is told and dropped:
 *
 *   segment ... <sum>          created (the fields of a segment line)
 *   destroy <id> <sum>
 *   resize <id> <size> <sum>
 *   owner <id> <mode, octal> <uid> <gid> <sum>   after CHMOD or CHOWN
 *   next-segment-id <id> <sum>                   a sealed segment was made (it is not recorded)
 *
 * Appending costs one write() per change; once the journal outgrows the live segments
 * (plus PERSIST_JOURNAL_SLACK) a new whole record replaces it.
 *
 * Names are printable ASCII (proto_name_is_valid), so a name never holds a newline. */
#define _GNU_SOURCE
#include "persist.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdstore.h"
#include "log.h"
#include "server.h"

#define PERSIST_MAGIC "shmbufd-state 1\n"
#define PERSIST_MAX_BYTES (64u << 20) /* far above 2^24 segments' worth of lines */
#define PERSIST_JOURNAL_SLACK 64

static uint64_t fnv64(const char *p, size_t len)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
	return h;
}

/* The basename of the record: one per socket tag, so sockets sharing a state directory
 * (or a directory beside two sockets) keep apart. */
/* One daemon per record. The socket alone does not ensure it: a second daemon
 * whose path has lost its socket file binds a new one, and would adopt the
 * first one's segments and remove its unrecorded objects. flock() goes with the
 * process, so a killed daemon never leaves the lock behind. */
static int lock_record(struct server *srv)
{
	char path[sizeof(srv->state_path) + 8];
	int fd, r;

	snprintf(path, sizeof(path), "%s.lock", srv->state_path);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		log_err("cannot open the state lock %s: %s", path, strerror(-r));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (r == -EBUSY)
			log_err("another shmbufd holds %s (it serves these segments, even if its socket "
				"file was removed): not starting a second one", path);
		else
			log_err("cannot lock %s: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	srv->state_lock_fd = fd;
	return 0;
}

int persist_init(struct server *srv)
{
	const char *tag = srv->shm_prefix + strlen("/shmbuf.");
	char dir[sizeof(srv->state_path)];
	int n;

	if (srv->cfg.state_dir) {
		n = snprintf(dir, sizeof(dir), "%s", srv->cfg.state_dir);
	} else {
		const char *slash = strrchr(srv->socket_path, '/');
		int len = slash ? (int)(slash - srv->socket_path) : 1;

		n = snprintf(dir, sizeof(dir), "%.*s/state", len, slash ? srv->socket_path : ".");
	}
	if (n < 0 || (size_t)n >= sizeof(dir))
		return -ENAMETOOLONG;
	n = snprintf(srv->state_path, sizeof(srv->state_path), "%s/shmbufd.%.8s", dir, tag);
	if (n < 0 || (size_t)n >= sizeof(srv->state_path))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		n = -errno;
		log_err("cannot create the state directory %s: %s", dir, strerror(-n));
		return n;
	}
	return lock_record(srv);
}

void persist_unlock(struct server *srv)
{
	if (srv->state_lock_fd >= 0)
		close(srv->state_lock_fd); /* the lock goes with the descriptor */
	srv->state_lock_fd = -1;
}

static void rec_of(const struct segment *seg, struct persist_rec *r)
{
	r->id = seg->id;
	memcpy(r->shm_name, seg->shm_name, sizeof(r->shm_name));
	r->size = seg->size;
	r->mode = seg->mode;
	r->uid = seg->uid;
	r->gid = seg->gid;
	r->created_ns = seg->created_ns;
	memcpy(r->name, seg->name, sizeof(r->name));
}

static int format_rec(const struct persist_rec *r, char *buf, size_t cap)
{
	return snprintf(buf, cap, "segment %" PRIu64 " %s %" PRIu64 " %04o %u %u %" PRIu64 " %s", r->id,
			r->shm_name + 1, r->size, (unsigned)r->mode, (unsigned)r->uid, (unsigned)r->gid,
			r->created_ns, r->name);
}

char *persist_format(const struct persist_state *st, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fprintf(f, PERSIST_MAGIC "starts %" PRIu64 "\nnext-segment-id %" PRIu64 "\n", st->starts,
		st->next_segment_id);
	for (size_t i = 0; i < st->n; i++) {
		char line[PROTO_NAME_MAX + 160];

		format_rec(&st->recs[i], line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
	fflush(f);
	fprintf(f, "end %zu %016" PRIx64 "\n", st->n, fnv64(buf, size));
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	*len = size;
	return buf;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The record goes to a new file, <base>.<seq>.state, and only then is the previous one
 * removed: a crash of the daemon at any instant leaves the previous record whole, and the
 * new one whole or torn (its checksum tells), and persist_load() takes the newest whole one.
 * Not temp + rename: ext4 (auto_da_alloc) flushes a file renamed over another, some 4 ms per
 * create on this machine's disk-backed /tmp. No fsync: the record describes /dev/shm, which
 * an operating-system crash or a power loss empties as well, so the only crash the record
 * must survive is the daemon's own, and the page cache outlives the process. */
static void record_path(const struct server *srv, uint64_t seq, char *out, size_t cap)
{
	snprintf(out, cap, "%s.%" PRIu64 ".state", srv->state_path, seq);
}

static int write_record(struct server *srv, const char *text, size_t len)
{
	char path[PATH_MAX + 32];
	int fd, r;

	record_path(srv, srv->state_seq + 1, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST && unlink(path) == 0) /* a torn one a start did not clear */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, text, len);
	if (r < 0) {
		close(fd);
		unlink(path);
		return r;
	}
	persist_deinit(srv);
	srv->state_fd = fd; /* the journal goes on here */
	srv->state_appended = 0;
	if (srv->state_seq > 0) {
		record_path(srv, srv->state_seq, path, sizeof(path));
		unlink(path);
	}
	srv->state_seq++;
	return 0;
}

/* The live segments as a record. Pending ones (being created) are not yet anyone's. */
static int collect(struct server *srv, struct persist_state *st)
{
	struct segment *seg;
	size_t n = 0;

	st->starts = srv->starts;
	st->next_segment_id = srv->next_segment_id;
	st->recs = calloc(HASH_COUNT(srv->segments) + 1, sizeof(*st->recs));
	if (!st->recs)
		return -ENOMEM;
	TAILQ_FOREACH(seg, &srv->all_segments, order_link) {
		if (seg->is_destroyed || seg->is_pending || !seg->shm_name[0])
			continue;
		rec_of(seg, &st->recs[n++]);
	}
	st->n = n;
	return 0;
}

int persist_save(struct server *srv)
{
	struct persist_state st = { 0 };
	size_t len = 0;
	char *text;
	int r = collect(srv, &st);

	if (r < 0)
		goto out;
	text = persist_format(&st, &len);
	r = text ? write_record(srv, text, len) : -ENOMEM;
	free(text);
out:
	persist_state_free(&st);
	if (r < 0)
		log_err("cannot write the state record %s.*.state: %s; a restart may lose segments",
			srv->state_path, strerror(-r));
	return r;
}

void persist_deinit(struct server *srv)
{
	if (srv->state_fd >= 0)
		close(srv->state_fd);
	srv->state_fd = -1;
}

/* One journal line, or a whole new record when the journal is long or cannot be written
 * (a line written in part is then superseded with its file). */
static void append(struct server *srv, const char *text)
{
	char line[PROTO_NAME_MAX + 200];
	int n;

	if (srv->state_fd < 0 || srv->state_appended >= HASH_COUNT(srv->segments) + PERSIST_JOURNAL_SLACK) {
		persist_save(srv);
		return;
	}
	n = snprintf(line, sizeof(line), "%s %016" PRIx64 "\n", text, fnv64(text, strlen(text)));
	if (n <= 0 || (size_t)n >= sizeof(line) || write(srv->state_fd, line, (size_t)n) != n) {
		persist_save(srv);
		return;
	}
	srv->state_appended++;
}

void persist_segment_created(struct server *srv, const struct segment *seg)
{
	struct persist_rec r;
	char text[PROTO_NAME_MAX + 160];

	/* Recorded first: a crash between the two leaves a record the store agrees with or
	 * an extra stored fd, which the next start drops. */
	if (seg->is_sealed) {
		snprintf(text, sizeof(text), "next-segment-id %" PRIu64, seg->id);
		append(srv, text);
		return;
	}
	rec_of(seg, &r);
	format_rec(&r, text, sizeof(text));
	append(srv, text);
	fdstore_add(srv, seg);
}

void persist_segment_changed(struct server *srv, const struct segment *seg)
{
	char text[64];

	if (seg->is_sealed)
		return;
	snprintf(text, sizeof(text), "resize %" PRIu64 " %" PRIu64, seg->id, seg->size);
	append(srv, text);
}

void persist_segment_owner_changed(struct server *srv, const struct segment *seg)
{
	char text[96];

	if (seg->is_sealed)
		return;
	snprintf(text, sizeof(text), "owner %" PRIu64 " %04o %u %u", seg->id, (unsigned)seg->mode,
		 (unsigned)seg->uid, (unsigned)seg->gid);
	append(srv, text);
}

void persist_segment_destroyed(struct server *srv, const struct segment *seg)
{
	char text[32];

	if (seg->is_sealed)
		return;
	snprintf(text, sizeof(text), "destroy %" PRIu64, seg->id);
	append(srv, text);
	fdstore_remove(srv, seg->shm_name);
}

/* ---- reading ---- */

static int read_whole(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > PERSIST_MAX_BYTES) {
		close(fd);
		return -EBADMSG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

/* One "segment ..." line (without its newline) into r; false if it does not parse. */
static bool parse_segment(const char *line, struct persist_rec *r)
{
	char obj[SEGMENT_SHM_NAME_MAX - 1];
	unsigned mode, uid, gid;
	int name_at = -1;

	if (sscanf(line, "segment %" SCNu64 " %62s %" SCNu64 " %o %u %u %" SCNu64 "%n", &r->id, obj, &r->size,
		   &mode, &uid, &gid, &r->created_ns, &name_at) != 7 || name_at < 0 || line[name_at] != ' ')
		return false;
	name_at++; /* one space, then the name as it is (it may start with a space) */
	if (mode > 0777 || r->size == 0 || r->size > (uint64_t)INT64_MAX || r->id == 0 ||
	    strlen(line + name_at) > PROTO_NAME_MAX || !proto_name_is_valid(line + name_at, strlen(line + name_at)))
		return false;
	snprintf(r->shm_name, sizeof(r->shm_name), "/%s", obj);
	memcpy(r->name, line + name_at, strlen(line + name_at) + 1);
	r->mode = mode;
	r->uid = (uid_t)uid;
	r->gid = (gid_t)gid;
	return true;
}

/* The body between the magic and the "end" line, whose checksum is already right. */
static int parse_body(char *text, size_t n_expected, struct persist_state *st)
{
	char *line = text + strlen(PERSIST_MAGIC), *nl;

	st->recs = calloc(n_expected + 1, sizeof(*st->recs));
	if (!st->recs)
		return -ENOMEM;
	for (; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			return -EBADMSG;
		*nl = '\0';
		if (sscanf(line, "starts %" SCNu64, &st->starts) == 1 ||
		    sscanf(line, "next-segment-id %" SCNu64, &st->next_segment_id) == 1)
			continue;
		if (st->n >= n_expected || !parse_segment(line, &st->recs[st->n]))
			return -EBADMSG;
		st->n++;
	}
	return st->n == n_expected ? 0 : -EBADMSG;
}

/* An "owner" line: the segment's new mode, owner and group. */
static int apply_owner(struct persist_state *st, uint64_t id, unsigned mode, unsigned uid, unsigned gid)
{
	for (size_t i = 0; i < st->n; i++) {
		if (st->recs[i].id == id) {
			st->recs[i].mode = mode;
			st->recs[i].uid = (uid_t)uid;
			st->recs[i].gid = (gid_t)gid;
			return 0;
		}
	}
	return -EBADMSG;
}

/* One journal line (its checksum already checked and cut off) applied to st. */
static int apply_change(char *line, struct persist_state *st)
{
	uint64_t id, size;
	unsigned mode, uid, gid;
	size_t i;

	if (strncmp(line, "segment ", 8) == 0) {
		struct persist_rec *more = realloc(st->recs, (st->n + 1) * sizeof(*more));

		if (!more)
			return -ENOMEM;
		st->recs = more;
		if (!parse_segment(line, &more[st->n]))
			return -EBADMSG;
		if (st->next_segment_id < more[st->n].id)
			st->next_segment_id = more[st->n].id;
		st->n++;
		return 0;
	}
	if (sscanf(line, "next-segment-id %" SCNu64, &id) == 1) {
		if (st->next_segment_id < id)
			st->next_segment_id = id;
		return 0;
	}
	if (sscanf(line, "owner %" SCNu64 " %o %u %u", &id, &mode, &uid, &gid) == 4 && mode <= 0777)
		return apply_owner(st, id, mode, uid, gid);
	if (sscanf(line, "destroy %" SCNu64, &id) == 1 || sscanf(line, "resize %" SCNu64 " %" SCNu64, &id, &size) == 2) {
		for (i = 0; i < st->n && st->recs[i].id != id; i++)
			;
		if (i == st->n)
			return -EBADMSG;
		if (line[0] == 'r')
			st->recs[i].size = size;
		else
			memmove(&st->recs[i], &st->recs[i + 1], (st->n-- - i - 1) * sizeof(*st->recs));
		return 0;
	}
	return -EBADMSG;
}

/* The journal after the "end" line. A line cut short (no newline, a wrong sum) ends it: it
 * was being written when the daemon died, before the change was answered. */
static int apply_journal(char *p, struct persist_state *st)
{
	char *nl, *sp;
	uint64_t sum;
	int r;

	for (; (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		sp = strrchr(p, ' ');
		if (!sp || sscanf(sp + 1, "%" SCNx64, &sum) != 1 || sum != fnv64(p, (size_t)(sp - p)))
			break;
		*sp = '\0';
		r = apply_change(p, st);
		if (r < 0)
			return r;
	}
	if (*p) {
		log_warn("the state record's last change was cut short by a crash; ignored (it was never answered)");
		st->is_suspect = true;
	}
	return 0;
}

int persist_read(const char *path, struct persist_state *st)
{
	char *text = NULL, *end, *eol;
	size_t len = 0, n;
	uint64_t sum;
	int r;

	memset(st, 0, sizeof(*st));
	r = read_whole(path, &text, &len);
	if (r < 0)
		return r;
	r = -EBADMSG;
	if (strlen(text) != len || strncmp(text, PERSIST_MAGIC, strlen(PERSIST_MAGIC)) != 0)
		goto out;
	end = strstr(text, "\nend "); /* the whole record's last line: "end <n> <sum>" */
	eol = end ? strchr(end + 1, '\n') : NULL;
	if (!eol || sscanf(end + 1, "end %zu %" SCNx64, &n, &sum) != 2 || sum != fnv64(text, (size_t)(end + 1 - text)))
		goto out;
	end[1] = '\0';
	r = parse_body(text, n, st);
	if (r == 0)
		r = apply_journal(eol + 1, st);
out:
	free(text);
	if (r < 0)
		persist_state_free(st);
	return r;
}

void persist_state_free(struct persist_state *st)
{
	free(st->recs);
	st->recs = NULL;
	st->n = 0;
}

/* ---- choosing the record at start ---- */

static int cmp_seq_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* The sequence numbers of <base>.<seq>.state in the state directory, newest first. */
static int list_records(const struct server *srv, uint64_t **out, size_t *n)
{
	const char *slash = strrchr(srv->state_path, '/'), *base = slash + 1;
	char dir[PATH_MAX];
	size_t blen = strlen(base), cap = 0;
	struct dirent *d;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - srv->state_path), srv->state_path);
	*out = NULL;
	*n = 0;
	dp = opendir(dir);
	if (!dp)
		return -errno;
	while ((d = readdir(dp))) {
		char *end;
		uint64_t seq;

		if (strncmp(d->d_name, base, blen) != 0 || d->d_name[blen] != '.')
			continue;
		seq = strtoull(d->d_name + blen + 1, &end, 10);
		if (end == d->d_name + blen + 1 || strcmp(end, ".state") != 0)
			continue;
		if (*n == cap) {
			uint64_t *more = realloc(*out, (cap = cap ? 2 * cap : 4) * sizeof(*more));

			if (!more) {
				closedir(dp);
				return -ENOMEM;
			}
			*out = more;
		}
		(*out)[(*n)++] = seq;
	}
	closedir(dp);
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), cmp_seq_desc);
	return 0;
}

/* A record that does not read back is kept for a human, out of the way. */
static void set_aside(const char *path)
{
	char aside[PATH_MAX + 48];

	snprintf(aside, sizeof(aside), "%s.corrupt", path);
	if (rename(path, aside) == 0)
		log_warn("the state record %s is torn or not shmbufd's; moved to %s", path, aside);
}

int persist_load(struct server *srv, struct persist_state *st)
{
	char path[PATH_MAX + 32];
	uint64_t *seqs;
	size_t n;
	int r = list_records(srv, &seqs, &n), found = -ENOENT;

	memset(st, 0, sizeof(*st));
	if (r < 0)
		return r;
	srv->state_seq = n ? seqs[0] : 0; /* the next write goes above every file there is */
	for (size_t i = 0; i < n; i++) {
		record_path(srv, seqs[i], path, sizeof(path));
		if (found == 0) {
			unlink(path); /* older than the one taken */
			continue;
		}
		r = persist_read(path, st);
		if (r == -ENOMEM) {
			free(seqs);
			return r;
		}
		if (r == 0)
			found = 0;
		else if (i == 0 && n > 1)
			unlink(path); /* a write cut short by the crash; the one before it is whole */
		else
			set_aside(path), found = -EBADMSG;
	}
	free(seqs);
	return found;
}
