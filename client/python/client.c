/* SPDX-License-Identifier: MIT */
/* client.c: shmbuf.Client, one connection to shmbufd: segments, acquire, introspection.
 * Every call that talks to the daemon runs with the GIL released. */
#include "pyshmbuf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- lifecycle ---- */

static void client_disconnect(ClientObject *self)
{
	shmbuf_client *c = self->c;

	/* The daemon ends every lease of the connection and the library unmaps the views. */
	view_detach_all(self);
	self->c = NULL;
	self->closing = false;
	shmbuf_disconnect(c);
}

shmbuf_client *client_enter(ClientObject *self)
{
	if (!self->c || self->closing) {
		PyErr_SetString(PyExc_ValueError, "operation on a closed shmbuf.Client");
		return NULL;
	}
	self->inflight++;
	return self->c;
}

void client_leave(ClientObject *self)
{
	if (--self->inflight == 0 && self->closing)
		client_disconnect(self);
}

/* The exception for a failed call; an inherited client after fork() gets its own words. */
static PyObject *client_raise(ClientObject *self, int err, PyObject *name)
{
	if (err == -ECONNRESET && getpid() != self->pid) {
		return pyshmbuf_raise_forked("this shmbuf.Client was inherited across fork(): connect a new one");
	}
	return pyshmbuf_raise(err, shmbuf_last_error_detail(), name);
}

static PyObject *client_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	ClientObject *self = (ClientObject *)type->tp_alloc(type, 0);

	if (!self)
		return NULL;
	self->socket_path = Py_NewRef(Py_None);
	return (PyObject *)self;
}

/* The exception for a failed connect. No daemon there (a missing or a dead socket):
 * ConnectionRefusedError naming the socket tried, as the message and as .filename (for
 * socket_path None, the default, and the system service's socket when that was tried too). */
static void connect_raise(int r, PyObject *path)
{
	char def[4096], words[1024];
	PyObject *tried = NULL, *msg, *exc;
	const char *env = getenv("SHMBUF_SOCKET");
	bool fallback = false;

	snprintf(words, sizeof(words), "%s", shmbuf_last_error_detail());
	if (path != Py_None) {
		tried = Py_NewRef(path);
	} else if (shmbuf_default_socket_path(def, sizeof(def)) == 0) {
		tried = PyUnicode_DecodeFSDefault(def);
		if (!tried)
			return;
		/* shmbuf_connect(NULL) tries the system socket after a user's default. */
		fallback = !(env && *env) && strcmp(def, SHMBUF_SYSTEM_SOCKET) != 0;
	}
	if (r != -ENOENT && r != -ECONNREFUSED) {
		pyshmbuf_raise(r, words, tried);
		Py_XDECREF(tried);
		return;
	}
	/* OSError's str() ends with the filename: "[Errno 2] no shmbufd listening: '/path'". */
	if (fallback)
		msg = PyUnicode_FromFormat("no shmbufd listening (the system socket %s was tried too)%s%s",
					   SHMBUF_SYSTEM_SOCKET, *words ? ": " : "", words);
	else if (tried)
		msg = PyUnicode_FromFormat("no shmbufd listening%s%s", *words ? ": " : "", words);
	else
		msg = PyUnicode_FromFormat("no shmbufd listening at the default socket%s%s", *words ? ": " : "", words);
	if (!msg) {
		Py_XDECREF(tried);
		return;
	}
	if (tried)
		exc = PyObject_CallFunction(PyExc_ConnectionRefusedError, "iOO", -r, msg, tried);
	else
		exc = PyObject_CallFunction(PyExc_ConnectionRefusedError, "iO", -r, msg);
	Py_DECREF(msg);
	Py_XDECREF(tried);
	if (exc) {
		PyErr_SetObject(PyExc_ConnectionRefusedError, exc);
		Py_DECREF(exc);
	}
}

static int client_init(ClientObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "socket_path", NULL };
	PyObject *path = Py_None, *bytes = NULL;
	shmbuf_client *c = NULL;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:Client", kwlist, &path))
		return -1;
	if (self->c || self->inflight) {
		PyErr_SetString(PyExc_RuntimeError, "shmbuf.Client is already connected");
		return -1;
	}
	if (path != Py_None && !PyUnicode_FSConverter(path, &bytes))
		return -1;
	Py_BEGIN_ALLOW_THREADS
	r = shmbuf_connect(bytes ? PyBytes_AS_STRING(bytes) : NULL, &c);
	Py_END_ALLOW_THREADS
	Py_XDECREF(bytes);
	if (r < 0) {
		connect_raise(r, path);
		return -1;
	}
	self->c = c;
	self->pid = getpid();
	Py_SETREF(self->socket_path, Py_NewRef(path));
	return 0;
}

