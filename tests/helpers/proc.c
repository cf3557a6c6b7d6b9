/* SPDX-License-Identifier: MIT */
/* proc.c: a program as a test's child process, its stdin, stdout and stderr on pipes. */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

struct exec_job {
	const char *const *argv;
	const char *const *env;
	int in, out, err;
};

static int exec_job_run(void *arg)
{
	struct exec_job *j = arg;
	sigset_t none;

	if (dup2(j->in, 0) < 0 || dup2(j->out, 1) < 0 || dup2(j->err, 2) < 0)
		return 126;
	close_range(3, ~0u, 0);
	/* Dispositions and the signal mask survive exec: give the program a shell's defaults. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (const char *const *e = j->env; e && *e; e++) {
		if (strchr(*e, '='))
			putenv((char *)*e);
		else
			unsetenv(*e);
	}
	execv(j->argv[0], (char *const *)j->argv);
	fprintf(stderr, "cannot run %s: %s\n", j->argv[0], strerror(errno));
	return 127;
}

static void buf_append(struct proc_buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		cr_assert_not_null(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void fd_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void proc_spawn(struct proc *p, const char *const *argv, const char *const *env, const void *input,
		size_t input_len)
{
	struct exec_job j = { .argv = argv, .env = env };
	int pin[2], pout[2], perr[2];

	*p = (struct proc){ .input = input, .input_len = input_len, .in = -1, .out = -1, .err = -1 };
	snprintf(p->name, sizeof(p->name), "%s", strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0]);
	cr_assert(pipe2(pin, O_CLOEXEC) == 0 && pipe2(pout, O_CLOEXEC) == 0 && pipe2(perr, O_CLOEXEC) == 0);
	j.in = pin[0];
	j.out = pout[1];
	j.err = perr[1];
	p->pid = child_spawn(exec_job_run, &j);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	p->in = pin[1];
	p->out = pout[0];
	p->err = perr[0];
	fcntl(p->in, F_SETFL, O_NONBLOCK);
	fcntl(p->out, F_SETFL, O_NONBLOCK);
	fcntl(p->err, F_SETFL, O_NONBLOCK);
	if (!input)
		fd_close(&p->in);
	buf_append(&p->o, "", 0);
	buf_append(&p->e, "", 0);
}

void proc_pump(struct proc *p, int timeout_ms)
{
	struct pollfd pfd[3] = { { .fd = p->in, .events = POLLOUT }, { .fd = p->out, .events = POLLIN },
				 { .fd = p->err, .events = POLLIN } };
	char chunk[65536];

	if (poll(pfd, 3, timeout_ms) <= 0)
		return;
	if (p->in >= 0 && pfd[0].revents) {
		ssize_t n = write(p->in, p->input + p->input_off, p->input_len - p->input_off);

		if (n > 0)
			p->input_off += (size_t)n;
		if (n < 0 && errno != EAGAIN)
			fd_close(&p->in);
		if (p->input_off == p->input_len)
			fd_close(&p->in);
	}
	for (int i = 1; i < 3; i++) {
		int *fd = i == 1 ? &p->out : &p->err;
		ssize_t n;

		if (*fd < 0 || !pfd[i].revents)
			continue;
		n = read(*fd, chunk, sizeof(chunk));
		if (n > 0)
			buf_append(i == 1 ? &p->o : &p->e, chunk, (size_t)n);
		else if (n == 0 || errno != EAGAIN)
			fd_close(fd);
	}
}

bool proc_wait_output(struct proc *p, const char *needle, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	while (!strstr(p->o.p, needle)) {
		int64_t left = end - now_ms();

		if (left <= 0 || (p->out < 0 && p->err < 0))
			return false;
		proc_pump(p, (int)left);
	}
	return true;
}

int proc_finish(struct proc *p)
{
	int64_t end = now_ms() + PROC_TIMEOUT_MS;

	while ((p->out >= 0 || p->err >= 0) && now_ms() < end)
		proc_pump(p, (int)(end - now_ms()));
	fd_close(&p->in);
	fd_close(&p->out);
	fd_close(&p->err);
	p->status = child_wait(p->pid, (int)(end - now_ms() > 0 ? end - now_ms() : 0));
	if (p->status == -ETIMEDOUT) {
		kill(p->pid, SIGKILL);
		cr_assert_fail("%s (pid %d) still runs after %d ms; stdout:\n%s\nstderr:\n%s", p->name, (int)p->pid,
			       PROC_TIMEOUT_MS, p->o.p, p->e.p);
	}
	cr_assert_geq(p->status, 0, "waiting for %s: %s", p->name, strerror(-p->status));
	return WIFEXITED(p->status) ? WEXITSTATUS(p->status) : 128 + WTERMSIG(p->status);
}

void proc_free(struct proc *p)
{
	fd_close(&p->in);
	fd_close(&p->out);
	fd_close(&p->err);
	free(p->o.p);
	free(p->e.p);
	p->o.p = p->e.p = NULL;
}
