/* SPDX-License-Identifier: MIT */
/* listen.c: the listening socket: systemd's, or ours at the configured path (its
 * directories made and checked, a stale socket cleared). */
#define _GNU_SOURCE
#include "listen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "fdstore.h"
#include "log.h"

/* The socket's directory must be ours (or root's) and not writable by others,
 * or another user could have put it there to swap in a socket of their own
 * (e.g. a pre-made /tmp/shmbuf-<uid>). */
static int socket_dir_is_safe(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	char *p;

	snprintf(dir, sizeof(dir), "%s", path);
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0; /* the working directory or /: not of our making (as before) */
	*p = '\0';
	if (stat(dir, &st) < 0) {
		log_err("cannot check the socket's directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		log_err("refusing to put the socket in %s: the directory is owned by uid %d, not by us (uid %d) or root",
			dir, (int)st.st_uid, (int)geteuid());
		return -EPERM;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		log_err("refusing to put the socket in %s: the directory is writable by %s (mode %04o) and not sticky; "
			"chmod go-w it or choose another --socket",
			dir, (st.st_mode & S_IWOTH) ? "others" : "its group", (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

static int mkdir_parents(const char *path, mode_t mode)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	p = strrchr(buf, '/');
	if (!p || p == buf)
		return 0;
	*p = '\0';
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A socket file that exists may be a live daemon's or a stale one. */
static int clear_stale_socket(const struct sockaddr_un *addr)
{
	struct stat st;
	int fd, r;

	if (lstat(addr->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s exists and is not a socket; not touching it", addr->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	close(fd);
	if (r == 0) {
		log_err("another shmbufd is already listening on %s", addr->sun_path);
		return -EADDRINUSE;
	}
	if (unlink(addr->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* The socket systemd passed: 1 when taken, 0 when there is none, or a negative errno. */
static int systemd_socket(struct server *srv)
{
#ifdef HAVE_LIBSYSTEMD
	struct sockaddr_un bound;
	socklen_t len = sizeof(bound);
	int fd, n = fdstore_take(srv, &fd); /* segment fds from the store go aside */

	if (n > 1) {
		log_err("systemd passed %d sockets; shmbufd uses exactly one", n);
		return -EINVAL;
	}
	if (n <= 0)
		return n;
	if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
		log_err("the socket passed by systemd is not a listening AF_UNIX SOCK_SEQPACKET socket");
		return -EINVAL;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	if (getsockname(fd, (struct sockaddr *)&bound, &len) == 0 && len > sizeof(sa_family_t))
		snprintf(srv->socket_path, sizeof(srv->socket_path), "%s", bound.sun_path);
	srv->listen_fd = fd;
	srv->is_socket_ours = false;
	log_info("using the socket passed by systemd (%s)", srv->socket_path);
	return 1;
#else
	(void)srv;
	return 0;
#endif
}

int listen_open(struct server *srv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, r = systemd_socket(srv);

	if (r != 0)
		return r < 0 ? r : 0;
	if (strlen(srv->socket_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, srv->socket_path, strlen(srv->socket_path) + 1);
	r = mkdir_parents(srv->socket_path, geteuid() == 0 ? 0755 : 0700);
	if (r < 0) {
		log_err("cannot create the directory for %s: %s", srv->socket_path, strerror(-r));
		return r;
	}
	r = socket_dir_is_safe(srv->socket_path);
	if (r < 0)
		return r;
	r = clear_stale_socket(&addr);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(addr.sun_path, srv->cfg.socket_mode) < 0 ||
	    listen(fd, 128) < 0) {
		r = -errno;
		log_err("cannot listen on %s: %s", srv->socket_path, strerror(-r));
		close(fd);
		unlink(addr.sun_path);
		return r;
	}
	srv->listen_fd = fd;
	srv->is_socket_ours = true;
	return 0;
}