static void client_dealloc(ClientObject *self)
{
	/* No view can be left: each holds a reference to its client. */
	if (self->c)
		client_disconnect(self);
	Py_XDECREF(self->socket_path);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *client_close(ClientObject *self, PyObject *unused)
{
	Py_ssize_t exports;

	if (!self->c || self->closing)
		Py_RETURN_NONE;
	exports = view_exports_of(self);
	if (exports > 0) {
		/* Disconnecting unmaps every view: memory that a memoryview or array still uses. */
		PyErr_Format(PyExc_BufferError,
			     "cannot close a shmbuf.Client while its views export %zd buffer(s) "
			     "(memoryviews or arrays over them are still alive)",
			     exports);
		return NULL;
	}
	if (self->inflight > 0) {
		/* Calls waiting in other threads still use the handle: the last one disconnects. */
		view_detach_all(self);
		self->closing = true;
		Py_RETURN_NONE;
	}
	client_disconnect(self);
	Py_RETURN_NONE;
}

static PyObject *client_enter_ctx(ClientObject *self, PyObject *unused)
{
	if (!self->c || self->closing) {
		PyErr_SetString(PyExc_ValueError, "operation on a closed shmbuf.Client");
		return NULL;
	}
	return Py_NewRef(self);
}

static PyObject *client_exit_ctx(ClientObject *self, PyObject *args)
{
	PyObject *r = client_close(self, NULL);

	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_RETURN_FALSE;
}

/* ---- segments ---- */

/* Parses one name argument into its UTF-8; embedded NULs are refused (ValueError). */
static const char *name_arg(PyObject *name)
{
	Py_ssize_t n;
	const char *s = PyUnicode_AsUTF8AndSize(name, &n);

	if (s && (size_t)n != strlen(s)) {
		PyErr_SetString(PyExc_ValueError, "segment name contains a NUL character");
		return NULL;
	}
	return s;
}

static PyObject *client_create(ClientObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "name", "size", "mode", NULL };
	PyObject *name;
	const char *s;
	uint64_t size, mode = 0600;
	shmbuf_client *c;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "UO&|O&:create", kwlist, &name, pyshmbuf_u64_converter, &size,
					 pyshmbuf_u64_converter, &mode) ||
	    !(s = name_arg(name)))
		return NULL;
	if (mode > UINT_MAX) { /* anything else above 0777 is the library's to refuse */
		PyErr_Format(PyExc_ValueError, "mode %#llo: permission bits are at most 0o777",
			     (unsigned long long)mode);
		return NULL;
	}
	if (!(c = client_enter(self)))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	r = shmbuf_create(c, s, size, (unsigned)mode);
	Py_END_ALLOW_THREADS
	if (r < 0)
		client_raise(self, r, name);
	client_leave(self);
	if (r < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *client_destroy(ClientObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "name", NULL };
	PyObject *name;
	const char *s;
	shmbuf_client *c;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "U:destroy", kwlist, &name) || !(s = name_arg(name)))
		return NULL;
	if (!(c = client_enter(self)))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	r = shmbuf_destroy(c, s);
	Py_END_ALLOW_THREADS
	if (r < 0)
		client_raise(self, r, name);
	client_leave(self);
	if (r < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *client_resize(ClientObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "name", "size", NULL };
	PyObject *name;
	const char *s;
	uint64_t size;
	shmbuf_client *c;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "UO&:resize", kwlist, &name, pyshmbuf_u64_converter, &size) ||
	    !(s = name_arg(name)))
		return NULL;
	if (!(c = client_enter(self)))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	r = shmbuf_resize(c, s, size);
	Py_END_ALLOW_THREADS
	if (r < 0)
		client_raise(self, r, name);
	client_leave(self);
	if (r < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *client_stat(ClientObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "name", NULL };
	PyObject *name, *st;
	const char *s;
	shmbuf_stat_info info;
	shmbuf_client *c;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "U:stat", kwlist, &name) || !(s = name_arg(name)))
		return NULL;
	if (!(c = client_enter(self)))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	r = shmbuf_stat(c, s, &info, sizeof(info));
	Py_END_ALLOW_THREADS
	if (r < 0)
		client_raise(self, r, name);
	client_leave(self);
	if (r < 0)
		return NULL;
	st = PyStructSequence_New(&StatInfoType);
	if (!st)
		return NULL;
	PyStructSequence_SET_ITEM(st, 0, PyLong_FromUnsignedLongLong(info.size));
	PyStructSequence_SET_ITEM(st, 1, PyLong_FromUnsignedLong(info.mode));
	PyStructSequence_SET_ITEM(st, 2, PyLong_FromUnsignedLong(info.uid));
	PyStructSequence_SET_ITEM(st, 3, PyLong_FromUnsignedLong(info.gid));
	PyStructSequence_SET_ITEM(st, 4, PyLong_FromUnsignedLong(info.read_leases));
	PyStructSequence_SET_ITEM(st, 5, PyLong_FromUnsignedLong(info.write_leases));
	PyStructSequence_SET_ITEM(st, 6, PyLong_FromUnsignedLong(info.waiters));
	PyStructSequence_SET_ITEM(st, 7, PyLong_FromUnsignedLongLong(info.generation));
	if (PyErr_Occurred())
		Py_CLEAR(st);
	return st;
}

