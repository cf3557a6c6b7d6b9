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
#include <sys/stat.h>
#include <unistd.h>

#include "fdstore.h"
#include "log.h"
#include "server.h"

#define PERSIST_MAGIC "shmbufd-state 1\n"
#define PERSIST_MAX_BYTES (64u << 20) /* far above 2^24 segments' worth of lines */

static uint64_t fnv64(const char *p, size_t len)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
	return h;
}

/* The basename of the record: one per socket tag, so sockets sharing a state directory
 * (or a directory beside two sockets) keep apart. */
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
	n = snprintf(srv->state_path, sizeof(srv->state_path), "%s/shmbufd.%.8s.state", dir, tag);
	if (n < 0 || (size_t)n >= sizeof(srv->state_path))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		n = -errno;
		log_err("cannot create the state directory %s: %s", dir, strerror(-n));
		return n;
	}
	return 0;
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
		const struct persist_rec *r = &st->recs[i];

		fprintf(f, "segment %" PRIu64 " %s %" PRIu64 " %04o %u %u %" PRIu64 " %s\n", r->id, r->shm_name + 1,
			r->size, (unsigned)r->mode, (unsigned)r->uid, (unsigned)r->gid, r->created_ns, r->name);
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

/* path's text, atomically: a crash leaves the old file or the new one. */
static int replace_file(const char *path, const char *text, size_t len)
{
	char tmp[PATH_MAX + 8], dir[PATH_MAX];
	char *slash;
	int fd, r;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, text, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	/* The rename is durable once the directory is. */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
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
		struct persist_rec *r = &st->recs[n];

		if (seg->is_destroyed || seg->is_pending || !seg->shm_name[0])
			continue;
		r->id = seg->id;
		memcpy(r->shm_name, seg->shm_name, sizeof(r->shm_name));
		r->size = seg->size;
		r->mode = seg->mode;
		r->uid = seg->uid;
		r->gid = seg->gid;
		r->created_ns = seg->created_ns;
		memcpy(r->name, seg->name, sizeof(r->name));
		n++;
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
	r = text ? replace_file(srv->state_path, text, len) : -ENOMEM;
	free(text);
out:
	persist_state_free(&st);
	if (r < 0)
		log_err("cannot write the state record %s: %s; a restart may lose segments", srv->state_path,
			strerror(-r));
	return r;
}

void persist_segment_created(struct server *srv, const struct segment *seg)
{
	/* Recorded first: a crash between the two leaves a record the store agrees with or
	 * an extra stored fd, which the next start drops. */
	persist_save(srv);
	fdstore_add(srv, seg);
}

void persist_segment_changed(struct server *srv)
{
	persist_save(srv);
}

void persist_segment_destroyed(struct server *srv, const struct segment *seg)
{
	persist_save(srv);
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

int persist_read(const char *path, struct persist_state *st)
{
	char *text = NULL, *end;
	size_t len = 0, n;
	uint64_t sum;
	int r;

	memset(st, 0, sizeof(*st));
	r = read_whole(path, &text, &len);
	if (r < 0)
		return r;
	r = -EBADMSG;
	if (strlen(text) != len || strncmp(text, PERSIST_MAGIC, strlen(PERSIST_MAGIC)) != 0 || len < 2 ||
	    text[len - 1] != '\n')
		goto out;
	text[len - 1] = '\0';
	end = strrchr(text, '\n'); /* the last line: "end <n> <sum>" */
	if (!end || sscanf(end + 1, "end %zu %" SCNx64, &n, &sum) != 2 || sum != fnv64(text, (size_t)(end + 1 - text)))
		goto out;
	end[1] = '\0';
	r = parse_body(text, n, st);
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
