/* SPDX-License-Identifier: MIT */
/* pyshmbuf.h: what the shmbuf extension module's files share: the Client and View objects
 * and the helpers that turn libshmbuf's negative errnos into Python exceptions. */
#ifndef PYSHMBUF_H
#define PYSHMBUF_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmbuf.h"

typedef struct ViewObject ViewObject;

/* A connection to shmbufd. Owns c. Views hold a strong reference to their client, so a
 * client outlives every view; the client knows its held views through a borrowed list
 * (each view unlinks itself when released or freed). All fields are guarded by the GIL. */
typedef struct {
	PyObject_HEAD
	shmbuf_client *c;      /* owned; NULL once disconnected */
	pid_t pid;             /* the process that connected: a forked child's calls are refused */
	int inflight;          /* calls running with the GIL released */
	bool closing;          /* close() came while calls were in flight: the last one disconnects */
	PyObject *socket_path; /* as given to the constructor (str, bytes or None) */
	ViewObject *views;     /* held views, borrowed */
} ClientObject;

enum view_state {
	VIEW_HELD,      /* leased and mapped */
	VIEW_RELEASING, /* release() running with the GIL released */
	VIEW_RELEASED,  /* lease ended (release, client closed): no buffer any more */
};

/* A leased, mapped range of a segment. Owns its lease (ends it on release or when freed). */
struct ViewObject {
	PyObject_HEAD
	ClientObject *client; /* strong */
	PyObject *name;       /* the segment's name, a str */
	shmbuf_view v;        /* filled by shmbuf_acquire(), handed back to shmbuf_release() */
	uint64_t offset, lease_id, generation; /* copies of v's, readable after release (which zeroes v) */
	Py_ssize_t len;
	bool readonly;
	Py_ssize_t exports; /* buffers handed out by bf_getbuffer and not yet released */
	enum view_state state;
	ViewObject *prev, *next; /* in client->views while held */
};

extern PyTypeObject ClientType;
extern PyTypeObject ViewType;
extern PyTypeObject StatInfoType, SegmentInfoType, LeaseInfoType, ClientInfoType, ServerStatusType;

/* Raises the exception for err (a negative errno from libshmbuf) with shmbuf_strerror()'s
 * words and detail (the daemon's, may be "" or NULL); filename (may be NULL) names the
 * segment or socket. Returns NULL. */
PyObject *pyshmbuf_raise(int err, const char *detail, PyObject *filename);

/* Raises ConnectionResetError(ECONNRESET, message) for a call made on a client inherited
 * across fork(). Returns NULL. */
PyObject *pyshmbuf_raise_forked(const char *message);

/* Argument converters for PyArg_Parse*: "O&". */
int pyshmbuf_u64_converter(PyObject *o, void *out);     /* uint64_t; ValueError when negative */
int pyshmbuf_timeout_converter(PyObject *o, void *out); /* int ms: None -1, 0, seconds rounded up */

/* The View type's side of a client's lifecycle (view.c). */
ViewObject *view_new(ClientObject *client, PyObject *name, const shmbuf_view *v);
/* The client is disconnecting: every held view's lease ends with it. */
void view_detach_all(ClientObject *client);
/* Buffers exported by the client's views, summed. */
Py_ssize_t view_exports_of(const ClientObject *client);

/* Calls with the GIL released: enter returns the handle, or NULL with ValueError when the
 * client is closed; leave ends the call and finishes a close() that came meanwhile. */
shmbuf_client *client_enter(ClientObject *self);
void client_leave(ClientObject *self);

/* Module-level setup of the info struct sequences (module.c). */
int pyshmbuf_init_info_types(void);

#endif