/* ---- leases ---- */

/* acquire() and acquire_newer(): newer with `after` (a required keyword) waits for news. */
static PyObject *acquire_common(ClientObject *self, PyObject *args, PyObject *kwds, bool newer)
{
	static char *kwlist[] = { "name", "offset", "length", "write", "timeout", NULL };
	static char *kwlist_newer[] = { "name", "offset", "length", "after", "write", "timeout", NULL };
	const char *what = newer ? "acquire_newer()" : "acquire()";
	PyObject *name, *after_o = NULL;
	const char *s;
	uint64_t offset = 0, length = 0, after = 0;
	int write = 0, timeout_ms = -1, r, ok;
	shmbuf_view v;
	shmbuf_client *c;
	ViewObject *view;

	if (newer)
		ok = PyArg_ParseTupleAndKeywords(args, kwds, "U|O&O&$OpO&:acquire_newer", kwlist_newer, &name,
						 pyshmbuf_u64_converter, &offset, pyshmbuf_u64_converter, &length,
						 &after_o, &write, pyshmbuf_timeout_converter, &timeout_ms);
	else
		ok = PyArg_ParseTupleAndKeywords(args, kwds, "U|O&O&$pO&:acquire", kwlist, &name,
						 pyshmbuf_u64_converter, &offset, pyshmbuf_u64_converter, &length,
						 &write, pyshmbuf_timeout_converter, &timeout_ms);
	if (!ok || !(s = name_arg(name)))
		return NULL;
	if (newer) {
		if (!after_o) {
			PyErr_SetString(PyExc_TypeError,
					"acquire_newer() missing required keyword-only argument: 'after' "
					"(the last generation seen, 0 for none)");
			return NULL;
		}
		if (!pyshmbuf_u64_converter(after_o, &after))
			return NULL;
	}
	if (!(c = client_enter(self)))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	if (newer)
		r = shmbuf_acquire_newer(c, s, offset, length, write ? SHMBUF_WRITE : SHMBUF_READ, after, timeout_ms,
					 &v, sizeof(v));
	else
		r = shmbuf_acquire(c, s, offset, length, write ? SHMBUF_WRITE : SHMBUF_READ, timeout_ms, &v,
				   sizeof(v));
	Py_END_ALLOW_THREADS
	if (r < 0) {
		client_raise(self, r, name);
		client_leave(self);
		return NULL;
	}
	if (self->closing || v.len > PY_SSIZE_T_MAX) {
		/* close() came while we waited (or a range Python cannot index): give it back. */
		shmbuf_release(c, &v, sizeof(v));
		client_leave(self);
		if (self->closing || !self->c)
			PyErr_Format(PyExc_ValueError, "shmbuf.Client closed while %s waited", what);
		else
			PyErr_SetString(PyExc_OverflowError, "view too large for this Python");
		return NULL;
	}
	view = view_new(self, name, &v);
	if (!view)
		shmbuf_release(c, &v, sizeof(v));
	client_leave(self);
	return (PyObject *)view;
}

static PyObject *client_acquire(ClientObject *self, PyObject *args, PyObject *kwds)
{
	return acquire_common(self, args, kwds, false);
}

static PyObject *client_acquire_newer(ClientObject *self, PyObject *args, PyObject *kwds)
{
	return acquire_common(self, args, kwds, true);
}

/* ---- introspection ---- */

/* A str from a fixed-size, NUL-terminated (or full) char array. */
static PyObject *str_field(const char *s, size_t cap)
{
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strnlen(s, cap), "replace");
}

static PyObject *client_status(ClientObject *self, PyObject *unused)
{
	shmbuf_server_status st;
	shmbuf_client *c;
	PyObject *o;
	int r, i = 0;

	if (!(c = client_enter(self)))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	r = shmbuf_server_status_get(c, &st, sizeof(st));
	Py_END_ALLOW_THREADS
	if (r < 0)
		client_raise(self, r, NULL);
	client_leave(self);
	if (r < 0 || !(o = PyStructSequence_New(&ServerStatusType)))
		return NULL;
	PyStructSequence_SET_ITEM(o, i++, str_field(st.version, sizeof(st.version)));
	PyStructSequence_SET_ITEM(o, i++, str_field(st.socket_path, sizeof(st.socket_path)));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromLong(st.pid));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(st.started_ns));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(st.uptime_ns));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(st.bytes));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(st.max_bytes));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(st.segments));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(st.max_segments));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(st.clients));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(st.max_clients));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(st.read_leases));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(st.write_leases));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(st.waiters));
	if (PyErr_Occurred())
		Py_CLEAR(o);
	return o;
}

static PyObject *segment_record(const shmbuf_segment_info *s)
{
	PyObject *o = PyStructSequence_New(&SegmentInfoType);
	int i = 0;

	if (!o)
		return NULL;
	PyStructSequence_SET_ITEM(o, i++, str_field(s->name, sizeof(s->name)));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(s->id));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(s->size));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(s->created_ns));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(s->mode));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(s->uid));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(s->gid));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromLong(s->pid));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(s->read_leases));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(s->write_leases));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(s->waiters));
	PyStructSequence_SET_ITEM(o, i++, PyBool_FromLong(s->flags & SHMBUF_SEGMENT_DESTROYED));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(s->flags));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(s->generation));
	return o;
}

static PyObject *lease_record(const shmbuf_lease_info *l)
{
	PyObject *o = PyStructSequence_New(&LeaseInfoType);
	int i = 0;

	if (!o)
		return NULL;
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(l->lease_id));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(l->client_id));
	PyStructSequence_SET_ITEM(o, i++, str_field(l->segment, sizeof(l->segment)));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(l->offset));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(l->length));
	PyStructSequence_SET_ITEM(o, i++, PyBool_FromLong(l->flags & SHMBUF_LEASE_WRITE));
	PyStructSequence_SET_ITEM(o, i++, PyBool_FromLong(l->flags & SHMBUF_LEASE_WAITING));
	PyStructSequence_SET_ITEM(o, i++, PyBool_FromLong(l->flags & SHMBUF_LEASE_SEGMENT_DESTROYED));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(l->age_ns));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromLong(l->pid));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(l->uid));
	PyStructSequence_SET_ITEM(o, i++, str_field(l->comm, sizeof(l->comm)));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(l->flags));
	return o;
}

static PyObject *client_record(const shmbuf_client_info *ci)
{
	PyObject *o = PyStructSequence_New(&ClientInfoType);
	int i = 0;

	if (!o)
		return NULL;
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(ci->client_id));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromLong(ci->pid));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(ci->uid));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(ci->gid));
	PyStructSequence_SET_ITEM(o, i++, str_field(ci->comm, sizeof(ci->comm)));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(ci->leases));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(ci->waiting));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLongLong(ci->age_ns));
	PyStructSequence_SET_ITEM(o, i++, PyBool_FromLong(ci->flags & SHMBUF_CLIENT_SELF));
	PyStructSequence_SET_ITEM(o, i++, PyBool_FromLong(ci->flags & SHMBUF_CLIENT_SUBSCRIBED));
	PyStructSequence_SET_ITEM(o, i++, PyLong_FromUnsignedLong(ci->flags));
	return o;
}

/* A list of records from a listing of count entries `stride` bytes apart; frees the listing. */
static PyObject *records(void *entries, size_t count, size_t stride, PyObject *(*record)(const void *))
{
	PyObject *list = PyList_New((Py_ssize_t)count);

	for (size_t i = 0; list && i < count; i++) {
		PyObject *o = record((const char *)entries + i * stride);

		if (!o) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, o);
	}
	shmbuf_free(entries);
	return list;
}

static PyObject *segment_record_v(const void *p)
{
	return segment_record(p);
}

static PyObject *lease_record_v(const void *p)
{
	return lease_record(p);
}

static PyObject *client_record_v(const void *p)
{
	return client_record(p);
}

static PyObject *client_list_segments(ClientObject *self, PyObject *unused)
{
	shmbuf_segment_info *list = NULL;
	size_t count = 0;
	shmbuf_client *c;
	int r;

	if (!(c = client_enter(self)))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	r = shmbuf_list_segments(c, &list, &count, sizeof(*list));
	Py_END_ALLOW_THREADS
	if (r < 0)
		client_raise(self, r, NULL);
	client_leave(self);
	if (r < 0)
		return NULL;
	return records(list, count, sizeof(*list), segment_record_v);
}

static PyObject *client_list_leases(ClientObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "name", NULL };
	PyObject *name = Py_None;
	const char *s = NULL;
	shmbuf_lease_info *list = NULL;
	size_t count = 0;
	shmbuf_client *c;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:list_leases", kwlist, &name))
		return NULL;
	if (name != Py_None) {
		if (!PyUnicode_Check(name)) {
			PyErr_Format(PyExc_TypeError, "list_leases() name must be str or None, not %.100s",
				     Py_TYPE(name)->tp_name);
			return NULL;
		}
		if (!(s = name_arg(name)))
			return NULL;
	}
	if (!(c = client_enter(self)))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	r = shmbuf_list_leases(c, s, &list, &count, sizeof(*list));
	Py_END_ALLOW_THREADS
	if (r < 0)
		client_raise(self, r, s ? name : NULL);
	client_leave(self);
	if (r < 0)
		return NULL;
	return records(list, count, sizeof(*list), lease_record_v);
}

static PyObject *client_list_clients(ClientObject *self, PyObject *unused)
{
	shmbuf_client_info *list = NULL;
	size_t count = 0;
	shmbuf_client *c;
	int r;

	if (!(c = client_enter(self)))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	r = shmbuf_list_clients(c, &list, &count, sizeof(*list));
	Py_END_ALLOW_THREADS
	if (r < 0)
		client_raise(self, r, NULL);
	client_leave(self);
	if (r < 0)
		return NULL;
	return records(list, count, sizeof(*list), client_record_v);
}

/* ---- attributes ---- */

static PyObject *client_get_closed(ClientObject *self, void *closure)
{
	return PyBool_FromLong(!self->c || self->closing);
}

static PyObject *client_get_socket_path(ClientObject *self, void *closure)
{
	return Py_NewRef(self->socket_path);
}

static PyObject *client_repr(ClientObject *self)
{
	if (!self->c || self->closing)
		return PyUnicode_FromFormat("<shmbuf.Client closed socket_path=%R>", self->socket_path);
	return PyUnicode_FromFormat("<shmbuf.Client socket_path=%R>", self->socket_path);
}

static PyMethodDef client_methods[] = {
	{ "close", (PyCFunction)client_close, METH_NOARGS,
	  "close($self, /)\n--\n\nDisconnect. The daemon ends every lease this client still holds and their views\n"
	  "are released (buffer access then raises ValueError). Raises BufferError, and stays\n"
	  "connected, while a memoryview or array still uses one of its views. Calls waiting in\n"
	  "other threads finish first (the connection closes when the last returns). Idempotent." },
	{ "__enter__", (PyCFunction)client_enter_ctx, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)client_exit_ctx, METH_VARARGS, "close() on leaving the with block." },
	{ "create", (PyCFunction)(void (*)(void))client_create, METH_VARARGS | METH_KEYWORDS,
	  "create($self, /, name, size, mode=0o600)\n--\n\nCreate a segment of size bytes (> 0); mode: permission bits,\n"
	  "as for files. FileExistsError when the name is taken, ValueError for a bad name,\n"
	  "size or mode, OSError(ENOSPC / EDQUOT) past the daemon's limits." },
	{ "destroy", (PyCFunction)(void (*)(void))client_destroy, METH_VARARGS | METH_KEYWORDS,
	  "destroy($self, /, name)\n--\n\nRemove the name at once; the memory goes with the last lease. Waiting\n"
	  "acquires fail with FileNotFoundError. FileNotFoundError when there is no such segment." },
	{ "resize", (PyCFunction)(void (*)(void))client_resize, METH_VARARGS | METH_KEYWORDS,
	  "resize($self, /, name, size)\n--\n\nChange a segment's size. Growing always works (within limits); shrinking\n"
	  "below a leased byte raises BlockingIOError. Existing views stay valid." },
	{ "stat", (PyCFunction)(void (*)(void))client_stat, METH_VARARGS | METH_KEYWORDS,
	  "stat($self, /, name)\n--\n\nA StatInfo: the size, mode, owner and lease counts of a segment." },
	{ "acquire", (PyCFunction)(void (*)(void))client_acquire, METH_VARARGS | METH_KEYWORDS,
	  "acquire($self, /, name, offset=0, length=0, *, write=False, timeout=None)\n--\n\n"
	  "Lease and map [offset, offset+length) of a segment (length 0: to the end). A read\n"
	  "lease (the default) is shared and its buffer read-only; write=True is exclusive over\n"
	  "its range. timeout: None waits as long as it takes, 0 raises BlockingIOError at\n"
	  "once on a conflict, seconds otherwise (TimeoutError). FileNotFoundError no such\n"
	  "segment, ValueError for a range outside it. The GIL is released while waiting." },
	{ "acquire_newer", (PyCFunction)(void (*)(void))client_acquire_newer, METH_VARARGS | METH_KEYWORDS,
	  "acquire_newer($self, /, name, offset=0, length=0, *, after, write=False, timeout=None)\n--\n\n"
	  "Wait for news, then lease and map: as acquire(), but granted only once a write\n"
	  "lease overlapping the range has ended after generation `after` (the view's\n"
	  "generation is then above it). A consumer loops\n"
	  "    with c.acquire_newer(name, after=last) as v: last = v.generation; ...\n"
	  "and sees each generation at most once, in increasing order, missing none that\n"
	  "ended while it was not waiting (after=0: any write so far). While the range has\n"
	  "no news the wait blocks no writer. timeout: None waits as long as it takes, 0\n"
	  "raises BlockingIOError at once when there is no news yet (or the range is busy),\n"
	  "seconds otherwise (TimeoutError). FileNotFoundError no such segment (or it was\n"
	  "destroyed while waiting). The GIL is released while waiting." },
	{ "status", (PyCFunction)client_status, METH_NOARGS, "status($self, /)\n--\n\nDaemon-wide figures, a ServerStatus." },
	{ "list_segments", (PyCFunction)client_list_segments, METH_NOARGS,
	  "list_segments($self, /)\n--\n\nA list of SegmentInfo: every segment (destroyed ones still leased included)." },
	{ "list_leases", (PyCFunction)(void (*)(void))client_list_leases, METH_VARARGS | METH_KEYWORDS,
	  "list_leases($self, /, name=None)\n--\n\nA list of LeaseInfo: every lease and waiter, or only one segment's\n"
	  "(FileNotFoundError if there is no such segment)." },
	{ "list_clients", (PyCFunction)client_list_clients, METH_NOARGS,
	  "list_clients($self, /)\n--\n\nA list of ClientInfo: every connected client." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef client_getset[] = {
	{ "closed", (getter)client_get_closed, NULL, "True once close() was called.", NULL },
	{ "socket_path", (getter)client_get_socket_path, NULL,
	  "The socket_path given to the constructor (None: the default).", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject ClientType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmbuf.Client",
	.tp_basicsize = sizeof(ClientObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Client(socket_path=None)\n--\n\n"
		  "A connection to shmbufd. socket_path None means $SHMBUF_SOCKET when set, else the\n"
		  "default (as shmbuf_connect(NULL) in C). ConnectionRefusedError when no daemon\n"
		  "listens there, PermissionError when the socket refuses us; both name the socket\n"
		  "tried (.filename, the default's path for None). A context manager:\n"
		  "leaving the with block closes it. Thread-safe; after fork() the child's inherited\n"
		  "client refuses every call (ConnectionResetError): connect a new one there.",
	.tp_new = client_new,
	.tp_init = (initproc)client_init,
	.tp_dealloc = (destructor)client_dealloc,
	.tp_repr = (reprfunc)client_repr,
	.tp_methods = client_methods,
	.tp_getset = client_getset,
};
